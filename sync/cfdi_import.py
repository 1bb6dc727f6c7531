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
invoice's SyncLink (kind "cfdi_import", key = UUID) is PENDING from just
before the POST until its outcome is recorded, as sync.idempotence describes.

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

import hashlib
import json
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cfdi import storage
from cfdi.models import Cfdi, CfdiStatus, ImportAttempt, ImportOutcome
from cfdi.parsing import ParseError, parse_xml
from cfdi.taxes import CfdiTax, cfdi_taxes
from sync import idempotence
from sync.crashpoints import crashpoint
from sync.idempotence import strip_secrets
from sync.sage.confirm import SageDocument, sage_documents
from sync.sage.values import currency
from sync.sage.webapi import (
    APInvoice,
    APInvoiceBatch,
    APInvoiceDetail,
    OptionalField,
    SageWebApi,
    WebApiError,
    WebApiPermanentError,
)
from sync.steps.base import StepContext


LINK_KIND = "cfdi_import"
VENDOR_UNKNOWN = "vendor_unknown"
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
    """This CFDI cannot become a Sage invoice as things stand; the message says why, in one sentence."""


@dataclass(frozen=True)
class VendorFacts:
    vendor_id: str
    currency: str   # APVEN.CURNCODE as Sage spells it (MXP or MXN for pesos)


@dataclass
class Candidate:
    cfdi: Cfdi
    invoice: APInvoice | None  # None: found in Sage before an invoice was built for it
    note: str = ""             # shown on the CFDI page with the attempt (e.g. how a credit note was applied)

    @property
    def cfdi_uuid(self) -> str:
        return self.cfdi.uuid

    def payload(self) -> dict:
        return self.invoice.payload() if self.invoice is not None else {}

    def content_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.payload(), sort_keys=True).encode()).hexdigest()


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
        **{f"TaxAmount{n}": amount for n, amount in taxes.items()},
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
                % {"tax": tax.describe(), "amount": tax.amount, "key": tax.key})
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
                                 "are unknown; check the storage (setting SAGECONNECT_MEDIA_ROOT)."))
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

def send_batch(ctx: StepContext, webapi: SageWebApi, alias: str, candidates: list[Candidate]) -> None:
    """Import `candidates` as one or more AP batches; every one ends recorded or still pending."""
    pending = recover_from_sage(ctx, alias, candidates)
    while pending:
        try:
            answer = post(ctx, webapi, pending)
        except WebApiPermanentError as error:
            if error.code in TENANT_CODES or names_tenant_setting(ctx.tenant, error):
                record_attempts(pending, ImportOutcome.RETRYABLE, error)
                raise BatchRefused(tenant_problem(ctx.tenant, error)) from None
            culprit = culprit_of(error, pending)
            if culprit is None:
                bisect(ctx, webapi, alias, pending, error)
                return
            record_refusal(ctx, culprit, error)
            pending = [c for c in pending if c is not culprit]
            pending = recover_from_sage(ctx, alias, pending)
            continue
        except WebApiError as error:
            # Busy, down, or the answer was lost: the invoices stay pending and
            # their links PENDING, so the next cycle asks Sage before resending.
            record_attempts(pending, ImportOutcome.RETRYABLE, error)
            ctx.result.failed += len(pending)
            ctx.log(_("Sage did not take a batch of %(n)s invoice(s) (%(error)s); they are tried again next cycle.")
                    % {"n": len(pending), "error": error})
            return
        crashpoint("cfdi_import:after_post")
        record_batch(ctx, pending, answer)
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


def bisect(ctx, webapi, alias, pending: list[Candidate], error: WebApiPermanentError) -> None:
    if len(pending) == 1:
        record_refusal(ctx, pending[0], error)
        return
    middle = len(pending) // 2
    send_batch(ctx, webapi, alias, pending[:middle])
    send_batch(ctx, webapi, alias, pending[middle:])


def post(ctx: StepContext, webapi: SageWebApi, pending: list[Candidate]) -> APInvoiceBatch:
    idempotence.mark_pending_many(ctx, LINK_KIND, {c.cfdi_uuid: c.content_hash() for c in pending})
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


