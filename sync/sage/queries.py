"""The Sage reads the steps make, registered so each one is checked as T-SQL.

Every function here takes the tenant's Sage alias and the tenant and returns a
QuerySet (not yet run). `@sage_query` records it with example arguments for
its other parameters; tests/sage/test_tsql.py compiles every registered query
through mssql-django, so a query that SQL Server would reject fails in CI even
though no SQL Server runs there.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterable

from django.db.models import Q, QuerySet

from sync.sage.models import (
    APBTA,
    APIBC,
    APIBH,
    APIBHO,
    APOBL,
    APOBLO,
    APPYM,
    APRDC,
    APTCP,
    APTCR,
    APVEN,
    APVENO,
    POPORH1,
    POPORH2,
    POPORHO,
    POPORL,
    PORCPH1,
)
from sync.sage.values import to_sage_date

SageQuery = Callable[..., QuerySet]


@dataclass(frozen=True)
class RegisteredQuery:
    name: str
    function: SageQuery
    example: dict[str, Any] = field(default_factory=dict)

    def build(self, alias: str, tenant) -> QuerySet:
        return self.function(alias, tenant, **self.example)


REGISTRY: dict[str, RegisteredQuery] = {}


def sage_query(name: str, **example: Any) -> Callable[[SageQuery], SageQuery]:
    """Register a Sage read; `example` gives values for its parameters beyond (alias, tenant)."""

    def register(function: SageQuery) -> SageQuery:
        if name in REGISTRY and REGISTRY[name].function is not function:
            raise ValueError(f"Two Sage queries are named {name!r}.")
        REGISTRY[name] = RegisteredQuery(name, function, example)
        return function

    return register


def _uuid_variants(uuids: Iterable[str]) -> list[str]:
    # SQL Server compares case-insensitively; SQLite and PostgreSQL do not, so
    # ask for both spellings a person may have typed into FOLIOCFD.
    keys = {u.strip().upper() for u in uuids if u and u.strip()}
    return sorted(keys | {key.lower() for key in keys})


def _pairs(first: str, second: str, keys: Iterable[tuple[Any, Any]]) -> Q | None:
    """OR of (first, second) key pairs; None for no keys, so callers return none() instead of every row."""
    condition = None
    for a, b in keys:
        pair = Q(**{first: a, second: b})
        condition = pair if condition is None else condition | pair
    return condition


EXAMPLE_UUID = "6F1C2A9E-0B4D-4E8A-9C3B-2D7E5F8A1B0C"


@sage_query("vendors_page", offset=0, limit=200)
def vendors_page(alias: str, tenant, *, offset: int, limit: int) -> QuerySet:
    return APVEN.objects.using(alias).order_by("VENDORID")[offset:offset + limit]


@sage_query("vendors_by_rfc", rfcs=["AIN8001011A1", "A&C850101AB1"])
def vendors_by_rfc(alias: str, tenant, *, rfcs: Iterable[str]) -> QuerySet:
    """Vendors whose RFC is one of `rfcs`, wherever the tenant keeps the RFC."""
    wanted = sorted({rfc.strip().upper() for rfc in rfcs})
    vendors = APVEN.objects.using(alias)
    if tenant.vendor_rfc_source == "OPTFIELD":
        holders = APVENO.objects.using(alias).filter(OPTFIELD=tenant.vendor_rfc_optfield, VALUE__in=wanted)
        return vendors.filter(VENDORID__in=holders.values("VENDORID")).order_by("VENDORID")
    return vendors.filter(**{f"{tenant.vendor_rfc_source}__in": wanted}).order_by("VENDORID")


@sage_query("vendor_optional_fields", vendor_ids=["P00001", "P00002"])
def vendor_optional_fields(alias: str, tenant, *, vendor_ids: Iterable[str]) -> QuerySet:
    return APVENO.objects.using(alias).filter(VENDORID__in=list(vendor_ids)).order_by("VENDORID", "OPTFIELD")


@sage_query("invoices_by_folio", uuids=[EXAMPLE_UUID])
def invoices_by_folio(alias: str, tenant, *, uuids: Iterable[str]) -> QuerySet:
    """The FOLIOCFD rows of AP invoice entries whose UUID is in `uuids`."""
    return (
        APIBHO.objects.using(alias)
        .filter(OPTFIELD=tenant.folio_optfield, VALUE__in=_uuid_variants(uuids))
        .order_by("CNTBTCH", "CNTITEM")
    )


@sage_query("invoice_entries", entries=[(1, 1), (1, 2)])
def invoice_entries(alias: str, tenant, *, entries: Iterable[tuple[int, int]]) -> QuerySet:
    """APIBH rows by (batch, entry)."""
    keys = _pairs("CNTBTCH", "CNTITEM", entries)
    rows = APIBH.objects.using(alias)
    return (rows.filter(keys) if keys else rows.none()).order_by("CNTBTCH", "CNTITEM")


@sage_query("folios_of_entries", entries=[(1, 1)])
def folios_of_entries(alias: str, tenant, *, entries: Iterable[tuple[int, int]]) -> QuerySet:
    keys = _pairs("CNTBTCH", "CNTITEM", entries)
    rows = APIBHO.objects.using(alias)
    return rows.filter(keys, OPTFIELD=tenant.folio_optfield) if keys else rows.none()


@sage_query("posted_folios", uuids=[EXAMPLE_UUID])
def posted_folios(alias: str, tenant, *, uuids: Iterable[str]) -> QuerySet:
    """The FOLIOCFD rows of posted documents (APOBLO, AOM view AP0403) whose UUID is in `uuids`:
    they outlive Clear History, which removes only the batches (APIBC/APIBH/APIBHO)."""
    return (
        APOBLO.objects.using(alias)
        .filter(OPTFIELD=tenant.folio_optfield, VALUE__in=_uuid_variants(uuids))
        .order_by("IDVEND", "IDINVC")
    )


@sage_query("posted_folios_of_documents", documents=[("P00001", "FA-1000")])
def posted_folios_of_documents(alias: str, tenant, *, documents: Iterable[tuple[str, str]]) -> QuerySet:
    """APOBLO FOLIOCFD rows of posted documents by (IDVEND, IDINVC)."""
    keys = _pairs("IDVEND", "IDINVC", documents)
    rows = APOBLO.objects.using(alias)
    return rows.filter(keys, OPTFIELD=tenant.folio_optfield) if keys else rows.none()


@sage_query("distribution_code", code="INV")
def distribution_code(alias: str, tenant, *, code: str) -> QuerySet:
    """The AP distribution code `code` (APRDC: AP0005 in Sage's Web API Endpoint Reference)."""
    return APRDC.objects.using(alias).filter(IDDIST=code.strip().upper())[:1]


@sage_query("open_documents", documents=[("P00001", "FA-1000")])
def open_documents(alias: str, tenant, *, documents: Iterable[tuple[str, str]]) -> QuerySet:
    """APOBL rows by (VENDORID, document number)."""
    keys = _pairs("IDVEND", "IDINVC", documents)
    rows = APOBL.objects.using(alias)
    return (rows.filter(keys) if keys else rows.none()).order_by("IDVEND", "IDINVC")


@sage_query("posted_payments", since=dt.date(2026, 1, 1), after=(0, 0), limit=500)
def posted_payments(alias: str, tenant, *, since: dt.date | None, after: tuple[int, int], limit: int) -> QuerySet:
    """Posted payment entries (APTCR) of posted 'PY' batches, after the (batch, entry) cursor."""
    posted = APBTA.objects.using(alias).filter(PAYMTYPE="PY", BATCHSTAT=3).values("CNTBTCH")
    batch, entry = after
    entries = APTCR.objects.using(alias).filter(
        Q(CNTBTCH__gt=batch) | Q(CNTBTCH=batch, CNTENTR__gt=entry),
        BTCHTYPE="PY", RMITTYPE=1, ERRENTRY=0, CNTBTCH__in=posted,
    )
    if since:
        entries = entries.filter(DATERMIT__gte=to_sage_date(since))
    return entries.order_by("CNTBTCH", "CNTENTR")[:limit]


@sage_query("applied_payment_lines", entries=[(500, 1), (500, 2)])
def applied_payment_lines(alias: str, tenant, *, entries: Iterable[tuple[int, int]]) -> QuerySet:
    """APTCP lines of the given (batch, entry) payments."""
    keys = _pairs("CNTBTCH", "CNTRMIT", entries)
    rows = APTCP.objects.using(alias)
    return (rows.filter(keys, BATCHTYPE="PY") if keys else rows.none()).order_by("CNTBTCH", "CNTRMIT", "CNTLINE")


@sage_query("reversed_payments", vendor_ids=["P00001"])
def reversed_payments(alias: str, tenant, *, vendor_ids: Iterable[str]) -> QuerySet:
    """APPYM rows of cheques/transfers reversed in Sage (SWCHKCLRD = 2), with their whole key
    (AOM APPYM: IDBANK, IDVEND, IDRMIT, LONGSERIAL, DATERMIT) and the entry they were posted from."""
    return (APPYM.objects.using(alias).filter(IDVEND__in=list(vendor_ids), SWCHKCLRD=2)
            .order_by("IDBANK", "IDVEND", "IDRMIT", "LONGSERIAL", "DATERMIT"))


@sage_query("pos_changed_since", watermark=(Decimal(20260101), Decimal(0), 0), limit=200)
def pos_changed_since(alias: str, tenant, *, watermark: tuple[Decimal, Decimal, int], limit: int) -> QuerySet:
    """PO headers changed after the (AUDTDATE, AUDTTIME, PORHSEQ) watermark, oldest first, eligible per tenant."""
    date, time, porhseq = watermark
    headers = POPORH1.objects.using(alias).filter(
        Q(AUDTDATE__gt=date) | Q(AUDTDATE=date, AUDTTIME__gt=time)
        | Q(AUDTDATE=date, AUDTTIME=time, PORHSEQ__gt=porhseq)
    )
    if tenant.po_types:
        headers = headers.filter(PORTYPE__in=list(tenant.po_types))
    if tenant.po_min_date:
        headers = headers.filter(DATE__gte=to_sage_date(tenant.po_min_date))
    if tenant.po_required_optfield:
        flagged = POPORHO.objects.using(alias).filter(
            OPTFIELD=tenant.po_required_optfield, VALUE=tenant.po_required_value
        ).values("PORHSEQ")
        headers = headers.filter(PORHSEQ__in=flagged)
    return headers.order_by("AUDTDATE", "AUDTTIME", "PORHSEQ")[:limit]


@sage_query("po_lines", porhseqs=[1000, 1001])
def po_lines(alias: str, tenant, *, porhseqs: Iterable[int]) -> QuerySet:
    lines = POPORL.objects.using(alias).filter(PORHSEQ__in=list(porhseqs))
    if tenant.skip_location_codes:
        lines = lines.exclude(LOCATION__in=list(tenant.skip_location_codes))
    return lines.order_by("PORHSEQ", "PORLREV")


@sage_query("po_optional_fields", porhseqs=[1000, 1001])
def po_optional_fields(alias: str, tenant, *, porhseqs: Iterable[int]) -> QuerySet:
    return POPORHO.objects.using(alias).filter(PORHSEQ__in=list(porhseqs)).order_by("PORHSEQ", "OPTFIELD")


@sage_query("po_by_number", po_number="PO000001")
def po_by_number(alias: str, tenant, *, po_number: str) -> QuerySet:
    return POPORH1.objects.using(alias).filter(PONUMBER=po_number)[:1]


@sage_query("pos_by_numbers", po_numbers=["PO000001", "PO000002"])
def pos_by_numbers(alias: str, tenant, *, po_numbers: Iterable[str]) -> QuerySet:
    return POPORH1.objects.using(alias).filter(PONUMBER__in=list(po_numbers)).order_by("PORHSEQ")


@sage_query("invoice_entries_by_document", documents=[("P00001", "FA-1000")])
def invoice_entries_by_document(alias: str, tenant, *, documents: Iterable[tuple[str, str]]) -> QuerySet:
    """APIBH rows by (IDVEND, IDINVC): where a paid invoice was entered, to find its FOLIOCFD."""
    keys = _pairs("IDVEND", "IDINVC", documents)
    rows = APIBH.objects.using(alias)
    return (rows.filter(keys) if keys else rows.none()).order_by("CNTBTCH", "CNTITEM")


@sage_query("po_headers2", porhseqs=[1000, 1001])
def po_headers2(alias: str, tenant, *, porhseqs: Iterable[int]) -> QuerySet:
    return POPORH2.objects.using(alias).filter(PORHSEQ__in=list(porhseqs)).order_by("PORHSEQ")


@sage_query("po_receipts", porhseqs=[1000, 1001])
def po_receipts(alias: str, tenant, *, porhseqs: Iterable[int]) -> QuerySet:
    return PORCPH1.objects.using(alias).filter(PORHSEQ__in=list(porhseqs)).order_by("PORHSEQ", "RCPHSEQ")


@sage_query("posted_payment_batches")
def posted_payment_batches(alias: str, tenant) -> QuerySet:
    """Posted 'PY' batches (APBTA BATCHSTAT = 3) with their bank."""
    return APBTA.objects.using(alias).filter(PAYMTYPE="PY", BATCHSTAT=3).order_by("CNTBTCH")


# ---------------------------------------------------------------------------
# Invoices keyed by hand (sync.matching): AP documents of some vendors, or of some totals, in a date
# window — posted (APOBL) and entered in an open batch (APIBH of an APIBC that is Open or Ready To Post,
# AOM APIBC BTCHSTTS 1 and 7). Invoices and credit notes only (APOBL TXTTRXTYPE / APIBH TEXTTRX 1 and 3).

DOCUMENT_TYPES = (1, 3)
OPEN_BATCH_STATUSES = (1, 7)


def _vendors_or_totals(vendor_field: str, total_field: str, vendor_ids: Iterable[str],
                       totals: Iterable[Decimal]) -> Q | None:
    """None when there is nothing to ask for, so callers return none() instead of every row."""
    vendors, amounts = sorted(set(vendor_ids)), sorted(set(totals))
    parts = ([Q(**{f"{vendor_field}__in": vendors})] if vendors else []) + (
        [Q(**{f"{total_field}__in": amounts})] if amounts else [])
    if not parts:
        return None
    return parts[0] | parts[1] if len(parts) == 2 else parts[0]


@sage_query("posted_documents_between", vendor_ids=["P00001"], totals=[Decimal("1160.00")],
            since=dt.date(2026, 1, 1), until=dt.date(2026, 3, 31))
def posted_documents_between(alias: str, tenant, *, vendor_ids: Iterable[str], totals: Iterable[Decimal],
                             since: dt.date, until: dt.date) -> QuerySet:
    """Posted invoices and credit notes (APOBL) of `vendor_ids`, or whose home-currency amount
    (AMTINVCHC) is one of `totals`, dated between `since` and `until`."""
    wanted = _vendors_or_totals("IDVEND", "AMTINVCHC", vendor_ids, totals)
    rows = APOBL.objects.using(alias)
    if wanted is None:
        return rows.none()
    return (rows.filter(wanted, TXTTRXTYPE__in=DOCUMENT_TYPES, DATEINVC__gte=to_sage_date(since),
                        DATEINVC__lte=to_sage_date(until))
            .order_by("IDVEND", "IDINVC"))


@sage_query("open_entries_between", vendor_ids=["P00001"], totals=[Decimal("1160.00")],
            since=dt.date(2026, 1, 1), until=dt.date(2026, 3, 31))
def open_entries_between(alias: str, tenant, *, vendor_ids: Iterable[str], totals: Iterable[Decimal],
                         since: dt.date, until: dt.date) -> QuerySet:
    """Invoice and credit note entries not in error (APIBH ERRENTRY 0) of open or ready-to-post batches,
    of `vendor_ids` or whose total including tax (AMTGROSTOT) is one of `totals`, dated in the window."""
    wanted = _vendors_or_totals("IDVEND", "AMTGROSTOT", vendor_ids, totals)
    rows = APIBH.objects.using(alias)
    if wanted is None:
        return rows.none()
    batches = APIBC.objects.using(alias).filter(BTCHSTTS__in=OPEN_BATCH_STATUSES).values("CNTBTCH")
    return (rows.filter(wanted, CNTBTCH__in=batches, TEXTTRX__in=DOCUMENT_TYPES, ERRENTRY=0,
                        DATEINVC__gte=to_sage_date(since), DATEINVC__lte=to_sage_date(until))
            .order_by("CNTBTCH", "CNTITEM"))


@sage_query("open_entries_of_documents", documents=[("P00001", "FA-1000")])
def open_entries_of_documents(alias: str, tenant, *, documents: Iterable[tuple[str, str]]) -> QuerySet:
    """Entries not in error of open or ready-to-post batches, by (IDVEND, IDINVC)."""
    keys = _pairs("IDVEND", "IDINVC", documents)
    rows = APIBH.objects.using(alias)
    if keys is None:
        return rows.none()
    batches = APIBC.objects.using(alias).filter(BTCHSTTS__in=OPEN_BATCH_STATUSES).values("CNTBTCH")
    return rows.filter(keys, CNTBTCH__in=batches, ERRENTRY=0).order_by("CNTBTCH", "CNTITEM")


@sage_query("vendors_by_ids", vendor_ids=["P00001", "P00002"])
def vendors_by_ids(alias: str, tenant, *, vendor_ids: Iterable[str]) -> QuerySet:
    return APVEN.objects.using(alias).filter(VENDORID__in=sorted(set(vendor_ids))).order_by("VENDORID")


# ---------------------------------------------------------------------------
# The reconcile report (sync.reconcile): every row of a kind in one read, so its query count does not grow
# with the company. Each takes no list of keys (SQL Server takes at most 2,100 parameters a statement):
# details are joined through a subquery of the headers.

@sage_query("all_vendor_ids")
def all_vendor_ids(alias: str, tenant) -> QuerySet:
    return APVEN.objects.using(alias).order_by("VENDORID").values_list("VENDORID", flat=True)


@sage_query("vendor_optional_field_values", optfield="PROVIDERID")
def vendor_optional_field_values(alias: str, tenant, *, optfield: str) -> QuerySet:
    """Every vendor's value of one optional field (APVENO)."""
    return APVENO.objects.using(alias).filter(OPTFIELD=optfield).order_by("VENDORID")


def _eligible(headers: QuerySet, alias: str, tenant) -> QuerySet:
    if tenant.po_types:
        headers = headers.filter(PORTYPE__in=list(tenant.po_types))
    if tenant.po_min_date:
        headers = headers.filter(DATE__gte=to_sage_date(tenant.po_min_date))
    if tenant.po_required_optfield:
        flagged = POPORHO.objects.using(alias).filter(
            OPTFIELD=tenant.po_required_optfield, VALUE=tenant.po_required_value
        ).values("PORHSEQ")
        headers = headers.filter(PORHSEQ__in=flagged)
    return headers


@sage_query("all_eligible_pos")
def all_eligible_pos(alias: str, tenant) -> QuerySet:
    """Every PO header the tenant's rule lets onto the portal (the same rule as pos_changed_since)."""
    return _eligible(POPORH1.objects.using(alias), alias, tenant).order_by("PORHSEQ")


def _of_eligible(model, alias: str, tenant) -> QuerySet:
    return model.objects.using(alias).filter(PORHSEQ__in=all_eligible_pos(alias, tenant).values("PORHSEQ"))


@sage_query("all_eligible_po_lines")
def all_eligible_po_lines(alias: str, tenant) -> QuerySet:
    lines = _of_eligible(POPORL, alias, tenant)
    if tenant.skip_location_codes:
        lines = lines.exclude(LOCATION__in=list(tenant.skip_location_codes))
    return lines.order_by("PORHSEQ", "PORLREV")


@sage_query("all_eligible_po_optional_fields")
def all_eligible_po_optional_fields(alias: str, tenant) -> QuerySet:
    return _of_eligible(POPORHO, alias, tenant).order_by("PORHSEQ", "OPTFIELD")


@sage_query("all_eligible_po_headers2")
def all_eligible_po_headers2(alias: str, tenant) -> QuerySet:
    return _of_eligible(POPORH2, alias, tenant).order_by("PORHSEQ")


@sage_query("all_eligible_po_receipts")
def all_eligible_po_receipts(alias: str, tenant) -> QuerySet:
    return _of_eligible(PORCPH1, alias, tenant).order_by("PORHSEQ", "RCPHSEQ")


@sage_query("all_posted_payments")
def all_posted_payments(alias: str, tenant) -> QuerySet:
    """Every posted payment entry (the same rule as posted_payments, without its cursor)."""
    posted = APBTA.objects.using(alias).filter(PAYMTYPE="PY", BATCHSTAT=3).values("CNTBTCH")
    return APTCR.objects.using(alias).filter(BTCHTYPE="PY", RMITTYPE=1, ERRENTRY=0, CNTBTCH__in=posted).order_by(
        "CNTBTCH", "CNTENTR")


@sage_query("all_posted_folios")
def all_posted_folios(alias: str, tenant) -> QuerySet:
    """Every posted document's FOLIOCFD (APOBLO) that holds something."""
    return APOBLO.objects.using(alias).filter(OPTFIELD=tenant.folio_optfield).exclude(VALUE="").order_by(
        "IDVEND", "IDINVC")


@sage_query("all_entry_folios")
def all_entry_folios(alias: str, tenant) -> QuerySet:
    """Every FOLIOCFD (APIBHO) that holds something, of entries in open or ready-to-post batches: those not
    posted yet. A posted entry is its posted document (all_posted_folios), counted once there."""
    batches = APIBC.objects.using(alias).filter(BTCHSTTS__in=OPEN_BATCH_STATUSES).values("CNTBTCH")
    return APIBHO.objects.using(alias).filter(OPTFIELD=tenant.folio_optfield, CNTBTCH__in=batches).exclude(
        VALUE="").order_by("CNTBTCH", "CNTITEM")
