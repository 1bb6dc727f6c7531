"""DESIGN.md row 8: a complete PO whose receipts are all invoiced → CLOSED, once.

Select the POs on the portal that reached their final status in Sage →
change their portal status (a SyncLink "po_status" per PO makes it once,
and a crashed run's change is looked up before it is made again) → record.
A complete PO still waiting for a receipt's invoice is recorded as waiting
and read again every cycle until it closes. po_cancel runs the same way.
"""
from __future__ import annotations

from django.utils.translation import gettext as _

from sync import po_reads
from sync.crashpoints import crashpoint
from sync.idempotence import Sent, get_link, record_failure, send_once
from sync.models import RecordOutcome, SyncLink
from sync.po_reads import PoCandidate
from sync.po_state import PoAction, PoCondition
from sync.portal import schemas as s
from sync.portal.client import PortalClient
from sync.portal.errors import PortalAuthError, PortalError, PortalNotFoundError, PortalPermanentError
from sync.steps.base import StepContext, StepResult
from tenants.sage_db import sage_alias

DONE = {Sent.CREATED, Sent.UPDATED, Sent.RECOVERED}


def run(ctx: StepContext) -> StepResult:
    return run_status_step(ctx, PoAction.CLOSE, "CLOSED")


def run_status_step(ctx: StepContext, action: PoAction, status: s.PurchaseOrderStatus) -> StepResult:
    again = po_reads.unconfirmed(ctx, SyncLink.Kind.PO_STATUS) + po_reads.waiting(ctx, action.value)
    with PortalClient(ctx.tenant) as portal:
        for page in po_reads.candidates(ctx, sage_alias(ctx.tenant), again=again):
            for candidate in page:
                if candidate.decision.action is action:
                    _change_status(ctx, portal, candidate, action, status)
                elif action is PoAction.CLOSE and candidate.decision.condition is PoCondition.COMPLETE_AWAITING_INVOICES:
                    _wait_for_invoices(ctx, candidate)
    return ctx.result


def _change_status(ctx: StepContext, portal: PortalClient, candidate: PoCandidate, action: PoAction, status: str) -> None:
    number = candidate.po_number
    if not candidate.on_portal:
        ctx.result.skipped += 1
        ctx.log(_("PO %(po)s is %(status)s in Sage but not on the portal; nothing to change.") % {"po": number, "status": status})
        return
    try:
        sent = send_once(
            ctx, kind=SyncLink.Kind.PO_STATUS, sage_key=number, content_hash=status, action=action.value,
            payload={"external_id": number, "status": status},
            lookup=lambda: _has_status(portal, number, status),
            send=lambda _portal_id: _send_status(portal, candidate, status),
        )
    except PortalAuthError:
        raise  # the tenant's credentials, not this PO: it stays pending and goes out once they are fixed
    except PortalError as exc:
        _failed(ctx, number, action, exc)
        return
    if sent in DONE:
        ctx.result.updated += 1
        ctx.log(_("PO %(po)s is now %(status)s on the portal.") % {"po": number, "status": status})
    elif sent is Sent.UNCHANGED:
        ctx.result.skipped += 1


def _send_status(portal: PortalClient, candidate: PoCandidate, status: str) -> str:
    crashpoint("po_status:before_send")
    answer = portal.change_purchase_order_status(candidate.po_number, status)
    crashpoint("po_status:after_send")
    return answer.internal_id or candidate.po_link.portal_id


def _has_status(portal: PortalClient, po_number: str, status: str) -> str | None:
    try:
        found = portal.get_purchase_order(po_number)
    except PortalNotFoundError:
        return None
    return found.id if found.status == status else None


def _failed(ctx: StepContext, po_number: str, action: PoAction, exc: PortalError) -> None:
    permanent = isinstance(exc, PortalPermanentError)
    error = f"{exc.code}: {exc.description}" if isinstance(exc, PortalPermanentError) else str(exc)
    ctx.result.failed += 1
    ctx.log(_("PO %(po)s: status not changed: %(error)s") % {"po": po_number, "error": error})
    link = get_link(ctx, SyncLink.Kind.PO_STATUS, po_number)
    if link is not None:
        record_failure(ctx, link, action=action.value, error=error, permanent=permanent)


def _wait_for_invoices(ctx: StepContext, candidate: PoCandidate) -> None:
    if not candidate.on_portal or ctx.dry_run:
        return
    open_receipts = [r.receipt_number for r in candidate.po.receipts if not (r.invoiced and r.complete)]
    reason = _("waiting for receipts to be invoiced: %(receipts)s") % {"receipts": ", ".join(open_receipts)}
    outcome, created = RecordOutcome.objects.get_or_create(
        tenant_id=ctx.tenant_id, kind=SyncLink.Kind.PO_STATUS, sage_key=candidate.po_number, action=PoAction.CLOSE.value,
        defaults={"step": ctx.step, "run_id": ctx.run_id, "status": RecordOutcome.Status.WAITING, "last_error": reason[:500]},
    )
    # Written only when it changes: a cycle with nothing new writes nothing.
    if not created and (outcome.status, outcome.last_error) != (RecordOutcome.Status.WAITING, reason[:500]):
        outcome.status, outcome.last_error, outcome.run_id = RecordOutcome.Status.WAITING, reason[:500], ctx.run_id
        outcome.save(update_fields=["status", "last_error", "run_id", "updated"])
    ctx.result.skipped += 1
