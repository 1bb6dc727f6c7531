"""CFDIs into Sage 300 AP invoice batches, one bad invoice never blocking the rest.

Sage refuses a whole batch when one of its entries is bad. Whatever code Sage
answers with, `send_batch` isolates the invoice: the entry Sage names ("Entry
n") is taken out with Sage's code and message and the others are sent again;
when Sage names none, the batch is halved until the bad invoice is alone.
Only a cause that is the tenant's, not an invoice's — the Web API refusing
the user or the company (TENANT_CODES), or the tenant's distribution code
missing from Sage — stops the step, once, saying what to fix, with the
invoices left untouched for the next cycle.

Before every POST Sage itself is asked which of the batch's UUIDs it already
holds (sync.sage.confirm: posted documents and open batches): a run that died
between Sage's answer and our record finds its invoices there and records
them, with Sage's batch and entry, instead of sending them twice. Each
invoice's outbound record (kind "cfdi_import", key = UUID) is PENDING from
just before the POST until its answer is recorded (sync.engine.exporter);
`send_batch` returns an answer per invoice, and the engine records them.

What an invoice carries (Sage names cited in sync.sage.webapi.APInvoice): the
vendor's currency and, for a foreign one, the CFDI's TipoCambio as the
exchange rate (RateOverridden "Yes"); the CFDI's own taxes, entered per Sage
tax authority (TaxAmountControl "Enter", TaxAmount1..5, the tenant's
`sage_tax_authorities` saying which CFDI tax is which authority) — withheld
taxes as negative amounts — so that Sage's tax and total are the CFDI's;
and, for a credit note, the invoice it corrects as ApplytoDocument. Sage's
answer is read back: an entry whose tax, total or undistributed amount is not
the CFDI's is marked for attention, never passed as imported.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from cfdi import storage
from cfdi.models import Cfdi
from cfdi.parsing import ParseError, parse_xml
from cfdi.taxes import CfdiTax, cfdi_taxes
from sync.engine.context import StepContext
from sync.engine.crashpoints import crashpoint
from sync.engine.outbox import Confirmed, Failed, Needs, Result
from sync.models import Outbound
from sync.sage.confirm import SageDocument, sage_documents
from sync.sage.queries import open_documents
from sync.sage.values import currency, trimmed
from sync.sage.webapi import (
    APInvoice,
    APInvoiceBatch,
    APInvoiceDetail,
    OptionalField,
    SageWebApi,
    WebApiError,
    WebApiPermanentError,
)

VENDOR_UNKNOWN = "vendor_unknown"
OUT_OF_BALANCE = "out_of_balance"
DOCUMENT_NUMBER_MAX = 22   # APIBH.IDINVC char(22)
PO_NUMBER_MAX = 22         # APIBH.PONBR char(22)
DESCRIPTION_MAX = 60
CENT = Decimal("0.01")
# Refusals about the tenant's access to Sage, not about an invoice (Developer
# Reference §12.1): halving a batch cannot help; a person must fix the tenant.
TENANT_CODES = frozenset({
    "Unauthorized", "Forbidden", "ResourceNotFound", "MethodNotAllowed", "InvalidEntityKey", "InvalidAction",
    "InvalidParameters", "Configuration",
})
_ENTRY = re.compile(r"\bEntry\s+(\d+)\b", re.IGNORECASE)


class BatchRefused(Exception):
    """Sage refused the batch for a reason no single invoice causes; the message says what to fix."""


class Unimportable(Exception):
    """This CFDI cannot become a Sage invoice as things stand; the message says why, in one sentence.

    `setting`: a setting of the tenant must change (not the CFDI, nor Sage)."""

    def __init__(self, message: str, *, setting: bool = False) -> None:
        super().__init__(message)
        self.setting = setting

    def needs(self) -> Needs:
        attention = Outbound.Attention.CONFIG if self.setting else Outbound.Attention.PERSON
        return Needs(attention, "unimportable", str(self))


@dataclass(frozen=True)
class VendorFacts:
    vendor_id: str
    currency: str   # APVEN.CURNCODE as Sage spells it (MXP or MXN for pesos)


@dataclass
class Candidate:
    cfdi: Cfdi
    invoice: APInvoice
    note: str = ""  # shown on the CFDI page with the attempt (e.g. how a credit note was applied)

    @property
    def cfdi_uuid(self) -> str:
        return self.cfdi.uuid

    def payload(self) -> dict:
        return self.invoice.payload()


# ---------------------------------------------------------------------------
# Building the invoice

def build_invoice(cfdi: Cfdi, tenant, vendor: VendorFacts, *, apply_to: str | None = None) -> APInvoice:
    """The AP invoice (or credit note) for `cfdi`; Unimportable when Sage could not hold it as the CFDI says."""
    cfdi_currency = currency(cfdi.currency)
    if cfdi_currency != currency(vendor.currency):
        raise Unimportable(_(
            "The CFDI is in %(cfdi)s but Sage vendor %(vendor)s keeps its documents in %(sage)s: Sage enters an "
            "invoice in its vendor's currency. Issue the invoice to a vendor in %(cfdi)s, or change the vendor.")
            % {"cfdi": cfdi_currency, "vendor": vendor.vendor_id, "sage": vendor.currency or "?"})
    foreign = cfdi_currency != "MXN"
    if foreign and not cfdi.exchange_rate:
        raise Unimportable(_("The CFDI is in %(cfdi)s and states no exchange rate (TipoCambio).")
                           % {"cfdi": cfdi_currency})
    taxes = tax_amounts(stored_taxes(cfdi), tenant)
    total = cfdi.total.quantize(CENT, ROUND_HALF_UP)
    # The line is what the total leaves after the taxes: SubTotal − Descuento, or a cent off it when
    # the CFDI rounded its taxes line by line (SAT allows it; cfdi.validation accepts a cent), so that
    # Sage's total and tax are exactly the CFDI's and nothing is left undistributed.
    net = total - sum(taxes.values(), Decimal(0))
    return APInvoice(
        VendorNumber=vendor.vendor_id,
        DocumentNumber=document_number(cfdi),
        DocumentType="CreditNote" if cfdi.kind == "E" else "Invoice",
        ApplytoDocument=apply_to or None,
        InvoiceDescription=(cfdi.issuer_name or f"CFDI {cfdi.uuid}")[:DESCRIPTION_MAX],
        DocumentDate=timezone.localtime(cfdi.issued).date() if cfdi.issued else None,
        PONumber=po_number(cfdi) or None,
        CurrencyCode=vendor.currency or None,
        RateOverridden="Yes" if foreign else None,
        ExchangeRate=cfdi.exchange_rate if foreign else None,
        TaxAmountControl="Enter",
        TaxAmount1=taxes.get(1), TaxAmount2=taxes.get(2), TaxAmount3=taxes.get(3), TaxAmount4=taxes.get(4),
        TaxAmount5=taxes.get(5),
        DocumentTotalIncludingTax=total,
        InvoiceOptionalFields=[OptionalField(OptionalField=tenant.folio_optfield, Value=cfdi.uuid)],
        InvoiceDetails=[APInvoiceDetail(LineNumber=20, DistributionCode=tenant.invoice_distribution_code,
                                        DistributedAmount=net)],
    )


def tax_amounts(taxes: list[CfdiTax], tenant) -> dict[int, Decimal]:
    """Sage tax authority (1..5) → the CFDI's amount for it; withheld taxes count negative."""
    positions = tenant.sage_tax_authorities or {}
    amounts: dict[int, Decimal] = {}
    for tax in taxes:
        if tax.exempt or not tax.amount:
            continue
        position = positions.get(tax.key)
        if position is None:
            raise Unimportable(_(
                "The CFDI has %(tax)s of %(amount)s and the tenant names no Sage tax authority for it: add "
                "\"%(key)s\" to the tenant's Sage tax authorities.")
                % {"tax": tax.describe(), "amount": tax.amount, "key": tax.key}, setting=True)
        amounts[position] = amounts.get(position, Decimal(0)) + tax.signed
    return {n: value.quantize(CENT, ROUND_HALF_UP) for n, value in sorted(amounts.items())}


