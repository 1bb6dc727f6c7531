"""Turning Sage's stored values into ours and back."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal


def sage_date(value) -> dt.date | None:
    """decimal(9,0) YYYYMMDD → date; 0 (or empty) → None."""
    if value in (None, "", 0) or Decimal(value) == 0:
        return None
    number = int(value)
    return dt.date(number // 10000, number // 100 % 100, number % 100)


def to_sage_date(value: dt.date | None) -> Decimal:
    if value is None:
        return Decimal(0)
    return Decimal(value.year * 10000 + value.month * 100 + value.day)


def sage_time(value: dt.datetime | dt.time) -> Decimal:
    """HHMMSScc (hundredths of a second)."""
    return Decimal(value.hour * 1000000 + value.minute * 10000 + value.second * 100 + value.microsecond // 10000)


def trimmed(value) -> str:
    return (value or "").strip()


def currency(code: str | None) -> str:
    """MXP is Sage's legacy code for Mexican pesos."""
    code = trimmed(code).upper()
    return "MXN" if code == "MXP" else code


def uuid_key(value: str | None) -> str:
    """CFDI UUIDs compare trimmed and upper-cased everywhere."""
    return trimmed(value).upper()
