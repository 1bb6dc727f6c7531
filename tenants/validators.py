import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# SAT's RFC shape: 3 letters (companies) or 4 (people), a YYMMDD date and a
# 3-character homoclave. '&' and 'Ñ' are legal letters.
RFC_PATTERN = re.compile(r"^[A-ZÑ&]{3,4}[0-9]{6}[A-Z0-9]{2}[0-9A]$")


def normalize_rfc(value: str) -> str:
    return (value or "").strip().upper()


def validate_rfc(value: str) -> None:
    if not RFC_PATTERN.match(normalize_rfc(value)):
        raise ValidationError(
            _("%(value)s is not a valid RFC (3–4 letters, 6 digits of date, 3 characters of homoclave)."),
            params={"value": value},
            code="invalid_rfc",
        )
