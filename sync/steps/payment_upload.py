"""Step 5, payment upload: a Sage payment goes to the portal only when every
CFDI it pays is confirmed imported in Sage.

Select: our Payment rows not yet uploaded and not reversed (payment_check
fills and refreshes them). Each cycle asks Sage, in one chunked read-back
(sync.sage.confirm), which of their CFDI UUIDs are imported.
Wait: a payment with an invoice that has no UUID in Sage, or a UUID Sage
does not hold yet, keeps its reason on the Payment row and is asked again
next cycle — there is no cut-off, so nothing is dropped at midnight.
Send: the batch endpoint, 50 payments a call, external_id = DOCNBR.
Record: SyncLink kind "payment" (sage_key = DOCNBR) and the Payment state in
one transaction. A crash after the portal accepted and before we recorded
leaves the link PENDING: the rerun asks the portal for the DOCNBR first.
Portal refusals (1800 unknown CFDI, 2390 empty UUID, 1827 already paid, …)
are kept per payment with the portal's code and message; 1827 and a
duplicate external_id are checked with get_payment: already there = done.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from sync import idempotence
from sync.crashpoints import crashpoint
from sync.models import Payment, SyncLink
from sync.payment_payload import build_payment, cfdi_money, payment_hash, wait_reason
from sync.portal.client import PortalClient
from sync.portal.batch import describe, match_results
from sync.portal.errors import PortalError, PortalNotFoundError, PortalPermanentError
from sync.portal.schemas import BatchResponseExternalPaymentResponse, OnePaymentRequest
from sync.sage.confirm import confirmed_in_sage
from sync.steps.base import StepContext, StepResult
from tenants.sage_db import sage_alias


KIND = SyncLink.Kind.PAYMENT
BATCH_SIZE = 50
# Portal answers that mean "a payment with this DOCNBR may already be there".
ALREADY_THERE = {1827, 409}
OPEN_STATES = (Payment.State.WAITING, Payment.State.READY, Payment.State.FAILED)


@dataclass
class Upload:
    payment: Payment
    request: OnePaymentRequest
    content_hash: str
    link: SyncLink | None


def run(ctx: StepContext) -> StepResult:
    payments = list(Payment.objects.filter(tenant_id=ctx.tenant_id, state__in=OPEN_STATES).prefetch_related("lines"))
    if not payments:
        ctx.log("no payment waiting for upload")
        return ctx.result
    uploads = select_ready(ctx, payments)
    if uploads:
        with PortalClient(ctx.tenant) as portal:
            pending = recover(ctx, portal, uploads)
            for start in range(0, len(pending), BATCH_SIZE):
                ctx.heartbeat()
                send_batch(ctx, portal, pending[start:start + BATCH_SIZE])
    ctx.log(f"{len(payments)} payment(s) not yet uploaded; {len(uploads)} ready")
    return ctx.result


def select_ready(ctx: StepContext, payments: list[Payment]) -> list[Upload]:
    lines = {p.pk: list(p.lines.all()) for p in payments}
    uuids = {line.cfdi_uuid for group in lines.values() for line in group if line.cfdi_uuid}
    confirmed = confirmed_in_sage(sage_alias(ctx.tenant), ctx.tenant, uuids) if uuids else set()
    money = cfdi_money(ctx.tenant_id, uuids)
    links = {link.sage_key: link for link in SyncLink.objects.filter(
        tenant_id=ctx.tenant_id, kind=KIND, sage_key__in=[p.docnbr for p in payments])}
    ready = []
    for payment in payments:
        reason = wait_reason(payment, lines[payment.pk], confirmed, money)
        if reason:
            note_waiting(ctx, payment, reason)
            continue
        request = build_payment(ctx.tenant, payment, lines[payment.pk], money)
        upload = Upload(payment, request, payment_hash(request), links.get(payment.docnbr))
        if upload.link and upload.link.state == SyncLink.State.FAILED and upload.link.sent_hash == upload.content_hash:
            # Refused as it stands: it waits for a change in Sage or a person's Retry.
            ctx.result.skipped += 1
            continue
        ready.append(upload)
    return ready


def note_waiting(ctx: StepContext, payment: Payment, reason: str) -> None:
    ctx.result.skipped += 1
    if ctx.dry_run or (payment.state == Payment.State.WAITING and payment.wait_reason == reason):
        return
    Payment.objects.filter(pk=payment.pk).update(state=Payment.State.WAITING, wait_reason=reason[:500])
    ctx.log(f"payment {payment.docnbr}: {reason}")


def recover(ctx: StepContext, portal: PortalClient, uploads: list[Upload]) -> list[Upload]:
    """Payments an interrupted run may have sent: ask the portal by DOCNBR before sending again."""
    still = []
    for upload in uploads:
        if not idempotence.needs_lookup(upload.link):
            still.append(upload)
            continue
        try:
            found = portal.get_payment(upload.payment.docnbr)
        except PortalNotFoundError:
            still.append(upload)
            continue
        if not ctx.dry_run:
            uploaded(ctx, upload, found.id or "", action="create")
        ctx.log(f"payment {upload.payment.docnbr} was already on the portal ({found.id})")
    return still


def send_batch(ctx: StepContext, portal: PortalClient, uploads: list[Upload]) -> None:
    if ctx.dry_run:
        for upload in uploads:
            ctx.would_send("portal", f"payments {upload.payment.docnbr}", upload.request.to_json())
        return
    for upload in uploads:
        upload.link = idempotence.mark_pending(ctx, KIND, upload.payment.docnbr, upload.content_hash)
    crashpoint("payment_upload:before_send")
    try:
        answer = portal.create_payments([upload.request for upload in uploads])
    except PortalError as error:
        # Whether the portal took any of them is unknown: the links stay PENDING.
        for upload in uploads:
            refused(ctx, upload, str(error), code=None, permanent=False)
        return
    crashpoint("payment_upload:batch_accepted")
    matched = match_results(answer.results, {
        upload.payment.docnbr: (upload.payment.docnbr, upload.link.portal_id if upload.link else "")
        for upload in uploads})
    for result in matched.unmatched:
        ctx.log(_("The portal's batch answer has a result that matches no payment sent: %(result)s")
                % {"result": describe(result)})
    if matched.unmatched and not matched.unanswered(upload.payment.docnbr for upload in uploads):
        # Every payment has its answer and still something else came back: the answer is not what was sent.
        ctx.result.failed += len(matched.unmatched)
    for upload in uploads:
        result = matched.by_key.get(upload.payment.docnbr)
        if result is None:
            settle_unanswered(ctx, portal, upload)
        else:
            record_result(ctx, portal, upload, result)


def settle_unanswered(ctx: StepContext, portal: PortalClient, upload: Upload) -> None:
    """No result of the batch answer names this payment: ask the portal by DOCNBR, and send it alone
    if it is not there, so its own answer (taken or refused, with the portal's code) is recorded."""
    ctx.log(_("payment %(docnbr)s: the portal's batch answer names no result for it; asked on its own")
            % {"docnbr": upload.payment.docnbr})
    try:
        if already_on_portal(portal, upload):
            uploaded(ctx, upload, upload.link.portal_id if upload.link else "", action="create")
            return
        created = portal.create_payment(upload.request)
    except PortalPermanentError as error:
        refused(ctx, upload, error.description or str(error), code=error.code, permanent=True)
        return
    except PortalError as error:
        refused(ctx, upload, str(error), code=None, permanent=False)
        return
    uploaded(ctx, upload, created.id or "", action="create")


def record_result(ctx: StepContext, portal: PortalClient, upload: Upload,
                  result: BatchResponseExternalPaymentResponse) -> None:
    if not result.error_code:
        uploaded(ctx, upload, (result.item.id if result.item else "") or "", action="create")
    elif result.error_code in ALREADY_THERE and already_on_portal(portal, upload):
        uploaded(ctx, upload, upload.link.portal_id if upload.link else "", action="create")
    else:
        refused(ctx, upload, result.error_message or "", code=result.error_code, permanent=True)


def already_on_portal(portal: PortalClient, upload: Upload) -> bool:
    try:
        found = portal.get_payment(upload.payment.docnbr)
    except PortalNotFoundError:
        return False
    if upload.link is not None:
        upload.link.portal_id = found.id or ""
    return True


def uploaded(ctx: StepContext, upload: Upload, portal_id: str, *, action: str) -> None:
    link = upload.link or idempotence.mark_pending(ctx, KIND, upload.payment.docnbr, upload.content_hash)
    with transaction.atomic():
        idempotence.confirm(ctx, link, portal_id=portal_id, action=action, snapshot=upload.request.to_json())
        Payment.objects.filter(pk=upload.payment.pk).update(state=Payment.State.UPLOADED, wait_reason="")
    ctx.result.created += 1


def refused(ctx: StepContext, upload: Upload, message: str, *, code: int | str | None, permanent: bool) -> None:
    reason = (_("the portal refused it (%(code)s): %(message)s") % {"code": code, "message": message}
              if code is not None else message)
    with transaction.atomic():
        idempotence.record_failure(ctx, upload.link, action="create", error=reason, permanent=permanent,
                                   snapshot=upload.request.to_json())
        if permanent:
            Payment.objects.filter(pk=upload.payment.pk).update(state=Payment.State.FAILED, wait_reason=reason[:500])
    ctx.result.failed += 1
    ctx.log(f"payment {upload.payment.docnbr}: {reason}")

