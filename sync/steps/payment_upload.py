"""Step 5, payment upload: a Sage payment goes to the portal only when every
CFDI it pays is confirmed imported in Sage.

Select: our Payment rows not yet uploaded and not reversed (payment_check
fills and refreshes them).
Build: each cycle asks Sage, in one chunked read-back (sync.sage.confirm),
which of their CFDI UUIDs are imported. A payment with an invoice that has no
UUID in Sage, or a UUID Sage does not hold yet, waits on its outbound record
with the reason, and is asked again next cycle — it is no failure and costs
no attempt, and there is no cut-off, so nothing is dropped at midnight.
The others become OnePaymentRequests (sync.payment_payload).
Send: the batch endpoint, 50 payments a call, external_id = DOCNBR.
Record: the payment's outbound record (kind "payment", key DOCNBR); the
engine keeps Payment.state in step (sync.projections). A crash after the
portal accepted and before we recorded leaves it PENDING: the rerun asks the
portal for the DOCNBR first. Portal refusals (1800 unknown CFDI, 2390 empty
UUID, 1827 already paid, …) are kept with the portal's code and message;
1827 and a duplicate external_id are checked with get_payment: already there = done.
"""
from __future__ import annotations

from collections.abc import Iterator

from django.utils.translation import gettext as _

from sync.engine.context import StepContext, StepResult
from sync.engine.crashpoints import crashpoint
from sync.engine.exporter import Built, Job, Records, export
from sync.engine.outbox import Confirmed, Failed, Result, Waiting
from sync.models import Outbound, Payment
from sync.payment_payload import build_payment, cfdi_money, waiting
from sync.portal.batch import describe, match_results
from sync.portal.errors import (
    PortalAuthError,
    PortalError,
    PortalNotFoundError,
    PortalPermanentError,
)
from sync.portal.schemas import BatchResponseExternalPaymentResponse
from sync.sage.confirm import confirmed_in_sage
from sync.steps.portal_exporter import PortalExporter
from tenants.sage_db import sage_alias

KINDS = (Outbound.Kind.PAYMENT,)
# Portal answers that mean "a payment with this DOCNBR may already be there".
ALREADY_THERE = {1827, 409}
OPEN_STATES = (Payment.State.WAITING, Payment.State.READY, Payment.State.FAILED)


def run(ctx: StepContext) -> StepResult:
    return export(PaymentUpload(ctx))


class PaymentUpload(PortalExporter[Payment]):
    kind = Outbound.Kind.PAYMENT
    name = "payment_upload"
    found_is_final = True          # a payment on the portal under our DOCNBR is ours: never sent twice

    def key(self, item: Payment) -> str:
        return item.docnbr

    def changed(self, keys: frozenset[str] | None) -> Iterator[list[Payment]]:
        payments = Payment.objects.filter(tenant_id=self.ctx.tenant_id, state__in=OPEN_STATES)
        if keys is not None:
            payments = payments.filter(docnbr__in=keys)
        found = list(payments.prefetch_related("lines"))
        self.ctx.log(_("%(n)s payment(s) not yet uploaded") % {"n": len(found)} if found
                     else _("no payment waiting for upload"))
        yield found

    def lookup(self, items: list[Payment], records: Records) -> dict[str, Confirmed]:
        """Payments an interrupted run may have sent: asked for by DOCNBR before anything is sent again."""
        found = {}
        for payment in items:
            try:
                on_portal = self.portal.get_payment(payment.docnbr)
            except PortalNotFoundError:
                continue
            self.ctx.log(_("payment %(docnbr)s was already on the portal (%(id)s)") % {"docnbr": payment.docnbr,
                                                                                        "id": on_portal.id})
            found[payment.docnbr] = Confirmed(on_portal.id or "")
        return found

    def build(self, items: list[Payment], records: Records,
              found: dict[str, Confirmed]) -> dict[str, Built | Failed | Waiting | Confirmed]:
        uuids = {line.cfdi_uuid for payment in items for line in payment.lines.all() if line.cfdi_uuid}
        confirmed = confirmed_in_sage(sage_alias(self.ctx.tenant), self.ctx.tenant, uuids) if uuids else set()
        money = cfdi_money(self.ctx.tenant_id, uuids)
        built: dict[str, Built | Failed | Waiting | Confirmed] = {}
        for payment in items:
            lines = list(payment.lines.all())
            why = waiting(payment, lines, confirmed, money)
            if why is not None:
                built[payment.docnbr] = why
                continue
            request = build_payment(self.ctx.tenant, payment, lines, money)
            built[payment.docnbr] = Built(request.to_json(), request=request, action="create",
                                          label=f"payments {payment.docnbr}")
        return built

    def send(self, jobs: list[Job[Payment]]) -> dict[str, Result]:
        answer = self.portal.create_payments([job.request for job in jobs])
        crashpoint("payment_upload:batch_accepted")
        matched = match_results(answer.results, {job.key: (job.key, job.outside_id) for job in jobs})
        for result in matched.unmatched:
            self.ctx.log(_("The portal's batch answer has a result that matches no payment sent: %(result)s")
                         % {"result": describe(result)})
        if matched.unmatched and not matched.unanswered(job.key for job in jobs):
            # Every payment has its answer and still something else came back: the answer is not what was sent.
            self.ctx.result.failed += len(matched.unmatched)
        results: dict[str, Result] = {}
        for job in jobs:
            given = matched.by_key.get(job.key)
            results[job.key] = self.send_alone(job) if given is None else self.outcome(job, given)
        return results

    def outcome(self, job: Job[Payment], result: BatchResponseExternalPaymentResponse) -> Result:
        if not result.error_code:
            return Confirmed((result.item.id if result.item else "") or "")
        if result.error_code in ALREADY_THERE:
            there = self.on_portal(job.key)
            if there is not None:
                return there
        return refused(result.error_code, result.error_message or "")

    def send_alone(self, job: Job[Payment]) -> Result:
        """No result of the batch answer names this payment: ask the portal by DOCNBR, and send it alone
        if it is not there, so its own answer (taken or refused, with the portal's code) is recorded."""
        self.ctx.log(_("payment %(docnbr)s: the portal's batch answer names no result for it; asked on its own")
                     % {"docnbr": job.key})
        try:
            there = self.on_portal(job.key)
            if there is not None:
                return there
            created = self.portal.create_payment(job.request)
        except PortalAuthError:
            raise
        except PortalPermanentError as error:
            return refused(error.code, error.description or str(error))
        except PortalError as error:
            return Failed(str(error))
        return Confirmed(created.id or "")

    def on_portal(self, docnbr: str) -> Confirmed | None:
        try:
            found = self.portal.get_payment(docnbr)
        except PortalNotFoundError:
            return None
        return Confirmed(found.id or "")


def refused(code: int | str | None, message: str) -> Failed:
    return Failed(_("the portal refused it (%(code)s): %(message)s") % {"code": code, "message": message},
                  code=str(code), permanent=True)
