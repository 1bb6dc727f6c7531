"""The tenant form of the admin: secrets are write-only.

A secret's input never shows the stored value. Leaving it blank keeps what is
stored; typing replaces it; ticking "clear" empties it. The help text says
only whether a value is set.
"""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tenants.models import SECRET_FIELDS, Tenant


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
        for secret in SECRET_FIELDS:
            self._make_write_only(secret)

    def _make_write_only(self, secret: str) -> None:
        if secret not in self.fields:
            return
        is_set = bool(self.instance.pk and getattr(self.instance, secret))
        verbose_name = Tenant._meta.get_field(secret).verbose_name
        self.fields[secret].label = verbose_name[:1].upper() + verbose_name[1:]
        self.fields[secret].help_text = _("Currently set. Leave blank to keep it.") if is_set else _("Not set.")
        self.fields[clear_field_name(secret)].label = _("Clear %(field)s") % {"field": verbose_name}

    def clean(self) -> dict:
        cleaned = super().clean()
        for secret in SECRET_FIELDS:
            if secret not in self.fields:
                continue
            if cleaned.get(clear_field_name(secret)):
                if cleaned.get(secret):
                    self.add_error(secret, _("Either type a new value or tick “clear”, not both."))
                cleaned[secret] = ""
            elif not cleaned.get(secret):
                # Blank means "keep": the input never showed the stored value.
                cleaned[secret] = getattr(self.instance, secret) if self.instance.pk else ""
        return cleaned
