import re
import zoneinfo
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
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


# A CFDI tax by kind and SAT code: T = transferred (traslado), R = withheld
# (retención); 001 ISR, 002 IVA, 003 IEPS, LOCAL for local taxes.
TAX_KEY_PATTERN = re.compile(r"^[TR](00[1-3]|LOCAL)$")


def validate_tax_authorities(value) -> None:
    """{"T002": 1, "R002": 2, …}: each CFDI tax → a Sage tax authority position 1–5 (empty: none)."""
    if value in (None, ""):
        return
    if not isinstance(value, dict):
        raise ValidationError(_("Give an object such as {\"T002\": 1, \"R002\": 2, \"R001\": 3}."),
                              code="invalid_tax_authorities")
    for key, position in value.items():
        if not TAX_KEY_PATTERN.match(str(key)):
            raise ValidationError(
                _("%(key)s is not a CFDI tax: use T or R (transferred or withheld) and the SAT code 001 ISR, "
                  "002 IVA, 003 IEPS or LOCAL, e.g. T002."), params={"key": key}, code="invalid_tax_authorities")
        if isinstance(position, bool) or not isinstance(position, int) or not 1 <= position <= 5:
            raise ValidationError(_("%(key)s: the Sage tax authority is a position from 1 to 5, not %(position)s."),
                                  params={"key": key, "position": position}, code="invalid_tax_authorities")


@lru_cache(maxsize=1)
def time_zone_names() -> tuple[str, ...]:
    """The IANA zones this machine knows (the tzdata package backs them where the system has none)."""
    return tuple(sorted(zoneinfo.available_timezones()))


def validate_time_zone(value: str) -> None:
    # A typo would pass a CharField and break every page that renders the tenant's times.
    if value not in time_zone_names():
        raise ValidationError(
            _("%(value)s is not a time zone of the IANA list (e.g. America/Mexico_City, America/Tijuana)."),
            params={"value": value},
            code="invalid_time_zone",
        )


# Only the web's own schemes: an ftp:// (or file://) URL must be refused by the form, never reach a client.
# Its own code: the form would put its generic "Enter a valid URL." over an "invalid" one.
validate_web_url = URLValidator(
    schemes=["http", "https"], message=_("Enter an http:// or https:// address; no other scheme is accepted."),
    code="invalid_scheme",
)
