"""DESIGN.md row 8: a complete PO whose receipts are all invoiced → CLOSED, once.

Select the POs on the portal that reached their final status in Sage (and
those a crash left unconfirmed, and those waiting for their invoices) →
the payload is the status → change it on the portal → record it on the PO's
"po_status" outbound record. A crashed run's change is looked up on the
portal before it is made again. A complete PO still waiting for a receipt's
invoice waits, with the receipts it waits for, and is read again every cycle
until it closes. po_cancel runs the same exporter for CANCELLED.
"""
from __future__ import annotations

from collections.abc import Iterator

from django.utils.translation import gettext as _

from sync import po_reads
from sync.engine.context import StepContext, StepResult
from sync.engine.exporter import Built, Job, Records, export
from sync.engine.outbox import Confirmed, Failed, Result, Waiting
from sync.models import Outbound
from sync.po_reads import PoCandidate
from sync.po_state import PoAction, PoCondition
from sync.portal import schemas as s
from sync.portal.errors import (
    PortalAuthError,
    PortalError,
    PortalNotFoundError,
    PortalPermanentError,
)
from sync.steps.portal_exporter import PortalExporter
from tenants.sage_db import sage_alias

KINDS = (Outbound.Kind.PO_STATUS,)
AWAITING_INVOICES = "receipts_not_invoiced"


def run(ctx: StepContext) -> StepResult:
    return export(PoStatus(ctx, PoAction.CLOSE, "CLOSED"))


class PoStatus(PortalExporter[PoCandidate]):
    kind = Outbound.Kind.PO_STATUS
    name = "po_status"

    def __init__(self, ctx: StepContext, action: PoAction, status: s.PurchaseOrderStatus) -> None:
        super().__init__(ctx)
        self.action, self.status = action, status

    def key(self, item: PoCandidate) -> str:
        return item.po_number

    def changed(self, keys: frozenset[str] | None) -> Iterator[list[PoCandidate]]:
        alias = sage_alias(self.ctx.tenant)
        if keys is not None:
            pages = po_reads.named(self.ctx, alias, keys)
        else:
            again = po_reads.unconfirmed(self.ctx, self.kind) + po_reads.waiting(self.ctx, self.kind)
            pages = po_reads.candidates(self.ctx, alias, again=again)
        for page in pages:
            yield [c for c in page if self.concerns(c)]

    def concerns(self, candidate: PoCandidate) -> bool:
        if candidate.decision.action is self.action:
            if candidate.on_portal:
                return True
            self.ctx.result.skipped += 1
            self.ctx.log(_("PO %(po)s is %(status)s in Sage but not on the portal; nothing to change.")
                         % {"po": candidate.po_number, "status": self.status})
            return False
        return (self.action is PoAction.CLOSE and candidate.on_portal
                and candidate.decision.condition is PoCondition.COMPLETE_AWAITING_INVOICES)

    def lookup(self, items: list[PoCandidate], records: Records) -> dict[str, Confirmed]:
        found = {}
        for candidate in items:
            try:
                order = self.portal.get_purchase_order(candidate.po_number)
            except PortalNotFoundError:
                continue
            if order.status == self.status:
                found[candidate.po_number] = Confirmed(order.id or "", ids={"status": self.status}, counted="updated")
        return found

    def build(self, items: list[PoCandidate], records: Records,
              found: dict[str, Confirmed]) -> dict[str, Built | Failed | Waiting | Confirmed]:
        built: dict[str, Built | Failed | Waiting | Confirmed] = {}
        for candidate in items:
            if candidate.decision.action is self.action:
                built[candidate.po_number] = Built({"external_id": candidate.po_number, "status": self.status},
                                                   action=self.action.value, label=candidate.po_number)
            else:
                open_receipts = [r.receipt_number for r in candidate.po.receipts if not (r.invoiced and r.complete)]
                built[candidate.po_number] = Waiting(AWAITING_INVOICES, _(
                    "waiting for receipts to be invoiced: %(receipts)s") % {"receipts": ", ".join(open_receipts)})
        return built

    def send(self, jobs: list[Job[PoCandidate]]) -> dict[str, Result]:
        results: dict[str, Result] = {}
        for job in jobs:
            self.ctx.heartbeat()
            try:
                answer = self.portal.change_purchase_order_status(job.key, self.status)
            except PortalAuthError:
                raise  # the tenant's credentials, not this PO: it stays pending and goes out once they are fixed
            except PortalPermanentError as refusal:
                results[job.key] = Failed(f"{refusal.code}: {refusal.description}", code=str(refusal.code),
                                          permanent=True)
                continue
            except PortalError as error:
                results[job.key] = Failed(str(error))
                continue
            portal_id = answer.internal_id or (job.item.po_record.outside_id if job.item.po_record else "")
            results[job.key] = Confirmed(portal_id, ids={"status": self.status}, counted="updated")
            self.ctx.log(_("PO %(po)s is now %(status)s on the portal.") % {"po": job.key, "status": self.status})
        return results