def stored_taxes(cfdi: Cfdi) -> list[CfdiTax]:
    """The CFDI's tax lines as read at download; a row stored before they were kept reads its original once."""
    if cfdi.tax_lines is None:
        try:
            root = parse_xml(storage.read_original(cfdi.sha256)) if cfdi.sha256 else None
        except (OSError, ParseError):
            root = None
        if root is None:
            raise Unimportable(_("The original XML of the CFDI cannot be read from the CFDI storage, so its taxes "
                                 "are unknown; check the storage (setting SAGECONNECT_MEDIA_ROOT)."), setting=True)
        cfdi.tax_lines = [tax.as_json() for tax in cfdi_taxes(root)]
        Cfdi.objects.filter(pk=cfdi.pk).update(tax_lines=cfdi.tax_lines)
    return [CfdiTax.from_json(line) for line in cfdi.tax_lines]


def document_number(cfdi: Cfdi) -> str:
    for candidate in (cfdi.document_number, cfdi.folio):
        if candidate and len(candidate) <= DOCUMENT_NUMBER_MAX:
            return candidate
    # No series/folio that fits: the UUID, which is unique, cut to Sage's 22.
    return cfdi.uuid.replace("-", "")[:DOCUMENT_NUMBER_MAX]


def po_number(cfdi: Cfdi) -> str:
    for order in cfdi.portal_metadata.get("purchase_orders") or []:
        if isinstance(order, dict):
            number = str(order.get("purchase_order_external_id") or order.get("external_id") or "").strip()
            if number:
                return number[:PO_NUMBER_MAX]
    # What the original's own AddendaEmisor/OrdenCompra named, read once when it was downloaded.
    return cfdi.addenda_po_number[:PO_NUMBER_MAX]


