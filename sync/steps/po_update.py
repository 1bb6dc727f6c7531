"""DESIGN.md row 7: the portal shows what Sage has; unchanged POs cost nothing.

Select the POs on the portal whose content hash changed (a partly cancelled
PO is such a change: its quantities drop) → build the order → replace it on
the portal by PONUMBER → record. A replace is the same write however often
it is made, so one left unconfirmed by a crash is simply made again.
"""
from __future__ import annotations

from django.utils.translation import gettext as _

from sync import po_reads
from sync.crashpoints import crashpoint
from sync.idempotence import confirm, mark_pending, record_failure
from sync.models import SyncLink
from sync.po_payload import PoPayloadError, build_order
from sync.po_reads import PoCandidate
from sync.po_state import PoAction
from sync.portal.client import PortalClient
from sync.portal.errors import PortalAuthError, PortalError, PortalPermanentError
from sync.steps.base import StepContext, StepResult
from tenants.sage_db import sage_alias

ACTION = "update"


def run(ctx: StepContext) -> StepResult:
    again = po_reads.unconfirmed(ctx, SyncLink.Kind.PO, on_portal=True)
    with PortalClient(ctx.tenant) as portal:
        for page in po_reads.candidates(ctx, sage_alias(ctx.tenant), again=again):
            for candidate in page:
                if candidate.decision.action is PoAction.UPDATE:
                    _update(ctx, portal, candidate)
    return ctx.result


def _update(ctx: StepContext, portal: PortalClient, candidate: PoCandidate) -> None:
    number, content_hash = candidate.po_number, candidate.decision.content_hash
    try:
        order = build_order(candidate.po, ctx.tenant)
    except PoPayloadError as exc:
        ctx.result.failed += 1
        ctx.log(str(exc))
        if not ctx.dry_run:
            record_failure(ctx, mark_pending(ctx, SyncLink.Kind.PO, number, content_hash), action=ACTION,
                           error=str(exc), permanent=True)
        return
    if ctx.dry_run:
        ctx.would_send("portal", number, order.to_json())
        return
    link = mark_pending(ctx, SyncLink.Kind.PO, number, content_hash)
    try:
        answer = portal.replace_purchase_order(number, order)
        crashpoint("po_update:after_send")
    except PortalAuthError:
        raise  # the tenant's credentials, not this PO: it stays pending and goes out once they are fixed
    except PortalError as exc:
        permanent = isinstance(exc, PortalPermanentError)
        error = f"{exc.code}: {exc.description}" if permanent else str(exc)
        record_failure(ctx, link, action=ACTION, error=error, permanent=permanent, snapshot=order.to_json())
        ctx.result.failed += 1
        ctx.log(_("PO %(po)s not updated: %(error)s") % {"po": number, "error": error})
        return
    confirm(ctx, link, portal_id=answer.id or "", action=ACTION, snapshot=order.to_json())
    ctx.result.updated += 1
    ctx.log(_("PO %(po)s updated (%(reason)s).") % {"po": number, "reason": candidate.decision.reason})
