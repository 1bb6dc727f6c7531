"""DESIGN.md rows 6–7: every eligible Sage PO is on the portal once, as Sage has it.

Select (sync.po_reads): the POs whose header changed since this step's
watermark, those a crash or a passing failure left unconfirmed, and those the
portal refused before a vendor was linked → build each one's
ExternPurchaseOrderRequest (sync.po_payload); the engine hashes that payload
and leaves out what the portal already confirmed, so an unchanged PO costs
nothing and any change the portal would see is sent → send them through the
batch upsert endpoint, at most 50 a call, polling a batch the portal queued;
a batch refused as a whole goes one order at a time → record each order's
CREATED/UPDATED/ERROR. A crash leaves the orders PENDING: the rerun asks the
portal by PONUMBER before it writes a new one again.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

from django.utils.translation import gettext as _

from sync import po_reads
from sync.engine.context import StepContext, StepResult
from sync.engine.exporter import Built, InFlight, Job, Records, export
from sync.engine.outbox import Confirmed, Failed, Result, Unanswered, Waiting
from sync.models import Outbound
from sync.po_payload import PoPayloadError, build_order
from sync.po_reads import PoCandidate
from sync.po_state import PoAction
from sync.portal import schemas as s
from sync.portal.errors import (
    PortalAuthError,
    PortalConflictError,
    PortalError,
    PortalNotFoundError,
    PortalPermanentError,
)
from sync.steps.portal_exporter import PortalExporter
from tenants.sage_db import sage_alias

KINDS = (Outbound.Kind.PO,)
# An ASYNC batch is usually processed within a moment: ask soon, then back off.
POLL_FIRST_SECONDS, POLL_MAX_SECONDS, POLL_TRIES = 0.1, 2.0, 30


def run(ctx: StepContext) -> StepResult:
    return export(PoUpsert(ctx))


class PoUpsert(PortalExporter[PoCandidate]):
    kind = Outbound.Kind.PO
    name = "po"
    batch_size = s.BATCH_PURCHASE_ORDERS_MAX

    def key(self, item: PoCandidate) -> str:
        return item.po_number

    def changed(self, keys: frozenset[str] | None) -> Iterator[list[PoCandidate]]:
        alias = sage_alias(self.ctx.tenant)
        if keys is not None:
            pages = po_reads.named(self.ctx, alias, keys)
        else:
            # Refused before a vendor was linked: most often for a provider the portal did not know yet.
            self.retry_keys = set(po_reads.failed_before_a_vendor_link(self.ctx))
            again = po_reads.unconfirmed(self.ctx, self.kind) + sorted(self.retry_keys)
            pages = po_reads.candidates(self.ctx, alias, again=again)
        for page in pages:
            yield [c for c in page if self.concerns(c)]

    def concerns(self, candidate: PoCandidate) -> bool:
        if candidate.decision.action is PoAction.UPSERT:
            return True
        if candidate.po_record is None:
            self.ctx.result.skipped += 1
            self.ctx.log(_("PO %(po)s not sent: %(reason)s") % {"po": candidate.po_number,
                                                                 "reason": candidate.decision.reason})
        # Not to be sent any more; one a crash left unconfirmed is still looked for on the portal.
        return candidate.po_record is not None and candidate.po_record.unconfirmed

    def lookup(self, items: list[PoCandidate], records: Records) -> dict[str, Confirmed]:
        found = {}
        for candidate in items:
            if candidate.po_record is not None and candidate.po_record.outside_id:
                continue  # an update in flight: replacing it again is the same write
            try:
                order = self.portal.get_purchase_order(candidate.po_number)
            except PortalNotFoundError:
                continue
            self.ctx.log(_("PO %(po)s was already on the portal (a run stopped before recording it).")
                         % {"po": candidate.po_number})
            found[candidate.po_number] = Confirmed(order.id or "")
        return found

    def build(self, items: list[PoCandidate], records: Records,
              found: dict[str, Confirmed]) -> dict[str, Built | Failed | Waiting | Confirmed]:
        built: dict[str, Built | Failed | Waiting | Confirmed] = {}
        for candidate in items:
            if candidate.decision.action is not PoAction.UPSERT:
                if candidate.po_number in found:  # the portal has it: the status steps follow
                    built[candidate.po_number] = dataclasses.replace(found[candidate.po_number], recovered=True)
                elif not self.ctx.dry_run:
                    self.outbox.forget([candidate.po_number])  # never reached the portal, and is not to any more
                continue
            try:
                order = build_order(candidate.po, self.ctx.tenant)
            except PoPayloadError as problem:
                built[candidate.po_number] = Failed(str(problem), code="payload", permanent=True)
                continue
            built[candidate.po_number] = Built(order.to_json(), request=order, label=candidate.po_number,
                                               action="update" if candidate.on_portal else "create")
        return built

    def submit(self, jobs: list[Job[PoCandidate]]) -> dict[str, Result] | InFlight:
        try:
            answer = self.portal.upsert_purchase_orders([job.request for job in jobs])
        except PortalAuthError:
            raise
        except PortalPermanentError as refusal:
            self.ctx.log(_("The portal refused a batch of %(n)s orders (%(error)s); sending them one by one.")
                         % {"n": len(jobs), "error": refusal})
            return {job.key: self.send_one(job) for job in jobs}
        if answer.type == "ASYNC":
            # Queued: recorded as accepted, and asked about once the next batch is on its way.
            self.outbox.mark_sent([job.key for job in jobs])
            accepted, queued = time.monotonic(), answer
            return InFlight(lambda: self.results(jobs, self.poll(queued, accepted)))
        return self.results(jobs, answer)

    def results(self, jobs: list[Job[PoCandidate]], answer: s.BatchUpsertPurchaseOrdersResponse) -> dict[str, Result]:
        by_number = {result.external_id: result for result in answer.orders_status}
        results: dict[str, Result] = {}
        for job in jobs:
            result = by_number.get(job.key)
            if result is None:
                results[job.key] = Unanswered(_("The portal has not reported on PO %(po)s yet; it is checked again "
                                                "next cycle.") % {"po": job.key})
            elif result.status in ("CREATED", "UPDATED"):
                results[job.key] = self.landed(job, result.internal_id or job.outside_id)
            else:
                error = "; ".join(f"{e.error_code}: {e.error_message}" for e in result.errors) or str(result.status)
                code = str(result.errors[0].error_code) if result.errors else str(result.status)
                results[job.key] = Failed(error, code=code, permanent=True)
        return results

    def send_one(self, job: Job[PoCandidate]) -> Result:
        try:
            if job.outside_id:
                made = self.portal.replace_purchase_order(job.key, job.request)
            else:
                try:
                    made = self.portal.create_purchase_order(job.request)
                except PortalConflictError:
                    # Already there (409): ours by its PONUMBER; made to say what Sage has.
                    made = self.portal.replace_purchase_order(job.key, job.request)
        except PortalAuthError:
            raise
        except PortalPermanentError as refusal:
            return Failed(f"{refusal.code}: {refusal.description}", code=str(refusal.code), permanent=True)
        except PortalError as error:
            return Failed(str(error))
        return self.landed(job, made.id or job.outside_id)

    def landed(self, job: Job[PoCandidate], portal_id: str) -> Confirmed:
        if job.built.action == "update":
            self.ctx.log(_("PO %(po)s updated (%(reason)s).") % {"po": job.key, "reason": job.item.decision.reason})
        return Confirmed(portal_id)

    def poll(self, answer: s.BatchUpsertPurchaseOrdersResponse,
             accepted: float) -> s.BatchUpsertPurchaseOrdersResponse:
        # The first question waits POLL_FIRST_SECONDS from the acceptance, not from now: sending the next
        # batch usually took longer than that already.
        wait = POLL_FIRST_SECONDS
        asked_at = accepted
        for _try in range(POLL_TRIES):
            if answer.status == "PROCESSED" or not answer.id:
                return answer
            time.sleep(max(0.0, asked_at + wait - time.monotonic()))
            wait = min(wait * 2, POLL_MAX_SECONDS)
            self.ctx.heartbeat()
            asked_at = time.monotonic()
            answer = self.portal.purchase_order_batch_status(answer.id)
        return answer