# ---------------------------------------------------------------------------
# A credit note and the invoice it corrects

@dataclass
class Application:
    apply_to: str = ""     # Sage document number to apply to
    note: str = ""         # why applied / why not, shown on the CFDI page
    wait: bool = False     # the invoice is in Sage but not posted yet: try again next cycle


def credit_application(cfdi: Cfdi, vendor_id: str, related: dict[str, SageDocument]) -> Application:
    """Apply to the first related invoice Sage can apply a credit note to (an open posted invoice of
    the same vendor: Sage's own Apply-To finder, SDK ViewFinderProperties.js "ApplyToDocument")."""
    if not cfdi.related_uuids:
        return Application(note=_("Imported unapplied: the credit note names no related CFDI."))
    reasons = []
    for uuid in cfdi.related_uuids:
        document = related.get(uuid.upper())
        if document is None:
            reasons.append(_("the invoice it credits (%(uuid)s) is not in Sage") % {"uuid": uuid})
        elif document.vendor != vendor_id:
            reasons.append(_("invoice %(number)s (%(uuid)s) belongs to Sage vendor %(vendor)s")
                           % {"number": document.number, "uuid": uuid, "vendor": document.vendor})
        elif document.document_type != 1:
            reasons.append(_("%(number)s (%(uuid)s) is not an invoice in Sage") % {"number": document.number,
                                                                                  "uuid": uuid})
        elif not document.posted:
            return Application(wait=True, note=_(
                "Waits for invoice %(number)s (%(uuid)s, Sage batch %(batch)s) to be posted: Sage applies a credit "
                "note only to a posted invoice.") % {"number": document.number, "uuid": uuid,
                                                     "batch": document.batch})
        elif document.fully_paid:
            reasons.append(_("invoice %(number)s (%(uuid)s) is fully paid in Sage") % {"number": document.number,
                                                                                      "uuid": uuid})
        else:
            return Application(apply_to=document.number, note=_(
                "Applied to invoice %(number)s (%(uuid)s).") % {"number": document.number, "uuid": uuid})
    return Application(note=_("Imported unapplied: %(reasons)s.") % {"reasons": "; ".join(reasons)})


# ---------------------------------------------------------------------------
# Sending a batch

Answers = dict[str, Result]


def send_batch(ctx: StepContext, webapi: SageWebApi, alias: str, candidates: list[Candidate],
               answers: Answers) -> None:
    """Import `candidates` as one or more AP batches; every one gets its answer, or none (the engine then
    leaves it unconfirmed, to be asked Sage about first). A refusal that is the tenant's raises BatchRefused."""
    pending = refuse_posted_duplicates(ctx, alias, recover_from_sage(ctx, alias, candidates, answers), answers)
    while pending:
        try:
            answer = post(webapi, pending)
        except WebApiPermanentError as error:
            if error.code in TENANT_CODES or names_tenant_setting(ctx.tenant, error):
                raise BatchRefused(tenant_problem(ctx.tenant, error)) from None
            culprit = culprit_of(error, pending)
            if culprit is None:
                bisect(ctx, webapi, alias, pending, answers)
                return
            answers[culprit.cfdi_uuid] = refusal(ctx, culprit, error)
            pending = [c for c in pending if c is not culprit]
            pending = recover_from_sage(ctx, alias, pending, answers)
            continue
        except WebApiError as error:
            # Busy, down, or the answer was lost: the invoices stay PENDING, so the
            # next try asks Sage before resending.
            for candidate in pending:
                answers[candidate.cfdi_uuid] = Failed(f"{error.code}: {error.message}", code=error.code)
            ctx.log(_("Sage did not take a batch of %(n)s invoice(s) (%(error)s); they are tried again later.")
                    % {"n": len(pending), "error": error})
            return
        crashpoint("cfdi_import:after_post")
        answered(ctx, pending, answer, answers)
        return


