"""DESIGN.md row 6: every eligible Sage PO exists on the portal once.

Select the POs to create (new and eligible; or left unconfirmed by a crash,
looked up on the portal by PONUMBER before anything is written again) →
build their ExternPurchaseOrderRequest → send them through the batch
endpoint, at most 50 a call → record each order's CREATED/UPDATED/ERROR.
"""
from __future__ import annotations

import time

from django.utils.translation import gettext as _

from sync import po_reads
from sync.crashpoints import crashpoint
from sync.idempotence import confirm, confirm_many, mark_pending, mark_pending_many, mark_sent, needs_lookup, record_failure
from sync.models import SyncLink
from sync.po_payload import PoPayloadError, build_order
from sync.po_reads import PoCandidate
from sync.po_state import PoAction
from sync.portal import schemas as s
from sync.portal.client import PortalClient
from sync.portal.errors import (
    PortalAuthError, PortalConflictError, PortalError, PortalNotFoundError, PortalPermanentError,
)
from sync.steps.base import StepContext, StepResult
from tenants.sage_db import sage_alias

ACTION = "create"
# An ASYNC batch is usually processed within a moment: ask soon, then back off.
POLL_FIRST_SECONDS, POLL_MAX_SECONDS, POLL_TRIES = 0.1, 2.0, 30
Order = tuple[PoCandidate, s.ExternPurchaseOrderRequest]


def run(ctx: StepContext) -> StepResult:
    again = po_reads.unconfirmed(ctx, SyncLink.Kind.PO, on_portal=False) + po_reads.failed_before_a_vendor_link(ctx)
    with PortalClient(ctx.tenant) as portal:
        for page in po_reads.candidates(ctx, sage_alias(ctx.tenant), again=again):
            due = [c for c in page if _due(ctx, portal, c)]
            orders = build_orders(ctx, due)
            if ctx.dry_run:
                for candidate, order in orders:
                    ctx.would_send("portal", candidate.po_number, order.to_json())
                continue
            for start in range(0, len(orders), s.BATCH_PURCHASE_ORDERS_MAX):
                _send_batch(ctx, portal, orders[start:start + s.BATCH_PURCHASE_ORDERS_MAX])
    return ctx.result


def _due(ctx: StepContext, portal: PortalClient, candidate: PoCandidate) -> bool:
    """Whether to create the PO now; settles a crashed run's create first."""
    link = candidate.po_link
    if needs_lookup(link) and not link.portal_id:
        found = _find(portal, candidate.po_number)
        if found is not None:
            if not ctx.dry_run:
                # The portal holds what was in flight (sent_hash); po_update follows if Sage moved on since.
                confirm(ctx, link, portal_id=found.id or "", action=ACTION)
            ctx.log(_("PO %(po)s was already on the portal (a run stopped before recording it).") % {"po": candidate.po_number})
            ctx.result.created += 1
            return False
        if candidate.decision.action is not PoAction.CREATE and not ctx.dry_run:
            link.delete()  # never reached the portal, and is not to be created any more
    if candidate.decision.action is PoAction.NONE and candidate.po_link is None:
        ctx.result.skipped += 1
        ctx.log(_("PO %(po)s not sent: %(reason)s") % {"po": candidate.po_number, "reason": candidate.decision.reason})
    return candidate.decision.action is PoAction.CREATE


def _find(portal: PortalClient, po_number: str) -> s.PurchaseOrderCoreResponse | None:
    try:
        return portal.get_purchase_order(po_number)
    except PortalNotFoundError:
        return None


def build_orders(ctx: StepContext, due: list[PoCandidate], action: str = ACTION) -> list[Order]:
    """The portal payload of each PO; one that cannot be built is a recorded, permanent failure."""
    orders = []
    for candidate in due:
        try:
            orders.append((candidate, build_order(candidate.po, ctx.tenant)))
        except PoPayloadError as exc:
            ctx.result.failed += 1
            ctx.log(str(exc))
            if not ctx.dry_run:
                link = mark_pending(ctx, SyncLink.Kind.PO, candidate.po_number, candidate.decision.content_hash)
                record_failure(ctx, link, action=action, error=str(exc), permanent=True)
    return orders


