"""CFDIs into Sage 300 AP invoice batches, one bad invoice never blocking the rest.

Sage rejects a whole batch when one of its invoices is bad (RecordInvalid,
RecordDuplicate, InvalidPayload naming "Entry n"). `send_batch` takes that
invoice out, records Sage's code and message on it, and sends the others
again; when Sage's message names no entry it bisects the batch until the bad
invoice is alone.

Before every POST Sage itself is asked which of the batch's UUIDs it already
holds (sync.sage.confirm.imported_entries): a run that died between Sage's
answer and our record finds its invoices there and records them, with Sage's
batch and entry, instead of sending them twice. Each invoice's SyncLink
(kind "cfdi_import", key = UUID) is PENDING from just before the POST until
its outcome is recorded, as sync.idempotence describes.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cfdi.models import Cfdi, CfdiStatus, ImportAttempt, ImportOutcome
from sync import idempotence
from sync.crashpoints import crashpoint
from sync.idempotence import strip_secrets
from sync.sage.confirm import imported_entries
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
# Errors that are about one invoice of the batch; any other permanent error
# (credentials, rights, a wrong company) is the batch's, not an invoice's.
INVOICE_CODES = frozenset({"RecordInvalid", "RecordDuplicate", "InvalidPayload"})
_ENTRY = re.compile(r"\bEntry\s+(\d+)\b", re.IGNORECASE)


class BatchRefused(Exception):
    """Sage refused the batch for a reason no single invoice causes; the message says what to fix."""


@dataclass
class Candidate:
    cfdi: Cfdi
    invoice: APInvoice | None  # None: found in Sage before an invoice was built for it

    @property
    def cfdi_uuid(self) -> str:
        return self.cfdi.uuid

    def payload(self) -> dict:
        return self.invoice.payload() if self.invoice is not None else {}

    def content_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.payload(), sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------------------
# Building the invoice

def build_invoice(cfdi: Cfdi, tenant, vendor_id: str) -> APInvoice:
    distributed = (cfdi.subtotal - cfdi.discount).quantize(CENT, ROUND_HALF_UP)
    return APInvoice(
        VendorNumber=vendor_id,
        DocumentNumber=document_number(cfdi),
        DocumentType="CreditNote" if cfdi.kind == "E" else "Invoice",
        InvoiceDescription=(cfdi.issuer_name or f"CFDI {cfdi.uuid}")[:DESCRIPTION_MAX],
        DocumentDate=timezone.localtime(cfdi.issued).date() if cfdi.issued else None,
        PONumber=po_number(cfdi) or None,
        DocumentTotalIncludingTax=cfdi.total.quantize(CENT, ROUND_HALF_UP),
        InvoiceOptionalFields=[OptionalField(OptionalField=tenant.folio_optfield, Value=cfdi.uuid)],
        # Sage works the tax out from the vendor's tax group; the difference
        # between the total and this line is what it must come to.
        InvoiceDetails=[APInvoiceDetail(LineNumber=20, DistributionCode=tenant.invoice_distribution_code,
                                        DistributedAmount=distributed)],
    )


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
# Sending a batch

def send_batch(ctx: StepContext, webapi: SageWebApi, alias: str, candidates: list[Candidate]) -> None:
    """Import `candidates` as one or more AP batches; every one ends recorded or still pending."""
    pending = recover_from_sage(ctx, alias, candidates)
    while pending:
        try:
            answer = post(ctx, webapi, pending)
        except WebApiPermanentError as error:
            if error.code not in INVOICE_CODES:
                record_attempts(pending, ImportOutcome.RETRYABLE, error)
                raise BatchRefused(error.message) from None
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
    found = imported_entries(alias, ctx.tenant, [c.cfdi_uuid for c in candidates])
    rest, recovered = [], []
    for candidate in candidates:
        if candidate.cfdi_uuid not in found:
            rest.append(candidate)
            continue
        batch, entry = found[candidate.cfdi_uuid]
        ctx.result.skipped += 1
        if ctx.dry_run:
            ctx.log(f"CFDI {candidate.cfdi_uuid} is already in Sage (batch {batch}, entry {entry})")
            continue
        recovered.append(Imported(candidate, batch, entry, _(
            "Already in Sage (batch %(batch)s, entry %(entry)s); not sent again.") % {"batch": batch, "entry": entry}))
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


def record_batch(ctx: StepContext, pending: list[Candidate], answer: APInvoiceBatch) -> None:
    by_uuid = {(invoice.optional_field(ctx.tenant.folio_optfield) or "").strip().upper(): invoice
               for invoice in answer.Invoices}
    imported = []
    for position, candidate in enumerate(pending):
        invoice = by_uuid.get(candidate.cfdi_uuid)
        if invoice is None and position < len(answer.Invoices):
            invoice = answer.Invoices[position]
        imported.append(Imported(candidate, answer.BatchNumber, invoice.EntryNumber if invoice is not None else None))
    record_imported(ctx, imported, ImportOutcome.IMPORTED)
    ctx.result.created += len(imported)
    ctx.log(_("Sage batch %(batch)s: %(n)s invoice(s) imported") % {"batch": answer.BatchNumber, "n": len(pending)})


def record_imported(ctx: StepContext, imported: list[Imported], outcome: str) -> None:
    """The CFDIs Sage holds, each with its batch and entry, their attempts and links: a few queries in all."""
    if not imported:
        return
    now = timezone.now()
    with transaction.atomic():
        for row in imported:
            cfdi = row.candidate.cfdi
            cfdi.status, cfdi.sage_batch, cfdi.sage_entry = CfdiStatus.IMPORTED, row.batch, row.entry
            cfdi.imported_at = cfdi.updated = now
            # Sage holds it, so a vendor it once lacked is no longer a problem.
            cfdi.problems = [p for p in cfdi.problems if p.get("code") != VENDOR_UNKNOWN]
        Cfdi.objects.bulk_update([row.candidate.cfdi for row in imported],
                                 ["status", "sage_batch", "sage_entry", "imported_at", "problems", "updated"])
        ImportAttempt.objects.bulk_create(
            ImportAttempt(cfdi=row.candidate.cfdi, sage_batch=row.batch, sage_entry=row.entry, outcome=outcome,
                          message=row.message, request_snapshot=strip_secrets(row.candidate.payload()))
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
    with transaction.atomic():
        cfdi.status = CfdiStatus.NEEDS_ATTENTION if duplicate else CfdiStatus.FAILED
        cfdi.save(update_fields=["status", "updated"])
        ImportAttempt.objects.create(cfdi=cfdi, outcome=ImportOutcome.FAILED, error_code=error.code,
                                     message=message, request_snapshot=strip_secrets(candidate.payload()))
        link = idempotence.get_link(ctx, LINK_KIND, cfdi.uuid)
        if link is not None:
            idempotence.record_failure(ctx, link, action="import", error=f"{error.code}: {message}",
                                       permanent=True, snapshot=candidate.payload())
    ctx.result.failed += 1
    ctx.log(_("CFDI %(uuid)s refused by Sage: %(code)s %(message)s")
            % {"uuid": cfdi.uuid, "code": error.code, "message": error.message})


def record_attempts(pending: list[Candidate], outcome: str, error: WebApiError) -> None:
    ImportAttempt.objects.bulk_create(
        ImportAttempt(cfdi=c.cfdi, outcome=outcome, error_code=error.code, message=error.message,
                      request_snapshot=strip_secrets(c.payload()))
        for c in pending
    )