def names_tenant_setting(tenant, error: WebApiPermanentError) -> bool:
    """Sage refusing the tenant's distribution code is the tenant's problem, whichever entry it names."""
    code = (tenant.invoice_distribution_code or "").strip().upper()
    return bool(code) and "distribution code" in error.message.lower() and code in error.message.upper()


def tenant_problem(tenant, error: WebApiPermanentError) -> str:
    if names_tenant_setting(tenant, error):
        return _("Sage refuses the tenant's invoice distribution code %(code)s (%(sage)s): set 'invoice "
                 "distribution code' on tenant %(tenant)s to an AP distribution code Sage has.") % {
            "code": tenant.invoice_distribution_code, "sage": error.message, "tenant": tenant.code}
    return _("Sage refused the import for tenant %(tenant)s (%(code)s: %(sage)s): check the tenant's Sage 300 "
             "Web API user, its rights and the company.") % {"tenant": tenant.code, "code": error.code,
                                                               "sage": error.message}


def bisect(ctx: StepContext, webapi: SageWebApi, alias: str, pending: list[Candidate], answers: Answers) -> None:
    middle = len(pending) // 2
    send_batch(ctx, webapi, alias, pending[:middle], answers)
    send_batch(ctx, webapi, alias, pending[middle:], answers)


def post(webapi: SageWebApi, pending: list[Candidate]) -> APInvoiceBatch:
    batch = APInvoiceBatch(BatchDate=timezone.localdate(), Description=batch_description(pending),
                           Invoices=[c.invoice for c in pending])
    crashpoint("cfdi_import:before_post")
    return webapi.create_invoice_batch(batch)


def batch_description(pending: list[Candidate]) -> str:
    return (_("SageConnect CFDI import, %(n)s invoice(s)") % {"n": len(pending)})[:DESCRIPTION_MAX]


def culprit_of(error: WebApiPermanentError, pending: list[Candidate]) -> Candidate | None:
    match = _ENTRY.search(error.message)
    if match and 1 <= int(match.group(1)) <= len(pending):
        return pending[int(match.group(1)) - 1]
    if len(pending) == 1:
        return pending[0]
    return None


def in_sage(ctx: StepContext, alias: str, uuids: list[str]) -> dict[str, Confirmed]:
    """What Sage already holds of these CFDIs (posted documents and open batches), as found."""
    found = sage_documents(alias, ctx.tenant, uuids) if uuids else {}
    held = {}
    for uuid, document in found.items():
        where = (_("batch %(batch)s, entry %(entry)s") % {"batch": document.batch, "entry": document.entry}
                 if document.batch else _("document %(number)s") % {"number": document.number})
        state = _("posted") if document.posted else _("not yet posted")
        held[uuid] = Confirmed(f"{document.batch}-{document.entry}", ids={"sage_batch": document.batch,
                                                                          "sage_entry": document.entry},
                               note=_("Already in Sage (%(where)s, %(state)s); not sent again.") % {
                                   "where": where, "state": state}, counted="skipped")
    return held


def recover_from_sage(ctx: StepContext, alias: str, candidates: list[Candidate], answers: Answers) -> list[Candidate]:
    """Answer as found what Sage already shows; return the rest."""
    if not candidates:
        return []
    found = in_sage(ctx, alias, [c.cfdi_uuid for c in candidates])
    for candidate in candidates:
        if candidate.cfdi_uuid in found:
            answers[candidate.cfdi_uuid] = dataclasses.replace(found[candidate.cfdi_uuid], recovered=True)
    return [c for c in candidates if c.cfdi_uuid not in found]