def _send_batch(ctx: StepContext, portal: PortalClient, orders: list[Order]) -> None:
    links = mark_pending_many(ctx, SyncLink.Kind.PO, {c.po_number: c.decision.content_hash for c, _ in orders})
    crashpoint("po_create:before_send")
    try:
        answer = portal.upsert_purchase_orders([order for _, order in orders])
    except PortalAuthError:
        raise  # the tenant's credentials, not these POs: they stay pending and go out once it is fixed
    except PortalPermanentError as exc:
        ctx.log(_("The portal refused a batch of %(n)s orders (%(error)s); sending them one by one.")
                % {"n": len(orders), "error": exc})
        for candidate, order in orders:
            _create_one(ctx, portal, order, links[candidate.po_number])
        return
    except PortalError as exc:
        for candidate, order in orders:
            _failed(ctx, links[candidate.po_number], order, str(exc), permanent=False)
        return
    crashpoint("po_create:after_send")
    if answer.type == "ASYNC":
        for link in links.values():
            mark_sent(link)
        answer = poll_batch(ctx, portal, answer)
    _record(ctx, orders, links, {result.external_id: result for result in answer.orders_status})


def poll_batch(ctx: StepContext, portal: PortalClient, answer: s.BatchUpsertPurchaseOrdersResponse):
    wait = POLL_FIRST_SECONDS
    for _try in range(POLL_TRIES):
        if answer.status == "PROCESSED" or not answer.id:
            return answer
        time.sleep(wait)
        wait = min(wait * 2, POLL_MAX_SECONDS)
        ctx.heartbeat()
        answer = portal.purchase_order_batch_status(answer.id)
    return answer


def _record(ctx: StepContext, orders: list[Order], links: dict[str, SyncLink], results: dict) -> None:
    created = []
    for candidate, order in orders:
        link, result = links[candidate.po_number], results.get(candidate.po_number)
        if result is None:
            # Accepted but not yet answered for: the link stays SENT and the next run looks it up.
            ctx.result.failed += 1
            ctx.log(_("The portal has not reported on PO %(po)s yet; it is checked again next cycle.") % {"po": candidate.po_number})
        elif result.status in ("CREATED", "UPDATED"):
            created.append((link, result.internal_id or "", order.to_json()))
        else:
            error = "; ".join(f"{e.error_code}: {e.error_message}" for e in result.errors) or str(result.status)
            _failed(ctx, link, order, error, permanent=True)
    confirm_many(ctx, created, action=ACTION)
    ctx.result.created += len(created)


def _create_one(ctx: StepContext, portal: PortalClient, order: s.ExternPurchaseOrderRequest, link: SyncLink) -> None:
    try:
        made = portal.create_purchase_order(order)
    except PortalConflictError:
        # Already there (409): adopt it, with no content hash, so po_update makes it match Sage.
        made = portal.get_purchase_order(order.external_id)
        link.sent_hash = ""
    except PortalAuthError:
        raise
    except PortalPermanentError as exc:
        _failed(ctx, link, order, f"{exc.code}: {exc.description}", permanent=True)
        return
    except PortalError as exc:
        _failed(ctx, link, order, str(exc), permanent=False)
        return
    confirm(ctx, link, portal_id=made.id or "", action=ACTION, snapshot=order.to_json())
    ctx.result.created += 1


def _failed(ctx: StepContext, link: SyncLink, order: s.ExternPurchaseOrderRequest, error: str, *, permanent: bool) -> None:
    record_failure(ctx, link, action=ACTION, error=error, permanent=permanent, snapshot=order.to_json())
    ctx.result.failed += 1
    ctx.log(_("PO %(po)s failed: %(error)s") % {"po": link.sage_key, "error": error})
