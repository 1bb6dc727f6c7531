"""The tenant admin's list-valued site rules as fields people fill in, not JSON they type.

Both are stored as JSON lists on the Tenant (sync.sage.queries filters on them):
`po_types` a list of PORTYPE numbers, `skip_location_codes` a list of Sage
location codes.
"""
from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# POPORH1.PORTYPE — EXTERNAL.md, Sage tables: "1 active, 2 standing, 3 future, 4 blanket".
PO_TYPE_CHOICES = (
    (1, _("1 — active")),
    (2, _("2 — standing")),
    (3, _("3 — future")),
    (4, _("4 — blanket")),
)
# POPORL.LOCATION (EXTERNAL.md, Sage tables). Unverified: its width 6 is what sync/sage/models.py declares
# (no source document gives it), and that codes are letters, digits, "-" and "_" is our assumption.
LOCATION_CODE = re.compile(r"^[A-Z0-9_-]{1,6}$")
SEPARATORS = re.compile(r"[\s,;]+")


class PoTypesField(forms.TypedMultipleChoiceField):
    """PORTYPE values as check boxes; none ticked means every type."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("help_text", _("The PO types sent to the portal; none ticked sends every type."))
        super().__init__(choices=PO_TYPE_CHOICES, coerce=int, required=False,
                         widget=forms.CheckboxSelectMultiple, **kwargs)

    def prepare_value(self, value):
        # The stored JSON list may hold numbers or numeric strings.
        if isinstance(value, (list, tuple)):
            return [str(item) for item in value]
        return value

    def clean(self, value) -> list[int]:
        return sorted(set(super().clean(value) or []))

    def has_changed(self, initial, data) -> bool:
        return sorted(str(v) for v in initial or []) != sorted(str(v) for v in data or [])


class LocationCodesField(forms.CharField):
    """Location codes, one per line (commas and spaces separate too); each checked, upper-cased, once."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 20, "spellcheck": "false", "autocapitalize": "characters"})

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("help_text", _("One code per line, e.g. GRAL: PO lines at these locations are not sent "
                                         "to the portal."))
        super().__init__(required=False, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)):
            return "\n".join(str(code) for code in value)
        return value

    def to_python(self, value) -> list[str]:  # type: ignore[override]  # a list of codes, not text
        text = value if isinstance(value, str) else self.prepare_value(value) or ""
        codes = [code.upper() for code in SEPARATORS.split(text) if code]
        bad = [code for code in codes if not LOCATION_CODE.match(code)]
        if bad:
            raise ValidationError(
                _("Not a Sage location code: %(codes)s. A code is 1 to 6 letters or digits."),
                code="invalid", params={"codes": ", ".join(bad)})
        return list(dict.fromkeys(codes))

    def validate(self, value) -> None:
        # A list is never "empty string": skip CharField's check; an empty list means none skipped.
        pass

    def has_changed(self, initial, data) -> bool:
        try:
            return list(initial or []) != self.to_python(data)
        except ValidationError:
            return True