def refuse_posted_duplicates(ctx: StepContext, alias: str, candidates: list[Candidate],
                             answers: Answers) -> list[Candidate]:
    """Answer as Sage would (RecordDuplicate) the invoices whose document number Sage already holds posted for
    their vendor (APOBL) — an invoice keyed by hand without its UUID, or a folio reused — without sending
    them: Sage names one refused entry per answer, so each would cost the whole batch's round trip again.
    One read for the lot; Sage stays the judge of the rest (an entry in another batch, a case it folds)."""
    if not candidates:
        return []
    keys = {(c.invoice.VendorNumber, c.invoice.DocumentNumber) for c in candidates}
    posted = {(trimmed(row.IDVEND).upper(), trimmed(row.IDINVC).upper())
              for row in open_documents(alias, ctx.tenant, documents=keys)}
    rest = []
    for candidate in candidates:
        vendor, number = candidate.invoice.VendorNumber, candidate.invoice.DocumentNumber
        if (vendor.upper(), number.upper()) not in posted:
            rest.append(candidate)
            continue
        answers[candidate.cfdi_uuid] = refusal(ctx, candidate, WebApiPermanentError(
            "RecordDuplicate", _("posted document %(number)s of vendor %(vendor)s (APOBL), read before sending")
            % {"number": number, "vendor": vendor}))
    return rest


# ---------------------------------------------------------------------------
# What Sage answered, per invoice

def answered(ctx: StepContext, pending: list[Candidate], answer: APInvoiceBatch, answers: Answers) -> None:
    by_uuid = {(invoice.optional_field(ctx.tenant.folio_optfield) or "").strip().upper(): invoice
               for invoice in answer.Invoices}
    for position, candidate in enumerate(pending):
        invoice = by_uuid.get(candidate.cfdi_uuid)
        if invoice is None and position < len(answer.Invoices):
            invoice = answer.Invoices[position]
        entry = invoice.EntryNumber if invoice is not None else None
        attention = out_of_balance(candidate, invoice, answer.BatchNumber)
        if attention:
            ctx.log(attention)
        answers[candidate.cfdi_uuid] = Confirmed(
            f"{answer.BatchNumber}-{entry}", ids={"sage_batch": answer.BatchNumber, "sage_entry": entry},
            note=candidate.note,
            needs=Needs(Outbound.Attention.PERSON, OUT_OF_BALANCE, attention) if attention else None)
    ctx.log(_("Sage batch %(batch)s: %(n)s invoice(s) imported") % {"batch": answer.BatchNumber, "n": len(pending)})


def out_of_balance(candidate: Candidate, answer: APInvoice | None, batch: int | None) -> str:
    """Sage's word on the entry, against what was sent: '' when its tax and total are the CFDI's."""
    sent = candidate.invoice
    if answer is None:
        return ""
    wanted_tax = sum(sent.tax_amounts().values(), Decimal(0))
    problems = []
    if answer.UndistributedAmount not in (None, Decimal(0)):
        problems.append(_("an undistributed amount of %(amount)s") % {"amount": answer.UndistributedAmount})
    if answer.TaxTotal is not None and answer.TaxTotal != wanted_tax:
        problems.append(_("tax %(sage)s where the CFDI's is %(cfdi)s") % {"sage": answer.TaxTotal, "cfdi": wanted_tax})
    total = answer.DocumentTotalIncludingTax
    if total is not None and total != sent.DocumentTotalIncludingTax:
        problems.append(_("total %(sage)s where the CFDI's is %(cfdi)s") % {
            "sage": answer.DocumentTotalIncludingTax, "cfdi": sent.DocumentTotalIncludingTax})
    if not problems:
        return ""
    return _("CFDI %(uuid)s is in Sage batch %(batch)s, entry %(entry)s, with %(problems)s: correct the entry in "
             "Sage before posting it (Sage does not post an entry out of balance).") % {
        "uuid": candidate.cfdi_uuid, "batch": batch, "entry": answer.EntryNumber, "problems": "; ".join(problems)}


def refusal(ctx: StepContext, candidate: Candidate, error: WebApiPermanentError) -> Failed:
    """One invoice Sage will not take as it stands; the others go on."""
    ctx.log(_("CFDI %(uuid)s refused by Sage: %(code)s %(message)s")
            % {"uuid": candidate.cfdi_uuid, "code": error.code, "message": error.message})
    if error.code == "RecordDuplicate":
        message = _("Sage already has document number %(document)s for vendor %(vendor)s, without this CFDI's "
                    "UUID: check whether it is the same invoice captured by hand, or a supplier reusing a folio. "
                    "(Sage: %(sage)s)") % {"document": candidate.invoice.DocumentNumber,
                                           "vendor": candidate.invoice.VendorNumber, "sage": error.message}
        return Failed(message, code=error.code, needs=Needs(Outbound.Attention.PERSON, error.code, message))
    return Failed(error.message, code=error.code, permanent=True)
