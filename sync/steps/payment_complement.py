"""Step 10, payment complement to Sage: the vendor's payment CFDI (type P) is
recorded on the Sage payment it settles — APTCRO FOLIOCFD (its UUID) and
FECHACFD (its stamp date), by the tenant's optional-field names.

Select: our non-reversed Payment rows without a recorded complement; when
there are none, nothing is read at all. The payment CFDIs come from the CFDI
rows the download step stored (cfdi.models.Cfdi, kind P, with their
DoctoRelacionado rows) when there are any, else from the portal
(cfdiType=PAYMENT_CFDI, issued since a month before the oldest such payment), whose XML is
read only for complements not matched by the portal's own metadata.
Match: the DOCNBR the portal names (payment_info.payments_response[].external_id), else the invoice
UUIDs the complement settles → our PaymentLines (narrowed by amount when
several payments pay one invoice).
Write, once per payment (SyncLink kind "complement", sage_key = DOCNBR):
Sage is read back first; a payment that already carries this UUID is only
recorded, one carrying another UUID is left alone and reported.

How it writes: a posted Sage payment is not editable through the screens and
the stand-in Web API has no AP/APPaymentAndAdjustmentBatches, so for a
SANDBOX engine (sqlite/postgresql) the two APTCRO rows are written through
the tenant's Sage alias. PRODUCTION (SQL Server) goes through the Web API
call in `write_through_webapi` (PATCH of the payment batch's entry optional
fields, shaped after EXTERNAL.md §2) — untested against a real Sage 300.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cfdi.models import Cfdi
from cfdi.parsing import ParseError, extract_facts, parse_xml
from sync import idempotence
from sync.crashpoints import crashpoint
from sync.models import Payment, PaymentLine, SyncLink
from sync.payment_payload import payment_optional_fields
from sync.portal.client import PortalClient
from sync.portal.errors import PortalError
from sync.portal.schemas import CfdiExternResponse
from sync.sage.models import APTCRO
from sync.sage.values import sage_time, to_sage_date, trimmed, uuid_key
from sync.sage.webapi import SageWebApi, WebApiError
from sync.steps.base import StepContext, StepResult
from tenants.sage_db import sage_alias


KIND = SyncLink.Kind.COMPLEMENT
SANDBOX_ENGINES = ("sqlite", "postgresql")
AUDIT_USER = "SAGECONN"


@dataclass
class Complement:
    uuid: str
    stamped: dt.date | None
    docnbr_hint: str = ""
    paid: list[tuple[str, Decimal | None]] = field(default_factory=list)  # (invoice UUID, ImpPagado)


def run(ctx: StepContext) -> StepResult:
    # Every complement link in one read: which payments are done, which UUIDs are
    # recorded, and each payment's link, instead of a query per payment.
    links = {link.sage_key: link for link in SyncLink.objects.filter(tenant_id=ctx.tenant_id, kind=KIND)}
    done = {key for key, link in links.items() if link.state == SyncLink.State.CONFIRMED}
    payments = [p for p in Payment.objects.filter(tenant_id=ctx.tenant_id).exclude(state=Payment.State.REVERSED)
                .prefetch_related("lines") if p.docnbr not in done]
    if not payments:
        ctx.log("every Sage payment already has its payment complement, or there is none")
        return ctx.result
    recorded = Recorder(ctx, payments, links)
    for complement in complements(ctx, payments, recorded.matcher):
        ctx.heartbeat()
        recorded.record(complement)
    ctx.log(f"{len(payments)} payment(s) without a complement; {recorded.count} recorded")
    return ctx.result


# -- where the complements come from ------------------------------------------

def complements(ctx: StepContext, payments: list[Payment], matcher: Matcher) -> Iterator[Complement]:
    stored = list(Cfdi.objects.filter(tenant_id=ctx.tenant_id, kind="P").prefetch_related("paid_documents"))
    if stored:
        for cfdi in stored:
            yield Complement(uuid_key(cfdi.uuid), cfdi.stamped.date() if cfdi.stamped else None,
                             _hint(cfdi.portal_metadata),
                             [(uuid_key(d.invoice_uuid), d.amount_paid) for d in cfdi.paid_documents.all()])
        return
    # A complement is issued after the payment; the margin covers a Sage date typed later than the transfer.
    since = min(p.date for p in payments) - dt.timedelta(days=31)
    with PortalClient(ctx.tenant) as portal:
        for item in portal.iter_cfdis(cfdi_type="PAYMENT_CFDI", date_from=since):
            try:
                complement = from_portal(portal, item, matcher)
            except (PortalError, ParseError) as error:
                # One unreadable complement must not hold back the others; it is asked again next cycle.
                ctx.log(f"payment CFDI {item.cfdi_uuid or item.id}: {error}")
                continue
            if complement is not None:
                yield complement


def from_portal(portal: PortalClient, item: CfdiExternResponse, matcher: Matcher) -> Complement | None:
    uuid = item.cfdi_uuid or ""
    if not uuid or uuid in matcher.recorded_uuids:
        return None
    metadata = item.metadata.model_dump() if item.metadata else {}
    stamp = item.cfdi.timbre.fecha_timbrado if item.cfdi and item.cfdi.timbre else None
    complement = Complement(uuid, _date(stamp), _hint(metadata))
    if complement.docnbr_hint in matcher.by_docnbr:
        return complement
    # The portal's list does not carry the Pagos complement: the XML says which invoices it settles.
    facts = extract_facts(parse_xml(portal.download_cfdi_xml(item.id or "")))
    complement.paid = [(uuid_key(d.invoice_uuid), d.amount_paid) for d in facts.paid_documents]
    complement.stamped = complement.stamped or (facts.stamped.date() if facts.stamped else None)
    return complement


def _hint(metadata: dict) -> str:
    """The ERP id of the one payment the portal links to this CFDI, if it names exactly one.

    focaltec/openapi.json: CfdiMetadataResponse.payment_info is a PaymentInfoResponse, whose
    payments_response[] are PaymentResponse objects with an `external_id` (the DOCNBR we sent).
    The spec has no payment_info.external_id nor payment_info.erp_id: those are not read.
    """
    info = metadata.get("payment_info")
    payments = info.get("payments_response") if isinstance(info, dict) else None
    ids = {trimmed(str(p.get("external_id") or "")) for p in payments or [] if isinstance(p, dict)} - {""}
    return ids.pop() if len(ids) == 1 else ""


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


# -- which Sage payment it settles ---------------------------------------------

class Matcher:
    def __init__(self, payments: list[Payment], links: dict[str, SyncLink]) -> None:
        self.by_docnbr = {p.docnbr: p for p in payments}
        self.by_invoice: dict[str, list[tuple[Payment, PaymentLine]]] = {}
        for payment in payments:
            for line in payment.lines.all():
                if line.cfdi_uuid:
                    self.by_invoice.setdefault(uuid_key(line.cfdi_uuid), []).append((payment, line))
        self.recorded_uuids = {link.portal_id for link in links.values() if link.state != SyncLink.State.PENDING}

    def payment_for(self, complement: Complement) -> Payment | None:
        if complement.docnbr_hint in self.by_docnbr:
            return self.by_docnbr[complement.docnbr_hint]
        candidates: dict[int, Payment] = {}
        paid_on: dict[int, Decimal] = {}
        for invoice_uuid, _amount in complement.paid:
            for payment, line in self.by_invoice.get(invoice_uuid, []):
                if payment.docnbr not in self.by_docnbr:
                    continue  # given its complement earlier in this cycle
                candidates[payment.pk] = payment
                paid_on[payment.pk] = paid_on.get(payment.pk, Decimal(0)) + line.amount
        if len(candidates) > 1:
            # Several Sage payments pay these invoices (instalments): the one whose amounts agree.
            wanted = sum((amount or Decimal(0) for _uuid, amount in complement.paid), Decimal(0))
            candidates = {pk: p for pk, p in candidates.items() if paid_on[pk] == wanted}
        return next(iter(candidates.values())) if len(candidates) == 1 else None


# -- writing it on the Sage payment ---------------------------------------------

class Recorder:
    def __init__(self, ctx: StepContext, payments: list[Payment], links: dict[str, SyncLink]) -> None:
        self.ctx = ctx
        self.tenant = ctx.tenant
        self.alias = sage_alias(self.tenant)
        # As read at the start of the step: each payment is recorded at most once per
        # step, so its link cannot have changed since (see Matcher.payment_for).
        self.links = links
        self.matcher = Matcher(payments, links)
        self.fields = [self.tenant.folio_optfield, self.tenant.payment_stamp_date_optfield]
        self.count = 0

    def record(self, complement: Complement) -> None:
        payment = self.matcher.payment_for(complement)
        if payment is None:
            self.ctx.result.skipped += 1
            return
        content_hash = hashlib.sha256(f"{complement.uuid}|{complement.stamped}".encode()).hexdigest()
        link = self.links.get(payment.docnbr)
        if link and link.state == SyncLink.State.FAILED and link.sent_hash == content_hash:
            self.ctx.result.skipped += 1
            return
        on_sage = self.read_back(payment)
        folio = on_sage.get(self.tenant.folio_optfield.upper(), "")
        if uuid_key(folio) == complement.uuid:
            self.finish(payment, complement, content_hash, wrote=False)
        elif folio:
            self.conflict(payment, complement, folio, content_hash)
        else:
            self.write(payment, complement, content_hash)
        self.matcher.by_docnbr.pop(payment.docnbr, None)

    def read_back(self, payment: Payment) -> dict[str, str]:
        rows = payment_optional_fields(self.alias, self.tenant, entries=[(payment.batch, payment.entry)],
                                       fields=self.fields)
        return {trimmed(r.OPTFIELD).upper(): trimmed(r.VALUE) for r in rows}

    def values(self, complement: Complement) -> list[tuple[str, str]]:
        return [(self.tenant.folio_optfield, complement.uuid),
                (self.tenant.payment_stamp_date_optfield, complement.stamped.isoformat() if complement.stamped else "")]

    def write(self, payment: Payment, complement: Complement, content_hash: str) -> None:
        values = self.values(complement)
        if self.ctx.dry_run:
            self.ctx.would_send("sage", f"APTCRO {payment.docnbr}", dict(values))
            return
        idempotence.mark_pending(self.ctx, KIND, payment.docnbr, content_hash)
        try:
            if self.tenant.sage_db_engine in SANDBOX_ENGINES:
                self.write_through_alias(payment, values)
            else:
                write_through_webapi(self.tenant, payment, values)
        except WebApiError as error:
            link = idempotence.get_link(self.ctx, KIND, payment.docnbr)
            idempotence.record_failure(self.ctx, link, action="record", error=str(error), permanent=False)
            self.ctx.result.failed += 1
            return
        crashpoint("payment_complement:written")
        self.finish(payment, complement, content_hash, wrote=True)

    def write_through_alias(self, payment: Payment, values: list[tuple[str, str]]) -> None:
        """SANDBOX ONLY: the stand-in Sage company's APTCRO rows, written directly."""
        now = timezone.localtime()
        audit = {"AUDTDATE": to_sage_date(now.date()), "AUDTTIME": sage_time(now), "AUDTUSER": AUDIT_USER,
                 "AUDTORG": (self.tenant.webapi_company or "")[:6]}
        key = {"BTCHTYPE": "PY", "CNTBTCH": payment.batch, "CNTENTR": payment.entry}
        with transaction.atomic(using=self.alias):
            for name, value in values:
                rows = APTCRO.objects.using(self.alias).filter(**key, OPTFIELD=name)
                if not rows.update(VALUE=value, **audit):
                    APTCRO(**key, OPTFIELD=name, VALUE=value, **audit).save(using=self.alias, force_insert=True)

    def finish(self, payment: Payment, complement: Complement, content_hash: str, *, wrote: bool) -> None:
        if self.ctx.dry_run:
            return
        link = idempotence.mark_pending(self.ctx, KIND, payment.docnbr, content_hash)
        idempotence.confirm(self.ctx, link, portal_id=complement.uuid, action="record",
                            snapshot={"docnbr": payment.docnbr, "values": dict(self.values(complement))})
        self.matcher.recorded_uuids.add(complement.uuid)
        if wrote:
            self.ctx.result.updated += 1
            self.count += 1
        else:
            self.ctx.result.skipped += 1
        self.ctx.log(f"payment {payment.docnbr}: complement {complement.uuid} "
                     f"{'written to' if wrote else 'already in'} Sage")

    def conflict(self, payment: Payment, complement: Complement, folio: str, content_hash: str) -> None:
        message = _("The Sage payment %(docnbr)s already carries payment CFDI %(folio)s in %(field)s; complement "
                    "%(uuid)s was not written. Check which one is right.") % {
            "docnbr": payment.docnbr, "folio": folio, "field": self.tenant.folio_optfield, "uuid": complement.uuid}
        self.ctx.result.failed += 1
        self.ctx.log(message)
        if self.ctx.dry_run:
            return
        link = idempotence.mark_pending(self.ctx, KIND, payment.docnbr, content_hash)
        idempotence.record_failure(self.ctx, link, action="record", error=message, permanent=True)


def write_through_webapi(tenant, payment: Payment, values: list[tuple[str, str]]) -> None:
    """PRODUCTION path: PATCH the payment entry's optional fields in AP/APPaymentAndAdjustmentBatches.

    Built from EXTERNAL.md §2 (composite key `(BatchType='PY',BatchNumber=n)`);
    the stand-in has no such resource, so this has not run against anything.
    Sage 300 may refuse edits to a posted batch: the refusal is recorded per
    payment and the link stays PENDING, so nothing is lost.
    """
    body = {"Payments": [{
        "BatchType": "PY", "BatchNumber": payment.batch, "EntryNumber": payment.entry,
        "OptionalFields": [{"OptionalField": name, "Value": value} for name, value in values],
    }]}
    webapi = SageWebApi(tenant)
    try:
        webapi.patch("AP/APPaymentAndAdjustmentBatches", {"BatchType": "PY", "BatchNumber": payment.batch}, body)
    finally:
        webapi.close()

