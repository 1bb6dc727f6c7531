"""The seed-style baseline: the same work the way the older system did it.

One portal call per PO and per payment, sequential, no batch endpoint, and
every partly cancelled PO replaced in full each cycle. It talks to the portal
through PortalClient's single-record calls only, against its own freshly
seeded portal tenant, and reads the same Sage company as our cycle.

At size this is slow by construction (10,000 POs × 40 ms = 400 s for the POs
alone): `sample` runs it on every n-th record and the report scales the
per-record part up, saying so.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from bench.measure import Meter, Phase
from cfdi.models import CfdiStatus
from cfdi.services import store_cfdi
from sync.engine.pipeline import run_tenant
from sync.models import Payment
from sync.payment_payload import build_payment, wait_reason
from sync.po_payload import PoPayloadError, build_order
from sync.po_state import START, PoCondition, SagePo, condition, ineligibility, read_pos
from sync.portal.client import PortalClient
from sync.portal.errors import PortalError
from sync.portal.schemas import CfdiProgressRequest
from sync.sage.models import APVEN
from sync.sage.values import trimmed, uuid_key
from tenants.models import Tenant
from tenants.sage_db import sage_alias

T = TypeVar("T")
ERP_STATUS = "DELIVERED_ERP"


def every(items: Iterable[T], nth: int) -> Iterator[T]:
    for index, item in enumerate(items):
        if index % nth == 0:
            yield item


def sage_pos(tenant: Tenant) -> Iterator[SagePo]:
    alias, mark = sage_alias(tenant), START
    while True:
        pos, mark = read_pos(alias, tenant, after=mark, limit=200)
        if not pos:
            return
        yield from pos


def providers(portal: PortalClient, tenant: Tenant, nth: int) -> dict[str, int]:
    """Every accepted provider without a vendor number gets it, one call each."""
    by_rfc = _vendors_by_rfc(tenant)
    done = 0
    listed = [p for p in portal.iter_providers(status_expedient="ACCEPTED") if not p.external_id]
    for provider in every(listed, nth):
        vendor_id = by_rfc.get((provider.rfc or "").upper())
        if vendor_id and provider.id:
            portal.set_provider_external_id(provider.id, vendor_id)
            done += 1
    return {"providers_linked": done}


def _vendors_by_rfc(tenant: Tenant) -> dict[str, str]:
    rows = APVEN.objects.using(sage_alias(tenant)).values_list("IDTAXREGI1", "VENDORID")
    return {trimmed(rfc).upper(): trimmed(vendor) for rfc, vendor in rows if trimmed(rfc)}


def purchase_orders(portal: PortalClient, tenant: Tenant, nth: int, *, first: bool) -> dict[str, int]:
    """First cycle: create every PO on its own. Later cycles: replace every partly cancelled PO in full."""
    sent = failed = 0
    for po in every(sage_pos(tenant), nth):
        state = condition(po)
        if ineligibility(po, tenant) or state == PoCondition.CANCELLED:
            continue
        if not first and state != PoCondition.PARTLY_CANCELLED:
            continue
        try:
            order = build_order(po, tenant)
            if first:
                portal.create_purchase_order(order)
            else:
                portal.replace_purchase_order(po.po_number, order)
            sent += 1
        except (PoPayloadError, PortalError):
            failed += 1
    return {"pos_sent": sent, "pos_failed": failed}


def cfdis(portal: PortalClient, tenant: Tenant, nth: int) -> dict[str, int]:
    """List, then per CFDI: its files, its XML, store it, mark it received — one call each."""
    stored = marked = 0
    for item in every(list(portal.iter_cfdis()), nth):
        if not item.id or not item.cfdi_uuid:
            continue
        try:
            xml_bytes = portal.download_cfdi_xml(item.id)
        except PortalError:
            continue
        row = store_cfdi(tenant, xml_bytes, {"portal_cfdi_id": item.id})
        stored += 1
        if getattr(row, "status", None) == CfdiStatus.VALID:
            portal.update_cfdi_erp_status([CfdiProgressRequest(cfdi_id=item.id, new_status=ERP_STATUS,
                                                               uuid=item.cfdi_uuid)])
            marked += 1
    return {"cfdis_stored": stored, "cfdis_marked": marked}


def payments(portal: PortalClient, tenant: Tenant, nth: int) -> dict[str, int]:
    """Read Sage's payments (our payment check: a local read, the same either way), then send them one by one."""
    run_tenant(tenant.pk, only_step="payment_check")
    sent = failed = 0
    # The older system sent every payment with UUIDs, without waiting for our import to be confirmed.
    posted = Payment.objects.filter(tenant=tenant).exclude(state=Payment.State.REVERSED).order_by("pk")
    for payment in every(posted.prefetch_related("lines"), nth):
        lines = list(payment.lines.all())
        if wait_reason(payment, lines, {uuid_key(line.cfdi_uuid) for line in lines}):
            continue
        try:
            portal.create_payment(build_payment(tenant, payment, lines))
            sent += 1
        except PortalError:
            failed += 1
    return {"payments_sent": sent, "payments_failed": failed}


def run_baseline(tenant: Tenant, meter: Meter, *, first: bool, nth: int,
                 echo: Callable[[str], None]) -> list[Phase]:
    """One baseline cycle, a Phase per part."""
    phases = []
    parts = [("providers", lambda p: providers(p, tenant, nth)),
             ("purchase_orders", lambda p: purchase_orders(p, tenant, nth, first=first))]
    if first:
        parts += [("cfdis", lambda p: cfdis(p, tenant, nth)), ("payments", lambda p: payments(p, tenant, nth))]
    else:
        parts += [("cfdis", lambda p: {"cfdis_listed": sum(1 for _ in p.iter_cfdis())})]
    with PortalClient(tenant) as portal:
        for name, part in parts:
            meter.restart()
            counts = part(portal)
            phase = meter.close(Phase(name=f"baseline.{name}", counts=counts, status="done"))
            echo(f"  baseline {name}: {phase.seconds:.1f} s {counts}")
            phases.append(phase)
    return phases
