"""Cfdi.status and Payment.state as the engine leaves them: projections of the outbound record.

The outbound record (sync.models.Outbound) is the one record of what was sent
and what became of it. Two older fields say part of the same thing, and stay
because their readers cannot read the outbound record cheaply or at all:

- `Cfdi.status` (with `sage_batch`, `sage_entry`, `imported_at`): the cfdi app
  never imports sync, yet its own rules (cfdi.portal_status.was_imported,
  cfdi.services) and the CFDI list's filters and index read the status on the
  row. Its values IMPORTED, FAILED and NEEDS_ATTENTION are this projection;
  DOWNLOADED, VALID and INVALID are the intake's own facts (cfdi.services).
- `Payment.state`: the payment list filters and counts by it. UPLOADED,
  FAILED, WAITING and READY are this projection; REVERSED is Sage's fact
  (payment check). Why a payment waits is not copied: it is the record's reason.

Only the engine writes them (sync.engine.outbox calls `project` in the same
transaction as the outbound records it changed), so they can never say
something the record does not.
"""
from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q
from django.utils import timezone

from cfdi.models import Cfdi, CfdiStatus
from sageconnect.bulk import update_rows
from sync.models import Outbound, Payment

LANDED_STATUSES = (CfdiStatus.IMPORTED, CfdiStatus.FAILED, CfdiStatus.NEEDS_ATTENTION)


def project(kind: str, records: Iterable[Outbound]) -> None:
    records = list(records)
    if not records:
        return
    if kind == Outbound.Kind.CFDI_IMPORT:
        project_cfdi_imports(records)
    elif kind == Outbound.Kind.PAYMENT:
        project_payments(records)


def cfdi_status(record: Outbound, cfdi: Cfdi) -> str:
    if record.state == Outbound.State.CONFIRMED:
        return CfdiStatus.NEEDS_ATTENTION if record.attention else CfdiStatus.IMPORTED
    if record.attention == Outbound.Attention.PERMANENT:
        return CfdiStatus.FAILED
    if record.attention:
        return CfdiStatus.NEEDS_ATTENTION
    if cfdi.status in LANDED_STATUSES:
        # Not in Sage and nobody needs to act: back to what the intake says.
        return CfdiStatus.INVALID if cfdi.problems else CfdiStatus.VALID
    return cfdi.status


def project_cfdi_imports(records: list[Outbound]) -> None:
    by_key = {(r.tenant_id, r.key.upper()): r for r in records}
    query = Q(pk__in=[])
    for tenant_id in {r.tenant_id for r in records}:
        query |= Q(tenant_id=tenant_id, uuid__in=[k for t, k in by_key if t == tenant_id])
    changed = []
    now = timezone.now()
    for cfdi in Cfdi.objects.filter(query).only("id", "tenant_id", "uuid", "status", "problems", "sage_batch",
                                                 "sage_entry", "imported_at"):
        record = by_key[(cfdi.tenant_id, cfdi.uuid.upper())]
        before = (cfdi.status, cfdi.sage_batch, cfdi.sage_entry, cfdi.imported_at)
        cfdi.status = cfdi_status(record, cfdi)
        if record.state == Outbound.State.CONFIRMED:
            cfdi.sage_batch = record.outside_ids.get("sage_batch", cfdi.sage_batch)
            cfdi.sage_entry = record.outside_ids.get("sage_entry", cfdi.sage_entry)
            cfdi.imported_at = cfdi.imported_at or now
        if (cfdi.status, cfdi.sage_batch, cfdi.sage_entry, cfdi.imported_at) != before:
            cfdi.updated = now
            changed.append(cfdi)
    update_rows(changed, ["status", "sage_batch", "sage_entry", "imported_at", "updated"])


def payment_state(record: Outbound, current: str) -> str:
    if current == Payment.State.REVERSED:
        return current
    if record.state == Outbound.State.CONFIRMED:
        return Payment.State.UPLOADED
    if record.state == Outbound.State.WAITING:
        return Payment.State.WAITING
    if record.attention:
        return Payment.State.FAILED
    return Payment.State.READY


def project_payments(records: list[Outbound]) -> None:
    by_key = {(r.tenant_id, r.key): r for r in records}
    query = Q(pk__in=[])
    for tenant_id in {r.tenant_id for r in records}:
        query |= Q(tenant_id=tenant_id, docnbr__in=[k for t, k in by_key if t == tenant_id])
    changed = []
    for payment in Payment.objects.filter(query).only("id", "tenant_id", "docnbr", "state"):
        state = payment_state(by_key[(payment.tenant_id, payment.docnbr)], payment.state)
        if state != payment.state:
            payment.state = state
            changed.append(payment)
    for state in {p.state for p in changed}:
        Payment.objects.filter(pk__in=[p.pk for p in changed if p.state == state]).update(
            state=state, updated=timezone.now())
