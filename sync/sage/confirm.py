"""Is a CFDI in Sage? Asked of Sage itself, never answered from our own records.

A CFDI counts as imported when an AP invoice entry that is not in error, in a
batch that was not deleted, carries its UUID in the FOLIOCFD optional field.
The import step asks before every POST (a crash between Sage's answer and our
record must not import twice) and the payment upload asks before sending a
payment that names the CFDI.
"""
from __future__ import annotations

from typing import Iterable, Iterator

from sync.sage.models import APIBC
from sync.sage.queries import invoice_entries, invoices_by_folio
from sync.sage.values import uuid_key

BATCH_DELETED = 4
# SQL Server takes at most 2,100 parameters a statement; each UUID is asked
# in two spellings and each entry key is two parameters.
CHUNK = 400


def imported_entries(alias: str, tenant, uuids: Iterable[str]) -> dict[str, tuple[int, int]]:
    """UUID (upper case) → (batch, entry) of the Sage invoice that carries it."""
    found: dict[str, tuple[int, int]] = {}
    for chunk in _chunks(sorted({uuid_key(u) for u in uuids if uuid_key(u)})):
        folios = {
            (int(batch), int(entry)): uuid_key(value)
            for batch, entry, value in invoices_by_folio(alias, tenant, uuids=chunk).values_list(
                "CNTBTCH", "CNTITEM", "VALUE"
            )
        }
        for keys in _chunks(sorted(folios)):
            live = _live_batches(alias, {batch for batch, _ in keys})
            rows = invoice_entries(alias, tenant, entries=keys).filter(ERRENTRY=0)
            for batch, entry in rows.values_list("CNTBTCH", "CNTITEM"):
                key = (int(batch), int(entry))
                if key[0] in live:
                    found.setdefault(folios[key], key)
    return found


def confirmed_in_sage(alias: str, tenant, uuids: Iterable[str]) -> set[str]:
    return set(imported_entries(alias, tenant, uuids))


def _live_batches(alias: str, batches: set[int]) -> set[int]:
    rows = APIBC.objects.using(alias).filter(CNTBTCH__in=sorted(batches)).exclude(BTCHSTTS=BATCH_DELETED)
    return {int(number) for number in rows.values_list("CNTBTCH", flat=True)}


def _chunks(items: list) -> Iterator[list]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]