def recover_from_sage(ctx: StepContext, alias: str, candidates: list[Candidate]) -> list[Candidate]:
    """Record as imported what Sage already shows; return the rest."""
    if not candidates:
        return []
    found = sage_documents(alias, ctx.tenant, [c.cfdi_uuid for c in candidates])
    rest, recovered = [], []
    for candidate in candidates:
        document = found.get(candidate.cfdi_uuid)
        if document is None:
            rest.append(candidate)
            continue
        ctx.result.skipped += 1
        if ctx.dry_run:
            ctx.log(f"CFDI {candidate.cfdi_uuid} is already in Sage ({document.vendor} {document.number})")
            continue
        where = (_("batch %(batch)s, entry %(entry)s") % {"batch": document.batch, "entry": document.entry}
                 if document.batch else _("document %(number)s") % {"number": document.number})
        state = _("posted") if document.posted else _("not yet posted")
        recovered.append(Imported(candidate, document.batch, document.entry, _(
            "Already in Sage (%(where)s, %(state)s); not sent again.") % {"where": where, "state": state}))
    record_imported(ctx, recovered, ImportOutcome.SKIPPED)
    return rest


def not_in_sage(ctx: StepContext, alias: str, cfdis: list[Cfdi]) -> list[Cfdi]:
    """The CFDIs Sage does not hold yet; the others are recorded as imported, with Sage's numbers."""
    return [c.cfdi for c in recover_from_sage(ctx, alias, [Candidate(cfdi, None) for cfdi in cfdis])]


# ---------------------------------------------------------------------------
# Recording outcomes

@dataclass
class Imported:
    candidate: Candidate
    batch: int | None
    entry: int | None
    message: str = ""
    attention: str = ""  # Sage took it but its amounts are not the CFDI's: a person must look
    extra: dict = field(default_factory=dict)


def record_batch(ctx: StepContext, pending: list[Candidate], answer: APInvoiceBatch) -> None:
    by_uuid = {(invoice.optional_field(ctx.tenant.folio_optfield) or "").strip().upper(): invoice
               for invoice in answer.Invoices}
    imported = []
    for position, candidate in enumerate(pending):
        invoice = by_uuid.get(candidate.cfdi_uuid)
        if invoice is None and position < len(answer.Invoices):
            invoice = answer.Invoices[position]
        entry = invoice.EntryNumber if invoice is not None else None
        attention = out_of_balance(candidate, invoice, answer.BatchNumber)
        imported.append(Imported(candidate, answer.BatchNumber, entry, candidate.note, attention))
    record_imported(ctx, imported, ImportOutcome.IMPORTED)
    ctx.result.created += len(imported)
    ctx.log(_("Sage batch %(batch)s: %(n)s invoice(s) imported") % {"batch": answer.BatchNumber, "n": len(pending)})
    for row in imported:
        if row.attention:
            ctx.log(row.attention)


def out_of_balance(candidate: Candidate, answer: APInvoice | None, batch: int | None) -> str:
    """Sage's word on the entry, against what was sent: '' when its tax and total are the CFDI's."""
    sent = candidate.invoice
    if sent is None or answer is None:
        return ""
    wanted_tax = sum(sent.tax_amounts().values(), Decimal(0))
    problems = []
    if answer.UndistributedAmount not in (None, Decimal(0)):
        problems.append(_("an undistributed amount of %(amount)s") % {"amount": answer.UndistributedAmount})
    if answer.TaxTotal is not None and answer.TaxTotal != wanted_tax:
        problems.append(_("tax %(sage)s where the CFDI's is %(cfdi)s") % {"sage": answer.TaxTotal, "cfdi": wanted_tax})
    if answer.DocumentTotalIncludingTax is not None and answer.DocumentTotalIncludingTax != sent.DocumentTotalIncludingTax:
        problems.append(_("total %(sage)s where the CFDI's is %(cfdi)s") % {
            "sage": answer.DocumentTotalIncludingTax, "cfdi": sent.DocumentTotalIncludingTax})
    if not problems:
        return ""
    return _("CFDI %(uuid)s is in Sage batch %(batch)s, entry %(entry)s, with %(problems)s: correct the entry in "
             "Sage before posting it (Sage does not post an entry out of balance).") % {
        "uuid": candidate.cfdi_uuid, "batch": batch, "entry": answer.EntryNumber, "problems": "; ".join(problems)}


