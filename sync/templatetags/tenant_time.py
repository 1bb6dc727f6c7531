"""`{% when moment tenant %}`: a time in the tenant's zone, marked with the zone.

Every staff page shows times through this tag, so a list of several tenants
never mixes zones without saying so, and a page of one tenant reads in its zone.
"""
from __future__ import annotations

import datetime as dt

from django import template
from django.utils.html import format_html

from sync.local_time import local_text, zone_name, zone_of

register = template.Library()


@register.simple_tag
def when(moment: dt.datetime | None, tenant=None, seconds: bool = False) -> str:
    if moment is None:
        return "—"
    zone = zone_of(tenant)
    return format_html('<time datetime="{}" title="{}">{}</time>', moment.isoformat(), zone_name(zone),
                       local_text(moment, zone, seconds=seconds))


@register.filter
def zone_label(tenant) -> str:
    """The tenant's zone name, as the page says once where it shows one tenant."""
    return zone_name(zone_of(tenant))


@register.simple_tag
def when_text(moment: dt.datetime | None, tenant=None, seconds: bool = False) -> str:
    """The same as `when`, as plain text (for a title attribute)."""
    return "—" if moment is None else local_text(moment, tenant, seconds=seconds)
