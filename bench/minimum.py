"""The fewest portal calls the API allows for the work a step did.

Counted from what the step itself reports (created/updated) and from what
the stand-in holds, not from the calls we made: batch endpoints where the API
has them (50 orders a call, by the portal's guidance; payments and CFDI
statuses likewise 50), pages of 200 for listings, and per CFDI the files
call (a read) plus the download, which have no batch form.
"""
from __future__ import annotations

from math import ceil

from django.conf import settings

from sync.models import StepRun
from sync.portal.schemas import BATCH_PURCHASE_ORDERS_MAX, PAGE_SIZE_MAX

BATCH = BATCH_PURCHASE_ORDERS_MAX


def pages(items: int) -> int:
    # A listing costs one page even when it comes back empty.
    return max(1, ceil(items / PAGE_SIZE_MAX))


def batches(items: int) -> int:
    return ceil(items / BATCH) if items else 0


def minimum_calls(step: StepRun, *, accepted_providers: int, cfdis_listed: int, payment_cfdis: int,
                  downloads: int) -> dict[str, int]:
    done = step.created_count + step.updated_count
    name = step.step
    if name == "providers":
        # No batch form for a provider's external id: one call per provider given one (the step's
        # "updated"; its "created" are the Sage vendors, which are not portal calls).
        return {"reads": pages(accepted_providers), "writes": step.updated_count}
    if name == "cfdi_download":
        # The files call (an API read) and the file itself (a storage download) per CFDI.
        return {"reads": pages(cfdis_listed) + downloads, "downloads": downloads, "writes": 0}
    if name == "cfdi_import":
        return {"reads": 0, "writes": batches(step.created_count)}
    if name in ("po_upsert", "po_close", "po_cancel", "payment_upload"):
        return {"reads": 0, "writes": batches(done)}
    if name == "payment_complement":
        return {"reads": pages(payment_cfdis), "writes": 0}
    return {"reads": 0, "writes": 0}


def allowed_concurrency() -> int:
    """Portal calls one tenant may have under way at once: what our side allows (the portal publishes
    no limit, EXTERNAL.md). The adaptive limiter's ceiling when there is one, else the fixed pools' 4."""
    return int(getattr(settings, "OUTSIDE_CALLS_PER_TENANT", 4))


def floor_seconds(least: dict[str, int], latency_ms: int, concurrency: int) -> float:
    """The time the network allows for that work: the fewest calls × the latency ÷ the calls allowed at once.
    Server time beyond the added latency, our own work and Sage's Web API are not in it."""
    calls = least.get("reads", 0) + least.get("writes", 0) + least.get("downloads", 0)
    return calls * latency_ms / 1000 / max(1, concurrency)
