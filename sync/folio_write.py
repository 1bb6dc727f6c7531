"""The one write of a confirmed invoice match into Sage: the CFDI's UUID into the document's FOLIOCFD.

Where Sage lets it be written, from Sage's own material:
- An entry of a batch that is not posted: PATCH AP/APInvoiceBatches(batch)
  with Invoices[{BatchNumber, EntryNumber, InvoiceOptionalFields[{
  OptionalField, Value, UpdateOperation}]}] — the Endpoint Reference lists
  PATCH for APInvoiceBatches (AP0020); the Developer Reference ("Updating a
  resource entry (HTTP PATCH)") takes partial payloads whose details are
  addressed by their keys, "Insert" for a new detail, "Update" for an
  existing one. SageWebApi.set_invoice_optional_field sends it.
- A posted document: nowhere. The Endpoint Reference lists APPostedDocuments
  (AP0025, APOBL) under "GET only endpoints", and no process endpoint edits
  posted documents; a PATCH of a posted batch is refused (FIELDS.md), and it
  would not reach APOBLO anyway. Sage's own A/P screens edit optional fields
  only in Invoice Entry, before posting. So the match itself is kept as the
  tie (SageWrite.KEPT): sync.sage.confirm counts the CFDI as in Sage while
  Sage has the document, and the payment check reads its UUID from here.

The outcome is recorded on the InvoiceMatch row alone (sage_write,
sage_error, sage_request), so the engine's outbound record can take this
write over without a second record of the same fact.
"""
from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from cfdi.models import InvoiceMatch, SageWrite
from sync.sage.values import trimmed, uuid_key
from sync.sage.webapi import APInvoice, OptionalField, SageWebApi, WebApiError, WebApiOutcomeUnknown

POSTED = "Posted"  # APIBC BTCHSTTS 3 as the Web API names it (AOM APIBC; sandbox.sage_webapi.schema)


def write_uuid_to_sage(tenant, match: InvoiceMatch) -> str:
    """Tie `match.cfdi`'s UUID to its Sage document; return (and record on the match) what was done."""
    if match.posted or match.sage_batch is None or match.sage_entry is None:
        # No batch entry to write: Sage keeps a posted document's fields (see above).
        return _record(match, SageWrite.KEPT)
    uuid = match.cfdi.uuid.upper()
    field = OptionalField(OptionalField=tenant.folio_optfield, Value=uuid)
    webapi = None
    try:
        webapi = SageWebApi(tenant)
        batch = webapi.invoice_batch(match.sage_batch)
        if batch.BatchStatus == POSTED:
            # Posted since it was proposed: now nothing can write it (see above).
            InvoiceMatch.objects.filter(pk=match.pk).update(posted=True)
            return _record(match, SageWrite.KEPT, request=webapi.snapshot())
        entry = _entry(batch.Invoices, match)
        held = entry.optional_field(tenant.folio_optfield)
        if uuid_key(held) == uuid:
            return _record(match, SageWrite.WRITTEN, request=webapi.snapshot())  # a cut-short confirm had done it
        if trimmed(held):
            raise Refused(_("entry %(entry)s of batch %(batch)s already carries %(field)s %(value)s") % {
                "entry": match.sage_entry, "batch": match.sage_batch, "field": tenant.folio_optfield, "value": held})
        operation = "Update" if held is not None else "Insert"
        try:
            answer = webapi.set_invoice_optional_field(match.sage_batch, match.sage_entry, field, operation=operation)
        except WebApiOutcomeUnknown:
            answer = webapi.invoice_batch(match.sage_batch)  # did Sage take it? ask before anything else
        request = webapi.snapshot()
        if uuid_key(_entry(answer.Invoices, match).optional_field(tenant.folio_optfield)) != uuid:
            raise Refused(_("Sage answered without the UUID in %(field)s") % {"field": tenant.folio_optfield})
        return _record(match, SageWrite.WRITTEN, request=request)
    except WebApiError as error:
        return _record(match, SageWrite.FAILED, error=f"{error.code}: {error.message}",
                       request=webapi.snapshot() if webapi else {})
    except Refused as refusal:
        return _record(match, SageWrite.FAILED, error=str(refusal), request=webapi.snapshot() if webapi else {})
    finally:
        if webapi is not None:
            webapi.close()


class Refused(Exception):
    """The entry is not as the match says; the message says how."""


def _entry(invoices: list[APInvoice], match: InvoiceMatch) -> APInvoice:
    for invoice in invoices:
        if invoice.EntryNumber == match.sage_entry:
            if (trimmed(invoice.VendorNumber).upper(), trimmed(invoice.DocumentNumber).upper()) != (
                    match.vendor.upper(), match.document_number.upper()):
                raise Refused(_("entry %(entry)s of batch %(batch)s is now document %(number)s of vendor %(vendor)s")
                              % {"entry": match.sage_entry, "batch": match.sage_batch,
                                 "number": invoice.DocumentNumber, "vendor": invoice.VendorNumber})
            return invoice
    raise Refused(_("batch %(batch)s has no entry %(entry)s any more") % {"batch": match.sage_batch,
                                                                          "entry": match.sage_entry})


def _record(match: InvoiceMatch, outcome: str, *, error: str = "", request: dict | None = None) -> str:
    InvoiceMatch.objects.filter(pk=match.pk).update(sage_write=outcome, sage_error=error[:500],
                                                    sage_request=request or {}, updated=timezone.now())
    return outcome
