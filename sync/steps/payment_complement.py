"""Step 10, payment complement to Sage: the vendor's payment CFDI (type P) on
the Sage payment it settles — APTCRO FOLIOCFD (its UUID) and FECHACFD (its
stamp date), by the tenant's optional-field names.

Select: our non-reversed Payment rows without a confirmed complement; when
there are none, nothing is read at all. The payment CFDIs come from the CFDI
rows the download step stored (cfdi.models.Cfdi, kind P, with their
DoctoRelacionado rows) when there are any, else from the portal
(cfdiType=PAYMENT_CFDI, issued since a month before the oldest such payment), whose XML is
read only for complements not matched by the portal's own metadata.
Match: the DOCNBR the portal names (payment_info.payments_response[].external_id), else the invoice
UUIDs the complement settles → our PaymentLines (narrowed by amount when
several payments pay one invoice).

Record — a report for staff, not a write. The payments this step sees are
posted (payment check reads posted batches only), and Sage does not let an
API client edit a posted batch: AP/APPaymentAndAdjustmentBatches refuses a
PATCH of one (FIELDS.md), and the Web API's other payment resource,
APPostedPayments (AP0029 APPYM), is GET only (Endpoint Reference). So Sage is
read (APTCRO) for every matched payment in one query:
- it carries this UUID → confirmed (outbound record kind "complement", key
  DOCNBR, its outside id the complement's UUID), whoever entered it;
- it carries another UUID → a person must check which is right; left alone;
- it carries none → a to-do for staff (the record waits for a person, on the
  attention page and the payments page): which UUID and date to enter on
  which payment; the next cycle reads Sage again and confirms it once
  someone has.
As an exporter its "send" only reads (`writes = False`): nothing is in flight,
so nothing is marked pending and a cycle with nothing new writes nothing.
The same code runs for every tenant, sandbox or production: nothing here
writes to a Sage database or depends on its engine.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _

from cfdi.models import Cfdi
from cfdi.parsing import ParseError, extract_facts, parse_xml
from sync.engine.context import StepContext, StepResult
from sync.engine.exporter import Built, Exporter, Job, Records, export
from sync.engine.outbox import Confirmed, Failed, Needs, Result, Waiting
from sync.models import Outbound, Payment, PaymentLine
from sync.payment_payload import payment_optional_fields
from sync.portal.client import PortalClient
from sync.portal.errors import PortalError
from sync.portal.schemas import CfdiExternResponse
from sync.sage.values import trimmed, uuid_key
from tenants.sage_db import sage_alias

KINDS = (Outbound.Kind.COMPLEMENT,)
READ_BACK_CHUNK = 400  # (batch, entry) pairs a query: SQL Server takes at most 2,100 parameters
NOT_IN_SAGE = "complement_not_in_sage"
OTHER_IN_SAGE = "other_complement_in_sage"


@dataclass
class Complement:
    uuid: str
    stamped: dt.date | None
    docnbr_hint: str = ""
    paid: list[tuple[str, Decimal | None]] = field(default_factory=list)  # (invoice UUID, ImpPagado)


@dataclass
class Match:
    payment: Payment
    complement: Complement


def run(ctx: StepContext) -> StepResult:
    return export(ComplementCheck(ctx))


class ComplementCheck(Exporter[Match]):
    kind = Outbound.Kind.COMPLEMENT
    name = "payment_complement"
    target = "sage"
    writes = False

    def key(self, item: Match) -> str:
        return item.payment.docnbr

    def changed(self, keys: frozenset[str] | None) -> Iterator[list[Match]]:
        # Every complement record in one read: which payments are done and which UUIDs are recorded.
        records = {r.key: r for r in Outbound.objects.filter(tenant_id=self.ctx.tenant_id, kind=self.kind)}
        self.outbox.known.update(records)
        done = {key for key, r in records.items() if r.state == Outbound.State.CONFIRMED}
        payments = Payment.objects.filter(tenant_id=self.ctx.tenant_id).exclude(state=Payment.State.REVERSED)
        if keys is not None:
            payments = payments.filter(docnbr__in=keys)
        waiting = [p for p in payments.prefetch_related("lines") if p.docnbr not in done]
        if not waiting:
            self.ctx.log(_("every Sage payment already has its payment complement, or there is none"))
            return
        matcher = Matcher(waiting, {r.outside_id for r in records.values() if r.state == Outbound.State.CONFIRMED})
        matches = []
        for complement in complements(self.ctx, waiting, matcher):
            self.ctx.heartbeat()
            payment = matcher.payment_for(complement)
            if payment is None:
                self.ctx.result.skipped += 1
                continue
            matches.append(Match(payment, complement))
            matcher.by_docnbr.pop(payment.docnbr, None)
        self.ctx.log(_("%(n)s payment(s) without a complement; %(matched)s matched to one") % {
            "n": len(waiting), "matched": len(matches)})
        yield matches

    def build(self, items: list[Match], records: Records,
              found: dict[str, Confirmed]) -> dict[str, Built | Failed | Waiting | Confirmed]:
        return {m.payment.docnbr: Built({"docnbr": m.payment.docnbr, "values": self.values(m.complement)},
                                        action="record", label=m.payment.docnbr) for m in items}

    def send(self, jobs: list[Job[Match]]) -> dict[str, Result]:
        """One read of Sage for every matched payment: each one there, somebody else's, or to be entered."""
        tenant = self.ctx.tenant
        on_sage = self.read_back([job.item.payment for job in jobs])
        results: dict[str, Result] = {}
        for job in jobs:
            payment, complement = job.item.payment, job.item.complement
            folio = on_sage.get((payment.batch, payment.entry), {}).get(tenant.folio_optfield.upper(), "")
            if uuid_key(folio) == complement.uuid:
                self.ctx.log(_("payment %(docnbr)s: complement %(uuid)s is in Sage") % {
                    "docnbr": payment.docnbr, "uuid": complement.uuid})
                results[job.key] = Confirmed(complement.uuid, ids={"complement": complement.uuid}, counted="updated")
            elif folio:
                message = _("The Sage payment %(docnbr)s already carries payment CFDI %(folio)s in %(field)s; "
                            "complement %(uuid)s was not recorded. Check which one is right.") % {
                    "docnbr": payment.docnbr, "folio": folio, "field": tenant.folio_optfield, "uuid": complement.uuid}
                results[job.key] = Failed(message, code=OTHER_IN_SAGE,
                                          needs=Needs(Outbound.Attention.PERSON, OTHER_IN_SAGE, message))
            else:
                results[job.key] = Waiting(NOT_IN_SAGE, self.todo(payment, complement), person=True)
        return results

    def todo(self, payment: Payment, complement: Complement) -> str:
        """The posted payment lacks the complement: staff enter it in Sage (the Web API cannot)."""
        values = self.values(complement)
        return _("Enter payment CFDI %(uuid)s (stamped %(date)s) on Sage payment %(docnbr)s (batch %(batch)s, "
                 "entry %(entry)s): optional fields %(fields)s. Sage does not let the Web API edit a posted "
                 "payment batch; it is recorded here once Sage shows it.") % {
            "uuid": complement.uuid, "date": values[self.ctx.tenant.payment_stamp_date_optfield] or "—",
            "docnbr": payment.docnbr, "batch": payment.batch, "entry": payment.entry,
            "fields": ", ".join(f"{name} = {value}" for name, value in values.items() if value)}

    def read_back(self, payments: list[Payment]) -> dict[tuple[int, int], dict[str, str]]:
        tenant = self.ctx.tenant
        fields = [tenant.folio_optfield, tenant.payment_stamp_date_optfield]
        found: dict[tuple[int, int], dict[str, str]] = {}
        entries = sorted({(p.batch, p.entry) for p in payments})
        for start in range(0, len(entries), READ_BACK_CHUNK):
            rows = payment_optional_fields(sage_alias(tenant), tenant, entries=entries[start:start + READ_BACK_CHUNK],
                                           fields=fields)
            for row in rows:
                found.setdefault((int(row.CNTBTCH), int(row.CNTENTR)), {})[trimmed(row.OPTFIELD).upper()] = (
                    trimmed(row.VALUE))
        return found

    def values(self, complement: Complement) -> dict[str, str]:
        tenant = self.ctx.tenant
        return {tenant.folio_optfield: complement.uuid,
                tenant.payment_stamp_date_optfield: complement.stamped.isoformat() if complement.stamped else ""}


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
                ctx.log(_("payment CFDI %(uuid)s: %(error)s") % {"uuid": item.cfdi_uuid or item.id, "error": error})
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
    def __init__(self, payments: list[Payment], recorded_uuids: set[str]) -> None:
        self.by_docnbr = {p.docnbr: p for p in payments}
        self.by_invoice: dict[str, list[tuple[Payment, PaymentLine]]] = {}
        for payment in payments:
            for line in payment.lines.all():
                if line.cfdi_uuid:
                    self.by_invoice.setdefault(uuid_key(line.cfdi_uuid), []).append((payment, line))
        self.recorded_uuids = recorded_uuids

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
