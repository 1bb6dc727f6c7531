"""Is a CFDI in Sage? Asked of Sage itself, never answered from our own records.

A CFDI is in Sage when a document carries its UUID in the FOLIOCFD optional
field, either
- as a posted document: APOBLO (AOM view AP0403, "Open Document Optional
  Fields") of an APOBL row — what survives Sage's Clear History, which
  removes posted batches but keeps posted documents, and how invoices an older
  importer brought in are found; or
- as an entry not in error of a batch that was not deleted (APIBHO/APIBH/APIBC)
  — an invoice imported but not yet posted.
The import step asks before every POST (a crash between Sage's answer and our
record must not import twice) and the payment upload asks before sending a
payment that names the CFDI.

One answer comes from a person instead: a posted document keyed by hand
without its UUID, which a person matched to the CFDI (sync.matching). Sage
lets nothing write a posted document's optional fields (sync.folio_write), so
the confirmed match is the tie — counted only while Sage still has that
document and gives it no other UUID.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from cfdi.models import InvoiceMatch, MatchState, SageWrite
from sync.sage.models import APIBC
from sync.sage.queries import (
    invoice_entries,
    invoices_by_folio,
    open_documents,
    posted_folios,
    posted_folios_of_documents,
)
from sync.sage.values import trimmed, uuid_key

BATCH_DELETED = 4
# SQL Server takes at most 2,100 parameters a statement; each UUID is asked
# in two spellings and each entry key is two parameters.
CHUNK = 400


@dataclass(frozen=True)
class SageDocument:
    """Where Sage holds a CFDI: vendor, document number and, when known, batch and entry."""

    vendor: str
    number: str
    batch: int | None
    entry: int | None
    posted: bool
    fully_paid: bool = False
    document_type: int = 1  # 1 invoice, 2 debit note, 3 credit note (APOBL TXTTRXTYPE / APIBH TEXTTRX)


def sage_documents(alias: str, tenant, uuids: Iterable[str]) -> dict[str, SageDocument]:
    """UUID (upper case) → the Sage document that carries it."""
    wanted = sorted({uuid_key(u) for u in uuids if uuid_key(u)})
    found: dict[str, SageDocument] = {}
    for chunk in _chunks(wanted):
        found.update(_posted(alias, tenant, chunk))
        found.update({u: d for u, d in _entered(alias, tenant, [u for u in chunk if u not in found]).items()})
        found.update(_matched(alias, tenant, [u for u in chunk if u not in found]))
    return found


def imported_entries(alias: str, tenant, uuids: Iterable[str]) -> dict[str, tuple[int | None, int | None]]:
    """UUID (upper case) → (batch, entry) of the Sage document that carries it."""
    return {uuid: (doc.batch, doc.entry) for uuid, doc in sage_documents(alias, tenant, uuids).items()}


def confirmed_in_sage(alias: str, tenant, uuids: Iterable[str]) -> set[str]:
    return set(sage_documents(alias, tenant, uuids))


def _posted(alias: str, tenant, uuids: list[str]) -> dict[str, SageDocument]:
    if not uuids:
        return {}
    folio_of = {(trimmed(row.IDVEND), trimmed(row.IDINVC)): uuid_key(row.VALUE)
                for row in posted_folios(alias, tenant, uuids=uuids)}
    found: dict[str, SageDocument] = {}
    for keys in _chunks(sorted(folio_of)):
        for row in open_documents(alias, tenant, documents=keys):
            key = (trimmed(row.IDVEND), trimmed(row.IDINVC))
            found.setdefault(folio_of[key], SageDocument(
                key[0], key[1], int(row.CNTBTCH) or None, int(row.CNTITEM) or None, posted=True,
                fully_paid=row.SWPAID == 1, document_type=row.TXTTRXTYPE))
    return found


def _entered(alias: str, tenant, uuids: list[str]) -> dict[str, SageDocument]:
    if not uuids:
        return {}
    folios = {
        (int(batch), int(entry)): uuid_key(value)
        for batch, entry, value in invoices_by_folio(alias, tenant, uuids=uuids).values_list(
            "CNTBTCH", "CNTITEM", "VALUE")
    }
    found: dict[str, SageDocument] = {}
    for keys in _chunks(sorted(folios)):
        live = _live_batches(alias, {batch for batch, _ in keys})
        rows = invoice_entries(alias, tenant, entries=keys).filter(ERRENTRY=0)
        for row in rows:
            key = (int(row.CNTBTCH), int(row.CNTITEM))
            if key[0] in live:
                found.setdefault(folios[key], SageDocument(
                    trimmed(row.IDVEND), trimmed(row.IDINVC), key[0], key[1], posted=False,
                    document_type=row.TEXTTRX))
    return found


def _matched(alias: str, tenant, uuids: list[str]) -> dict[str, SageDocument]:
    if not uuids:
        return {}
    uuid_of = {(m.vendor, m.document_number): uuid_key(m.cfdi.uuid) for m in InvoiceMatch.objects.filter(
        tenant=tenant, state=MatchState.CONFIRMED, sage_write=SageWrite.KEPT, cfdi__uuid__in=uuids,
    ).select_related("cfdi")}
    if not uuid_of:
        return {}
    keys = sorted(uuid_of)
    # Sage's own FOLIOCFD wins: a document that has since gained another UUID is that one's.
    other = {(trimmed(r.IDVEND), trimmed(r.IDINVC)) for r in posted_folios_of_documents(alias, tenant, documents=keys)
             if uuid_key(r.VALUE) and uuid_key(r.VALUE) != uuid_of.get((trimmed(r.IDVEND), trimmed(r.IDINVC)))}
    found: dict[str, SageDocument] = {}
    for row in open_documents(alias, tenant, documents=[key for key in keys if key not in other]):
        key = (trimmed(row.IDVEND), trimmed(row.IDINVC))
        if key in uuid_of:
            found.setdefault(uuid_of[key], SageDocument(
                key[0], key[1], int(row.CNTBTCH) or None, int(row.CNTITEM) or None, posted=True,
                fully_paid=row.SWPAID == 1, document_type=row.TXTTRXTYPE))
    return found


def matched_uuids(tenant, documents: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(vendor, document number) → the UUID a person's confirmed match ties to that posted document."""
    wanted = set(documents)
    if not wanted:
        return {}
    rows = InvoiceMatch.objects.filter(tenant=tenant, state=MatchState.CONFIRMED, sage_write=SageWrite.KEPT,
                                       vendor__in=sorted({vendor for vendor, _ in wanted}))
    return {(m.vendor, m.document_number): uuid_key(m.cfdi.uuid) for m in rows.select_related("cfdi")
            if (m.vendor, m.document_number) in wanted}


def _live_batches(alias: str, batches: set[int]) -> set[int]:
    rows = APIBC.objects.using(alias).filter(CNTBTCH__in=sorted(batches)).exclude(BTCHSTTS=BATCH_DELETED)
    return {int(number) for number in rows.values_list("CNTBTCH", flat=True)}


def _chunks(items: list) -> Iterator[list]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]
