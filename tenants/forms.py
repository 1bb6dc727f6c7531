"""The tenant form of the admin: secrets are write-only.

A secret's input never shows the stored value. Leaving it blank keeps what is
stored; typing replaces it; ticking "clear" empties it. The help text says
only whether a value is set.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.utils.translation import gettext_lazy as _

from tenants.models import SECRET_FIELDS, Tenant, field_label
from tenants.validators import time_zone_names

# Where each stored secret is sent. When that changes, the secret is cleared unless a
# new one is typed in the same save: a stored secret never reaches a host it was not
# entered for (an admin who may edit the URL need not be one who knows the secret).
SECRET_DESTINATIONS = {
    "portal": (("portal_url",), ("portal_key", "portal_secret")),
    "webapi": (("webapi_url",), ("webapi_password",)),
    "sage_db": (("sage_db_engine", "sage_db_host", "sage_db_port", "sage_db_extra_params"), ("sage_db_password",)),
}
# ODBC keywords that name the server inside the extra parameters (Microsoft's connection-string
# keywords, learn.microsoft.com "DSN and Connection String Keywords"; FreeTDS's SERVERNAME).
SERVER_KEYWORDS = ("server", "address", "addr", "servername", "dsn")


def clear_field_name(secret: str) -> str:
    return f"{secret}_clear"


def _secret_input() -> forms.CharField:
    return forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


def _clear_box() -> forms.BooleanField:
    return forms.BooleanField(required=False)


class TenantAdminForm(forms.ModelForm):
    # Declared here (not only in __init__) so the admin's fieldsets may name
    # the "clear" boxes; one pair per tenants.models.SECRET_FIELDS entry.
    sage_db_password = _secret_input()
    sage_db_password_clear = _clear_box()
    webapi_password = _secret_input()
    webapi_password_clear = _clear_box()
    portal_key = _secret_input()
    portal_key_clear = _clear_box()
    portal_secret = _secret_input()
    portal_secret_clear = _clear_box()

    class Meta:
        model = Tenant
        fields = "__all__"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.secrets_cleared: list[str] = []
        for secret in SECRET_FIELDS:
            self._make_write_only(secret)
        if "time_zone" in self.fields:
            # Picked from the real zone list, never typed (a typo breaks every page that shows a time).
            self.fields["time_zone"].widget = forms.Select(choices=[(name, name) for name in time_zone_names()])

    def _make_write_only(self, secret: str) -> None:
        if secret not in self.fields:
            return
        is_set = bool(self.instance.pk and getattr(self.instance, secret))
        verbose_name = field_label(secret)
        self.fields[secret].label = verbose_name[:1].upper() + verbose_name[1:]
        self.fields[secret].help_text = _("Currently set. Leave blank to keep it.") if is_set else _("Not set.")
        self.fields[clear_field_name(secret)].label = _("Clear %(field)s") % {"field": verbose_name}

    def clean(self) -> dict:
        super().clean()
        cleaned = self.cleaned_data
        moved = self._secrets_sent_elsewhere(cleaned)
        for secret in SECRET_FIELDS:
            if secret not in self.fields:
                continue
            if cleaned.get(clear_field_name(secret)):
                if cleaned.get(secret):
                    self.add_error(secret, _("Either type a new value or tick “clear”, not both."))
                cleaned[secret] = ""
            elif not cleaned.get(secret) and secret in moved:
                cleaned[secret] = ""
                if getattr(self.instance, secret):
                    self.secrets_cleared.append(secret)
            elif not cleaned.get(secret):
                # Blank means "keep": the input never showed the stored value.
                cleaned[secret] = getattr(self.instance, secret) if self.instance.pk else ""
        return cleaned

    def _secrets_sent_elsewhere(self, cleaned: dict) -> set[str]:
        """The stored secrets whose destination this save changes."""
        if not self.instance.pk:
            return set()
        moved: set[str] = set()
        for fields, secrets in SECRET_DESTINATIONS.values():
            if any(name not in cleaned for name in fields):
                continue  # a field that did not validate: the form is shown again anyway
            before = [_destination(name, getattr(self.instance, name)) for name in fields]
            after = [_destination(name, cleaned[name]) for name in fields]
            if before != after:
                moved.update(secrets)
        return moved


def _destination(name: str, value) -> object:
    """What, in a field's value, decides where a secret goes."""
    if name.endswith("_url"):
        parts = urlsplit(value or "")
        try:
            port = parts.port
        except ValueError:
            port = None
        default = {"http": 80, "https": 443}.get(parts.scheme.lower())
        return (parts.scheme.lower(), (parts.hostname or "").lower(), port or default)
    if name == "sage_db_extra_params":
        pairs = (item.partition("=") for item in (value or "").split(";"))
        return sorted((key.strip().lower(), val.strip().lower()) for key, _sep, val in pairs
                      if key.strip().lower() in SERVER_KEYWORDS)
    if name == "sage_db_host":
        return (value or "").strip().lower()
    return value
