"""What every resource of the Sage 300 Web API stand-in shares: Sage's error,
the audit stamp, and readers for the values of a checked payload.

Error codes and their meaning are Sage's (Sage 300 Web API Developer
Reference, §12.1 "Error code"): InvalidPayload — "the payload body is not
valid for the resource specified" (unknown property, wrong type, wrong enum
word); RecordInvalid — "not valid due to business rules"; RecordDuplicate —
"an insert ... with a key value that already exist"; InvalidEntityKey,
MethodNotAllowed, InvalidAction, ResourceNotFound, RecordNotFound for the URL.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Model
from django.utils import timezone

from sync.sage.values import sage_date, sage_time, to_sage_date


class SageError(Exception):
    """An error Sage answers with `{"error": {"code", "message": {"lang", "value"}}}`."""

    STATUS = {
        "Unauthorized": 401, "Forbidden": 403, "ResourceNotFound": 404, "RecordNotFound": 404,
        "MethodNotAllowed": 405, "TooManyRequests": 429, "InvalidParameters": 400, "InvalidEntityKey": 400,
        "InvalidAction": 400, "InvalidPayload": 400, "RecordInvalid": 400, "RecordDuplicate": 409,
        "General": 400, "DBLinkError": 503, "SessionError": 503, "InternalServerError": 500,
    }

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return self.STATUS.get(self.code, 500)


def invalid(where: str, message: str) -> SageError:
    """A business-rule refusal (RecordInvalid) that names the record it is about."""
    return SageError("RecordInvalid", f"{where}: {message}")


class Audit:
    """The audit columns every Sage write stamps."""

    def __init__(self, user: str, company: str) -> None:
        now = timezone.localtime()
        self.values = {"AUDTDATE": to_sage_date(now.date()), "AUDTTIME": sage_time(now),
                       "AUDTUSER": user.upper()[:8], "AUDTORG": company.upper()[:6]}

    def row(self, model: type[Model], **columns: Any) -> Model:
        return model(**self.values, **columns)

    def stamp(self, row: Model) -> None:
        for column, value in self.values.items():
            setattr(row, column, value)


def sage_datetime(value: Any) -> str | None:
    """Sage answers dates as `2026-01-18T00:00:00Z` (Developer Reference, payload example)."""
    date = sage_date(value)
    return f"{date.isoformat()}T00:00:00Z" if date else None


def number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def date_column(value: Any) -> Decimal:
    return to_sage_date(value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)))


# ---------------------------------------------------------------------------
# Values of a payload whose property names and enum words were already checked
# (sandbox.sage_webapi.schema); these check what a name cannot: types, lengths.

def text(body: dict[str, Any], name: str, where: str, *, length: int, required: bool = False) -> str:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise SageError("InvalidPayload", f"{where}: {name} is required.")
        return ""
    if not isinstance(value, str):
        raise SageError("InvalidPayload", f"{where}: {name} must be text.")
    if len(value) > length:
        raise SageError("InvalidPayload", f"{where}: {name} is longer than {length} characters.")
    return value


def amount(body: dict[str, Any], name: str, where: str, *, required: bool = False,
           places: str = "0.001") -> Decimal | None:
    value = body.get(name)
    if value is None:
        if required:
            raise SageError("InvalidPayload", f"{where}: {name} is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SageError("InvalidPayload", f"{where}: {name} must be a number.")
    try:
        return Decimal(str(value)).quantize(Decimal(places))
    except InvalidOperation:
        raise SageError("InvalidPayload", f"{where}: {name} must be a number.") from None


def whole(body: dict[str, Any], name: str, where: str, *, default: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise SageError("InvalidPayload", f"{where}: {name} must be a whole number.")
    return value


def date_value(body: dict[str, Any], name: str, where: str, *, default: dt.date | None = None) -> dt.date | None:
    value = body.get(name)
    if value in (None, ""):
        return default
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise SageError("InvalidPayload", f"{where}: {name} '{value}' is not a date.") from None


def records(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The elements of a detail collection (already checked to be objects)."""
    return list(body.get(name) or [])
