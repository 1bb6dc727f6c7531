"""DESIGN.md row 7: the portal shows what Sage has; unchanged POs cost nothing.

Select the POs on the portal whose content hash changed (a partly cancelled
PO is such a change: its quantities drop) → build the orders → replace them
on the portal by PONUMBER through the batch upsert, at most 50 a call →
record each order's result. A replace is the same write however often it is
made, so a batch left unconfirmed by a crash is simply sent again.
"""
from __future__ import annotations

from django.utils.translation import gettext as _

from sync import po_reads
from sync.crashpoints import crashpoint
from sync.idempotence import confirm, confirm_many, mark_pending_many, mark_sent, record_failure
from sync.models import SyncLink
from sync.po_reads import PoCandidate
from sync.po_state import PoAction
from sync.portal import schemas as s
from sync.portal.client import PortalClient
from sync.portal.errors import PortalAuthError, PortalError, PortalPermanentError
from sync.steps.base import StepContext, StepResult
from sync.steps.po_create import build_orders, poll_batch
from tenants.sage_db import sage_alias

ACTION = "update"
Order = tuple[PoCandidate, s.ExternPurchaseOrderRequest]


def run(ctx: StepContext) -> StepResult:
    again = po_reads.unconfirmed(ctx, SyncLink.Kind.PO, on_portal=True)
    with PortalClient(ctx.tenant) as portal:
        for page in po_reads.candidates(ctx, sage_alias(ctx.tenant), again=again):
            orders = build_orders(ctx, [c for c in page if c.decision.action is PoAction.UPDATE], ACTION)
            if ctx.dry_run:
                for candidate, order in orders:
                    ctx.would_send("portal", candidate.po_number, order.to_json())
                continue
            for start in range(0, len(orders), s.BATCH_PURCHASE_ORDERS_MAX):
                _send_batch(ctx, portal, orders[start:start + s.BATCH_PURCHASE_ORDERS_MAX])
    return ctx.result


def _send_batch(ctx: StepContext, portal: PortalClient, orders: list[Order]) -> None:
    links = mark_pending_many(ctx, SyncLink.Kind.PO, {c.po_number: c.decision.content_hash for c, _ in orders})
    try:
        answer = portal.upsert_purchase_orders([order for _, order in orders])
        crashpoint("po_update:after_send")
    except PortalAuthError:
        raise  # the tenant's credentials, not these POs: they stay pending and go out once they are fixed
    except PortalPermanentError as exc:
        ctx.log(_("The portal refused a batch of %(n)s orders (%(error)s); sending them one by one.")
                % {"n": len(orders), "error": exc})
        for candidate, order in orders:
            _replace_one(ctx, portal, candidate, order, links[candidate.po_number])
        return
    except PortalError as exc:
        for candidate, order in orders:
            _failed(ctx, links[candidate.po_number], order, str(exc), permanent=False)
        return
    if answer.type == "ASYNC":
        for link in links.values():
            mark_sent(link)
        answer = poll_batch(ctx, portal, answer)
    _record(ctx, orders, links, {result.external_id: result for result in answer.orders_status})


def _record(ctx: StepContext, orders: list[Order], links: dict[str, SyncLink], results: dict) -> None:
    updated = []
    for candidate, order in orders:
        link, result = links[candidate.po_number], results.get(candidate.po_number)
        if result is None:
            # Accepted but not yet answered for: the link stays SENT and the next run replaces it again.
            ctx.result.failed += 1
            ctx.log(_("The portal has not reported on PO %(po)s yet; it is checked again next cycle.")
                    % {"po": candidate.po_number})
        elif result.status in ("CREATED", "UPDATED"):
            updated.append((candidate, order, link, result.internal_id or ""))
        else:
            error = "; ".join(f"{e.error_code}: {e.error_message}" for e in result.errors) or str(result.status)
            _failed(ctx, link, order, error, permanent=True)
    confirm_many(ctx, [(link, portal_id, order.to_json()) for _c, order, link, portal_id in updated], action=ACTION)
    for candidate, _order, _link, _portal_id in updated:
        _logged_update(ctx, candidate)


def _replace_one(ctx: StepContext, portal: PortalClient, candidate: PoCandidate,
                 order: s.ExternPurchaseOrderRequest, link: SyncLink) -> None:
    try:
        answer = portal.replace_purchase_order(candidate.po_number, order)
    except PortalAuthError:
        raise
    except PortalError as exc:
        permanent = isinstance(exc, PortalPermanentError)
        _failed(ctx, link, order, f"{exc.code}: {exc.description}" if permanent else str(exc), permanent=permanent)
        return
    _updated(ctx, candidate, order, link, answer.id or "")


def _updated(ctx: StepContext, candidate: PoCandidate, order: s.ExternPurchaseOrderRequest,
             link: SyncLink, portal_id: str) -> None:
    confirm(ctx, link, portal_id=portal_id, action=ACTION, snapshot=order.to_json())
    _logged_update(ctx, candidate)


def _logged_update(ctx: StepContext, candidate: PoCandidate) -> None:
    ctx.result.updated += 1
    ctx.log(_("PO %(po)s updated (%(reason)s).") % {"po": candidate.po_number, "reason": candidate.decision.reason})


def _failed(ctx: StepContext, link: SyncLink, order: s.ExternPurchaseOrderRequest, error: str, *, permanent: bool) -> None:
    record_failure(ctx, link, action=ACTION, error=error, permanent=permanent, snapshot=order.to_json())
    ctx.result.failed += 1
    ctx.log(_("PO %(po)s not updated: %(error)s") % {"po": link.sage_key, "error": error})
