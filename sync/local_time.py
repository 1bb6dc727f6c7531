"""Times as staff read them: in the tenant's own zone, marked with that zone.

A tenant's `time_zone` is an IANA name; a name Python does not know (typed
before the admin offered the real list) falls back to the site's zone rather
than failing the page.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import dateformat, timezone

MINUTES = "Y-m-d H:i"
SECONDS = "Y-m-d H:i:s"


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone_of(tenant_or_name) -> dt.tzinfo:
    """The zone of a tenant (or of a zone name); the site's zone when it has none Python knows."""
    if isinstance(tenant_or_name, dt.tzinfo):
        return tenant_or_name
    name = getattr(tenant_or_name, "time_zone", tenant_or_name)
    return (_zone(name) if isinstance(name, str) and name else None) or timezone.get_default_timezone()


def zone_name(zone: dt.tzinfo) -> str:
    return getattr(zone, "key", None) or str(zone)


def zone_mark(local: dt.datetime) -> str:
    """"CST" where the zone has a name for that moment, else its offset: "UTC-05", "UTC+05:30"."""
    abbreviation = local.tzname() or ""
    if abbreviation.isalpha():
        return abbreviation
    offset = local.utcoffset() or dt.timedelta(0)
    sign = "-" if offset < dt.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    hours, rest = divmod(minutes, 60)
    return f"UTC{sign}{hours:02d}" + (f":{rest:02d}" if rest else "")


def local_text(moment: dt.datetime, tenant_or_name, *, seconds: bool = False, marked: bool = True) -> str:
    """`moment` as read in the tenant's zone, e.g. "2026-01-20 10:30 CST"."""
    local = moment.astimezone(zone_of(tenant_or_name))
    text = dateformat.format(local, SECONDS if seconds else MINUTES)
    return f"{text} {zone_mark(local)}" if marked else text


def local_day(moment: dt.datetime, tenant_or_name) -> dt.date:
    return moment.astimezone(zone_of(tenant_or_name)).date()