def record_imported(ctx: StepContext, imported: list[Imported], outcome: str) -> None:
    """The CFDIs Sage holds, each with its batch and entry, their attempts and links: a few queries in all."""
    if not imported:
        return
    now = timezone.now()
    with transaction.atomic():
        for row in imported:
            cfdi = row.candidate.cfdi
            cfdi.status = CfdiStatus.NEEDS_ATTENTION if row.attention else CfdiStatus.IMPORTED
            cfdi.sage_batch, cfdi.sage_entry = row.batch, row.entry
            cfdi.imported_at = cfdi.updated = now
            # Sage holds it, so a vendor it once lacked is no longer a problem.
            cfdi.problems = [p for p in cfdi.problems if p.get("code") != VENDOR_UNKNOWN]
        Cfdi.objects.bulk_update([row.candidate.cfdi for row in imported],
                                 ["status", "sage_batch", "sage_entry", "imported_at", "problems", "updated"])
        ImportAttempt.objects.bulk_create(
            ImportAttempt(cfdi=row.candidate.cfdi, sage_batch=row.batch, sage_entry=row.entry, outcome=outcome,
                          message=" ".join(part for part in (row.message, row.attention) if part),
                          request_snapshot=strip_secrets(row.candidate.payload()))
            for row in imported)
        uuids = [row.candidate.cfdi_uuid for row in imported]
        links = idempotence.get_links(ctx, LINK_KIND, uuids)
        missing = {row.candidate.cfdi_uuid: row.candidate.content_hash() for row in imported
                   if row.candidate.cfdi_uuid not in links}
        if missing:
            links.update(idempotence.mark_pending_many(ctx, LINK_KIND, missing))
        idempotence.confirm_many(ctx, [(links[row.candidate.cfdi_uuid], f"{row.batch}-{row.entry}",
                                        row.candidate.payload()) for row in imported], action="import")


def record_refusal(ctx: StepContext, candidate: Candidate, error: WebApiPermanentError) -> None:
    cfdi = candidate.cfdi
    duplicate = error.code == "RecordDuplicate"
    message = error.message
    if duplicate:
        message = _("Sage already has document number %(document)s for vendor %(vendor)s, without this CFDI's "
                    "UUID: check whether it is the same invoice captured by hand, or a supplier reusing a folio. "
                    "(Sage: %(sage)s)") % {"document": candidate.invoice.DocumentNumber,
                                           "vendor": candidate.invoice.VendorNumber, "sage": error.message}
    record_problem(ctx, candidate, error.code, message,
                   status=CfdiStatus.NEEDS_ATTENTION if duplicate else CfdiStatus.FAILED)
    ctx.log(_("CFDI %(uuid)s refused by Sage: %(code)s %(message)s")
            % {"uuid": cfdi.uuid, "code": error.code, "message": error.message})


def record_problem(ctx: StepContext, candidate: Candidate, code: str, message: str, *, status: str) -> None:
    """One invoice that will not go in as it stands: its attempt, status and link say why; the others go on."""
    cfdi = candidate.cfdi
    with transaction.atomic():
        cfdi.status = status
        cfdi.save(update_fields=["status", "updated"])
        ImportAttempt.objects.create(cfdi=cfdi, outcome=ImportOutcome.FAILED, error_code=code,
                                     message=message, request_snapshot=strip_secrets(candidate.payload()))
        link = idempotence.get_link(ctx, LINK_KIND, cfdi.uuid)
        if link is not None:
            idempotence.record_failure(ctx, link, action="import", error=f"{code}: {message}",
                                       permanent=True, snapshot=candidate.payload())
    ctx.result.failed += 1


def record_attempts(pending: list[Candidate], outcome: str, error: WebApiError) -> None:
    ImportAttempt.objects.bulk_create(
        ImportAttempt(cfdi=c.cfdi, outcome=outcome, error_code=error.code, message=error.message,
                      request_snapshot=strip_secrets(c.payload()))
        for c in pending
    )
