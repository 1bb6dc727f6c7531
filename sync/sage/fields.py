"""Column types as Sage 300 has them on SQL Server."""
from decimal import Decimal

from django.db import models


class SageCharField(models.CharField):
    """Fixed-width CHAR(n), padded with spaces like Sage writes it.

    Values are padded on the way in (so exact matches behave the same on
    SQLite, which does not pad, as on SQL Server and PostgreSQL, which do) and
    trimmed on the way out: code never sees padding.
    """

    def db_type(self, connection):
        return f"char({self.max_length})"

    def from_db_value(self, value, expression, connection):
        return value.rstrip() if isinstance(value, str) else value

    def get_placeholder(self, value, compiler, connection):
        # PostgreSQL's bulk insert (UNNEST) casts to char[], i.e. char(1),
        # which would cut every value to one character.
        return "%s"

    def get_db_prep_value(self, value, connection, prepared=False):
        value = super().get_db_prep_value(value, connection, prepared)
        if isinstance(value, str) and self.max_length and len(value) < self.max_length:
            return value.ljust(self.max_length)
        return value


def SageDate(db_column: str, **kwargs) -> models.DecimalField:
    """decimal(9,0) YYYYMMDD; 0 means no date (see sync.sage.values)."""
    return models.DecimalField(db_column=db_column, max_digits=9, decimal_places=0, default=Decimal(0), **kwargs)


def SageTime(db_column: str, **kwargs) -> models.DecimalField:
    """decimal(9,0) HHMMSScc."""
    return models.DecimalField(db_column=db_column, max_digits=9, decimal_places=0, default=Decimal(0), **kwargs)


def SageAmount(db_column: str, **kwargs) -> models.DecimalField:
    return models.DecimalField(db_column=db_column, max_digits=19, decimal_places=3, default=Decimal(0), **kwargs)


def SageQty(db_column: str, **kwargs) -> models.DecimalField:
    return models.DecimalField(db_column=db_column, max_digits=19, decimal_places=4, default=Decimal(0), **kwargs)


def SageNumber(db_column: str, digits: int = 9, **kwargs) -> models.DecimalField:
    """Sequence and counter keys: decimal(n,0)."""
    return models.DecimalField(db_column=db_column, max_digits=digits, decimal_places=0, **kwargs)


def SageChar(db_column: str, length: int, **kwargs) -> SageCharField:
    kwargs.setdefault("default", "")
    return SageCharField(db_column=db_column, max_length=length, **kwargs)


def SageSwitch(db_column: str, **kwargs) -> models.SmallIntegerField:
    kwargs.setdefault("default", 0)
    return models.SmallIntegerField(db_column=db_column, **kwargs)
