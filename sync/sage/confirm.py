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
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from sync.sage.models import APIBC
from sync.sage.queries import invoice_entries, invoices_by_folio, open_documents, posted_folios
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


def _live_batches(alias: str, batches: set[int]) -> set[int]:
    rows = APIBC.objects.using(alias).filter(CNTBTCH__in=sorted(batches)).exclude(BTCHSTTS=BATCH_DELETED)
    return {int(number) for number in rows.values_list("CNTBTCH", flat=True)}


def _chunks(items: list) -> Iterator[list]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]
