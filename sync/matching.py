"""Invoices keyed into Sage by hand, without their CFDI UUID, matched to the CFDIs we hold.

A person who captures an invoice in Sage's A/P Invoice Entry rarely types its
UUID into FOLIOCFD. Sage then holds the invoice, its payments pay it, and yet
nothing ties it to the CFDI: the import of that CFDI is refused as a duplicate
document number, and every payment of it waits for a UUID that never comes.

Find: the tenant's stored invoices and credit notes that are not in Sage
(not imported, not refused or cancelled on the portal, no problem but perhaps
an unknown vendor), and the Sage documents without a UUID — posted (APOBL,
with neither APOBLO nor its entry's APIBHO holding one) or entered in an
open batch (APIBH, its APIBHO holding none) — of the vendors with the CFDIs'
RFCs, or with one of the CFDIs' totals, around the CFDIs' dates.
Score each pair that agrees on something (vendor, number or total):
- vendor: the Sage vendor's RFC (where the tenant keeps it, vendor_rfc_source)
  is the CFDI issuer's;
- number: Sage's document number is the CFDI's series-folio (or its folio),
  compared without case, separators or leading zeros;
- total: to the cent in the document's currency, or, for a foreign currency,
  within FX_TOLERANCE of the CFDI's total at its own exchange rate;
- date: the same day, or within DATE_WINDOW_DAYS.
A pair scoring PROPOSE_AT or more is proposed, with its reasons. Nothing is
confirmed but by a person; a rejected pair is never proposed again (the
InvoiceMatch row keeps the decision).

Confirm writes the UUID into the Sage document (sync.folio_write), then puts
the CFDI back in line for the import, which finds it in Sage in the next
cycle; the payment check then reads its UUID and the waiting payments go out.
"""
from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from cfdi.models import Cfdi, CfdiStatus, InvoiceMatch, MatchState, SageWrite
from cfdi.portal_status import portal_refusal
from sync.folio_write import write_uuid_to_sage
from sync.local_time import local_day
from sync.models import PaymentLine
from sync.sage import queries
from sync.sage.values import currency, sage_date, trimmed, uuid_key

# One reading of a vendor's RFC: the import's (Tenant.vendor_rfc_source).
from sync.steps.cfdi_import import vendor_rfcs as rfcs_of
from tenants.sage_db import SageDatabaseUnavailable, sage_alias

MATCHED_KINDS = {"I": 1, "E": 3}       # CFDI TipoDeComprobante → Sage document type (APOBL TXTTRXTYPE, APIBH TEXTTRX)
POINTS = {"vendor": 35, "number": 30, "folio": 20, "total": 25, "total_rate": 15, "date": 10, "date_near": 6}
PROPOSE_AT = 55
DATE_WINDOW_DAYS = 7
# Sage documents are read this far around the CFDIs' dates: a hand-keyed invoice is often dated
# when it was received or entered, not when it was issued.
READ_WINDOW_DAYS = 90
# A foreign-currency invoice keyed by hand takes Sage's rate of the day, not the CFDI's TipoCambio.
FX_TOLERANCE = Decimal("0.02")
CENT = Decimal("0.01")
CHUNK = 400
NOT_IN_SAGE = (CfdiStatus.VALID, CfdiStatus.INVALID, CfdiStatus.FAILED, CfdiStatus.NEEDS_ATTENTION)
# The only problem a CFDI may have and still be matched: its RFC is on no Sage vendor — which is
# just what happens when the vendor was keyed without it.
VENDOR_UNKNOWN = "vendor_unknown"


class MatchRefused(Exception):
    """A confirm or reject that cannot be done as things stand; the message says why, in one sentence."""


@dataclass(frozen=True)
class SageInvoice:
    """An AP document in Sage without a CFDI UUID."""

    vendor: str
    number: str
    kind: int                 # 1 invoice, 3 credit note
    date: dt.date | None
    currency: str             # as we name it (MXP → MXN)
    total: Decimal | None     # in the document's currency (APIBH AMTGROSTOT); None for a posted one
    home_total: Decimal       # in the company's currency (APOBL AMTINVCHC; APIBH AMTGROSTOT × EXCHRATEHC)
    rate: Decimal
    batch: int | None
    entry: int | None
    posted: bool

    @property
    def key(self) -> tuple[str, str]:
        return (self.vendor, self.number)


@dataclass
class Scored:
    cfdi: Cfdi
    document: SageInvoice
    score: int
    reasons: list[dict]


# ---------------------------------------------------------------------------
# Comparing

_SEPARATORS = re.compile(r"[\s\-_/.#]+")
_LEADING_ZEROS = re.compile(r"(?<!\d)0+(?=\d)")


def normalise_number(text: str | None) -> str:
    """A document number as people type it: no case, separators or leading zeros ("fa-01010" = "FA1010")."""
    return _LEADING_ZEROS.sub("", _SEPARATORS.sub("", (text or "").upper()))


def score(cfdi: Cfdi, document: SageInvoice, *, vendor_rfc: str, day: dt.date | None) -> tuple[int, list[dict]]:
    """The pair's score (0–100) and, per criterion, its points and the values compared."""
    reasons = [_vendor(cfdi, document, vendor_rfc), _number(cfdi, document), _total(cfdi, document),
               _date(document, day)]
    return sum(reason["points"] for reason in reasons), reasons


def _vendor(cfdi: Cfdi, document: SageInvoice, vendor_rfc: str) -> dict:
    rfc = cfdi.issuer_rfc.strip().upper()
    matched = bool(rfc) and rfc == vendor_rfc
    return {"code": "vendor", "points": POINTS["vendor"] if matched else 0, "how": "same" if matched else "other",
            "sage": document.vendor, "sage_rfc": vendor_rfc, "cfdi": rfc}


def _number(cfdi: Cfdi, document: SageInvoice) -> dict:
    sage = normalise_number(document.number)
    how = "differs"
    if sage and sage == normalise_number(cfdi.document_number):
        how = "series_folio"
    elif sage and cfdi.series and sage == normalise_number(cfdi.folio):
        how = "folio"
    points = {"series_folio": POINTS["number"], "folio": POINTS["folio"]}.get(how, 0)
    return {"code": "number", "points": points, "how": how, "sage": document.number, "cfdi": cfdi.document_number}


def _total(cfdi: Cfdi, document: SageInvoice) -> dict:
    cfdi_total = cfdi.total.quantize(CENT, ROUND_HALF_UP)
    cfdi_currency = currency(cfdi.currency)
    how = "differs"
    if document.currency == cfdi_currency:
        if document.total is not None:
            exact = abs(document.total) == cfdi_total
        else:
            # A posted document keeps its home amount: Sage's own rate times the CFDI's total, to the cent.
            exact = (cfdi_total * document.rate).quantize(CENT, ROUND_HALF_UP) == abs(document.home_total)
        how = "exact" if exact else how
    if how == "differs" and (cfdi_currency != "MXN" or document.currency != "MXN"):
        cfdi_home = cfdi_total * (cfdi.exchange_rate or Decimal(1))
        sage_home = abs(document.home_total)
        if sage_home and abs(cfdi_home - sage_home) <= FX_TOLERANCE * sage_home:
            how = "rate"
    points = {"exact": POINTS["total"], "rate": POINTS["total_rate"]}.get(how, 0)
    sage_amount = document.total if document.total is not None else document.home_total / (document.rate or 1)
    return {"code": "total", "points": points, "how": how,
            "sage": f"{abs(sage_amount).quantize(CENT, ROUND_HALF_UP)} {document.currency}",
            "cfdi": f"{cfdi_total} {cfdi_currency}"}


def _date(document: SageInvoice, day: dt.date | None) -> dict:
    days = abs((document.date - day).days) if document.date and day else None
    how = "far" if days is None or days > DATE_WINDOW_DAYS else ("same" if days == 0 else "near")
    points = {"same": POINTS["date"], "near": POINTS["date_near"]}.get(how, 0)
    return {"code": "date", "points": points, "how": how, "days": days,
            "sage": document.date.isoformat() if document.date else "", "cfdi": day.isoformat() if day else ""}


def explain(reason: dict) -> str:
    """One reason in words, in the reader's language."""
    values = {key: value for key, value in reason.items() if key not in ("code", "how")}
    texts = {
        ("vendor", "same"): _("Vendor: Sage vendor %(sage)s has the issuer's RFC %(cfdi)s."),
        ("vendor", "other"): _("Vendor: the issuer's RFC %(cfdi)s is not Sage vendor %(sage)s's (%(sage_rfc)s)."),
        ("number", "series_folio"): _("Number: Sage's %(sage)s is the CFDI's series-folio %(cfdi)s."),
        ("number", "folio"): _("Number: Sage's %(sage)s is the CFDI's folio, without its series (%(cfdi)s)."),
        ("number", "differs"): _("Number: Sage's %(sage)s is not the CFDI's %(cfdi)s."),
        ("total", "exact"): _("Total: %(sage)s in Sage and %(cfdi)s in the CFDI, to the cent."),
        ("total", "rate"): _("Total: %(sage)s in Sage and %(cfdi)s in the CFDI agree within the exchange-rate "
                             "tolerance."),
        ("total", "differs"): _("Total: %(sage)s in Sage, %(cfdi)s in the CFDI."),
        ("date", "same"): _("Date: %(cfdi)s in both."),
        ("date", "near"): _("Date: %(sage)s in Sage, %(cfdi)s in the CFDI (%(days)s days apart)."),
        ("date", "far"): _("Date: %(sage)s in Sage, %(cfdi)s in the CFDI."),
    }
    text = texts.get((str(reason.get("code")), str(reason.get("how"))))
    return text % values if text else str(reason)


# ---------------------------------------------------------------------------
# Reading both sides

def pending_cfdis(tenant) -> list[Cfdi]:
    """The tenant's invoices and credit notes Sage does not hold yet, that a hand-keyed document could be."""
    # imported_at: one Sage took, then found wanting (out of balance, cancelled since) is in Sage already.
    rows = (Cfdi.objects.filter(tenant=tenant, kind__in=MATCHED_KINDS, status__in=NOT_IN_SAGE, imported_at__isnull=True)
            .order_by("issued", "id"))
    return [cfdi for cfdi in rows
            if portal_refusal(cfdi.portal_metadata) is None
            and all(problem.get("code") == VENDOR_UNKNOWN for problem in cfdi.problems)]


def sage_invoices_without_uuid(alias: str, tenant, cfdis: list[Cfdi]) -> list[SageInvoice]:
    """Sage documents no UUID is tied to, of the CFDIs' vendors or totals, around their dates."""
    if not cfdis:
        return []
    days = [local_day(cfdi.issued, tenant) for cfdi in cfdis if cfdi.issued] or [timezone.localdate()]
    since = min(days) - dt.timedelta(days=READ_WINDOW_DAYS)
    until = max(days) + dt.timedelta(days=READ_WINDOW_DAYS)
    vendor_ids = _vendors_of(alias, tenant, {cfdi.issuer_rfc for cfdi in cfdis})
    # Totals a peso document would carry (credit notes may be kept negative).
    totals = {sign * cfdi.total.quantize(CENT, ROUND_HALF_UP) for cfdi in cfdis if currency(cfdi.currency) == "MXN"
              for sign in (1, -1)}
    found: dict[tuple[str, str], SageInvoice] = {}
    for vendors, amounts in _asks(sorted(vendor_ids), sorted(totals)):
        for row in queries.posted_documents_between(alias, tenant, vendor_ids=vendors, totals=amounts,
                                                    since=since, until=until):
            document = _posted(row)
            found.setdefault(document.key, document)
        for row in queries.open_entries_between(alias, tenant, vendor_ids=vendors, totals=amounts,
                                                since=since, until=until):
            document = _entered(row)
            found.setdefault(document.key, document)
    tied = uuids_in_sage(alias, tenant, list(found.values())) | matched_by_a_person(tenant)
    return [document for key, document in found.items() if key not in tied]


def _asks(vendors: list[str], totals: list[Decimal]) -> Iterator[tuple[list[str], list[Decimal]]]:
    """The chunks to ask Sage for: vendors and totals at most CHUNK a query (SQL Server's 2,100 parameters)."""
    for start in range(0, len(vendors), CHUNK):
        yield vendors[start:start + CHUNK], []
    for start in range(0, len(totals), CHUNK):
        yield [], totals[start:start + CHUNK]


def _vendors_of(alias: str, tenant, rfcs: set[str]) -> set[str]:
    wanted = sorted(rfc.strip().upper() for rfc in rfcs if rfc and rfc.strip())
    found: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        found |= {trimmed(v.VENDORID) for v in queries.vendors_by_rfc(alias, tenant, rfcs=wanted[start:start + CHUNK])}
    return found


def _posted(row) -> SageInvoice:
    rate = row.EXCHRATEHC or Decimal(1)
    return SageInvoice(trimmed(row.IDVEND), trimmed(row.IDINVC), int(row.TXTTRXTYPE), sage_date(row.DATEINVC),
                       currency(row.CODECURN) or "MXN", None, row.AMTINVCHC, rate,
                       int(row.CNTBTCH) or None, int(row.CNTITEM) or None, posted=True)


def _entered(row) -> SageInvoice:
    rate = row.EXCHRATEHC or Decimal(1)
    return SageInvoice(trimmed(row.IDVEND), trimmed(row.IDINVC), int(row.TEXTTRX), sage_date(row.DATEINVC),
                       currency(row.CODECURN) or "MXN", row.AMTGROSTOT,
                       (row.AMTGROSTOT * rate).quantize(CENT, ROUND_HALF_UP), rate,
                       int(row.CNTBTCH), int(row.CNTITEM), posted=False)


def uuids_in_sage(alias: str, tenant, documents: list[SageInvoice]) -> set[tuple[str, str]]:
    """The documents Sage ties a UUID to: APOBLO of a posted one, the APIBHO of its entry (posted or not)."""
    tied: set[tuple[str, str]] = set()
    posted = sorted(d.key for d in documents if d.posted)
    for keys in _chunks(posted):
        tied |= {(trimmed(r.IDVEND), trimmed(r.IDINVC))
                 for r in queries.posted_folios_of_documents(alias, tenant, documents=keys) if uuid_key(r.VALUE)}
    entries: dict[tuple[int, int], tuple[str, str]] = {
        (d.batch, d.entry): d.key for d in documents if not d.posted and d.batch and d.entry}
    for keys in _chunks([key for key in posted if key not in tied]):
        for row in queries.invoice_entries_by_document(alias, tenant, documents=keys):
            entries[(int(row.CNTBTCH), int(row.CNTITEM))] = (trimmed(row.IDVEND), trimmed(row.IDINVC))
    for keys in _chunks(sorted(entries)):
        tied |= {entries[(int(r.CNTBTCH), int(r.CNTITEM))]
                 for r in queries.folios_of_entries(alias, tenant, entries=keys) if uuid_key(r.VALUE)}
    return tied


def matched_by_a_person(tenant) -> set[tuple[str, str]]:
    """The Sage documents a confirmed match here ties to a CFDI."""
    return set(InvoiceMatch.objects.filter(tenant=tenant, state=MatchState.CONFIRMED)
               .values_list("vendor", "document_number"))


def _chunks(items: list) -> Iterator[list]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def vendor_rfcs(alias: str, tenant, vendor_ids: Iterable[str]) -> dict[str, str]:
    """VENDORID → its RFC, read where the tenant keeps it (Tenant.vendor_rfc_source)."""
    found: dict[str, str] = {}
    for keys in _chunks(sorted(set(vendor_ids))):
        found.update(rfcs_of(alias, tenant, list(queries.vendors_by_ids(alias, tenant, vendor_ids=keys))))
    return found


# ---------------------------------------------------------------------------
# Pairing and scoring

def score_all(alias: str, tenant, cfdis: list[Cfdi], documents: list[SageInvoice]) -> list[Scored]:
    """Every pair that agrees on vendor, number or total, scored; best first."""
    rfc_of = vendor_rfcs(alias, tenant, {d.vendor for d in documents})
    by_rfc, by_number, by_total = defaultdict(list), defaultdict(list), defaultdict(list)
    for document in documents:
        by_rfc[rfc_of.get(document.vendor, "")].append(document)
        by_number[normalise_number(document.number)].append(document)
        if document.total is not None:
            by_total[abs(document.total).quantize(CENT)].append(document)
        if document.currency == "MXN":
            by_total[abs(document.home_total).quantize(CENT)].append(document)
    pairs: list[Scored] = []
    for cfdi in cfdis:
        kind = MATCHED_KINDS[cfdi.kind]
        folio = by_number.get(normalise_number(cfdi.folio), []) if cfdi.series else []
        candidates = {d.key: d for d in (
            *by_rfc.get(cfdi.issuer_rfc.strip().upper(), []), *folio,
            *by_number.get(normalise_number(cfdi.document_number), []),
            *by_total.get(cfdi.total.quantize(CENT, ROUND_HALF_UP), []))}
        day = local_day(cfdi.issued, tenant) if cfdi.issued else None
        for document in candidates.values():
            if document.kind != kind:
                continue
            points, reasons = score(cfdi, document, vendor_rfc=rfc_of.get(document.vendor, ""), day=day)
            if points >= PROPOSE_AT:
                pairs.append(Scored(cfdi, document, points, reasons))
    pairs.sort(key=lambda p: (-p.score, p.cfdi.issued or timezone.now(), p.document.key))
    return pairs


# ---------------------------------------------------------------------------
# Proposals

def find_matches(tenant) -> list[InvoiceMatch]:
    """Look again: store every pair worth a person's look (rejected pairs excepted); return the proposals."""
    with sage_read(tenant):
        pairs = _pairs(tenant)
    store(tenant, pairs)
    return list(proposals(tenant))


@contextmanager
def sage_read(tenant) -> Iterator[None]:
    """Sage's company database not answering becomes one sentence naming the tenant and the setting."""
    try:
        yield
    except SageDatabaseUnavailable as error:
        raise MatchRefused(str(error)) from None
    except DatabaseError as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise MatchRefused(_("Tenant %(tenant)s: Sage's company database could not be read (%(error)s); check the "
                             "tenant's Sage database settings.") % {"tenant": tenant.code, "error": first}) from None


def _pairs(tenant) -> list[Scored]:
    alias = sage_alias(tenant)
    decided = list(InvoiceMatch.objects.filter(tenant=tenant, state__in=(MatchState.CONFIRMED, MatchState.REJECTED)))
    rejected = {(m.cfdi_id, m.vendor, m.document_number) for m in decided if m.state == MatchState.REJECTED}
    confirmed = [m for m in decided if m.state == MatchState.CONFIRMED]
    held_cfdis = {m.cfdi_id for m in confirmed}
    cfdis = [cfdi for cfdi in pending_cfdis(tenant) if cfdi.pk not in held_cfdis]
    documents = sage_invoices_without_uuid(alias, tenant, cfdis)
    return [p for p in score_all(alias, tenant, cfdis, documents) if (p.cfdi.pk, *p.document.key) not in rejected]


def store(tenant, pairs: list[Scored]) -> None:
    """The pairs as PROPOSED rows: new ones added, known ones refreshed, proposals no longer found removed."""
    with transaction.atomic():
        open_rows = {(m.cfdi_id, m.vendor, m.document_number): m for m in InvoiceMatch.objects.select_for_update()
                     .filter(tenant=tenant, state__in=(MatchState.PROPOSED, MatchState.SUPERSEDED))}
        new, changed = [], []
        for pair in pairs:
            values = _facts(pair)
            row = open_rows.pop((pair.cfdi.pk, *pair.document.key), None)
            if row is None:
                new.append(InvoiceMatch(tenant=tenant, cfdi=pair.cfdi, vendor=pair.document.vendor,
                                        document_number=pair.document.number, **values))
            elif any(getattr(row, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(row, name, value)
                changed.append(row)
        InvoiceMatch.objects.filter(pk__in=[row.pk for row in open_rows.values()]).delete()
        # ignore_conflicts: a look running at the same time may have added the same pair.
        InvoiceMatch.objects.bulk_create(new, ignore_conflicts=True)
        InvoiceMatch.objects.bulk_update(changed, [*_facts_fields(), "updated"])


def _facts(pair: Scored) -> dict:
    document = pair.document
    return {"sage_batch": document.batch, "sage_entry": document.entry, "posted": document.posted,
            "document_date": document.date, "document_currency": document.currency,
            "document_total": abs(document.total if document.total is not None else document.home_total),
            "score": pair.score, "reasons": pair.reasons, "state": MatchState.PROPOSED}


def _facts_fields() -> list[str]:
    return ["sage_batch", "sage_entry", "posted", "document_date", "document_currency", "document_total", "score",
            "reasons", "state"]


def proposals(tenant=None) -> QuerySet:
    rows = InvoiceMatch.objects.filter(state=MatchState.PROPOSED)
    if tenant is not None:
        rows = rows.filter(tenant=tenant)
    return rows.select_related("cfdi", "tenant").order_by("-score", "cfdi__issued", "id")


# ---------------------------------------------------------------------------
# Decisions

def confirm(match_id: int, *, by: str, tenant=None) -> InvoiceMatch:
    """A person says the CFDI is that Sage document: write its UUID there and put the CFDI back in line.

    Also the way to finish a confirm that was cut short or that Sage refused: Sage is asked first."""
    match = _match(match_id, tenant)
    if match.state == MatchState.CONFIRMED and match.sage_write in (SageWrite.WRITTEN, SageWrite.KEPT):
        settle(match)  # again: harmless, and it finishes a confirm cut short after the write
        return match
    if match.state == MatchState.REJECTED:
        raise MatchRefused(_("Match %(id)s was rejected by %(who)s; it is not confirmed.")
                           % {"id": match.pk, "who": match.decided_by or "?"})
    if match.state == MatchState.SUPERSEDED:
        raise MatchRefused(_("Match %(id)s gave way to another match of the same CFDI or Sage document; look for "
                             "matches again.") % {"id": match.pk})
    with sage_read(match.tenant):
        document = current_document(match)
    try:
        with transaction.atomic():
            claimed = (InvoiceMatch.objects.filter(pk=match.pk)
                       .filter(Q(state=MatchState.PROPOSED) | Q(state=MatchState.CONFIRMED,
                                                                sage_write__in=(SageWrite.FAILED, SageWrite.PENDING)))
                       .update(state=MatchState.CONFIRMED, decided_by=by[:150], decided_at=timezone.now(),
                               posted=document.posted, sage_batch=document.batch, sage_entry=document.entry,
                               sage_write=SageWrite.PENDING, sage_error="", updated=timezone.now()))
    except IntegrityError:
        claimed = 0  # another match of this CFDI or document was confirmed at the same moment
    if not claimed:
        raise MatchRefused(_("Match %(id)s was decided by someone else just now.") % {"id": match.pk})
    (InvoiceMatch.objects.filter(tenant_id=match.tenant_id, state=MatchState.PROPOSED)
     .filter(Q(cfdi_id=match.cfdi_id) | Q(vendor=match.vendor, document_number=match.document_number))
     .exclude(pk=match.pk).update(state=MatchState.SUPERSEDED, updated=timezone.now()))
    match.refresh_from_db()
    if write_uuid_to_sage(match.tenant, match) in (SageWrite.WRITTEN, SageWrite.KEPT):
        match.refresh_from_db()
        settle(match)
    match.refresh_from_db()
    return match


def reject(match_id: int, *, by: str, tenant=None) -> InvoiceMatch:
    """A person says the CFDI is not that Sage document: never propose the pair again."""
    match = _match(match_id, tenant)
    if match.state == MatchState.REJECTED:
        return match
    if match.state == MatchState.CONFIRMED and match.sage_write in (SageWrite.WRITTEN, SageWrite.KEPT):
        raise MatchRefused(_("Match %(id)s was confirmed and its UUID is tied to Sage document %(number)s; it can no "
                             "longer be rejected here.") % {"id": match.pk, "number": match.document_number})
    InvoiceMatch.objects.filter(pk=match.pk).update(state=MatchState.REJECTED, decided_by=by[:150],
                                                    decided_at=timezone.now(), updated=timezone.now())
    match.refresh_from_db()
    return match


def _match(match_id: int, tenant) -> InvoiceMatch:
    rows = InvoiceMatch.objects.select_related("cfdi", "tenant")
    if tenant is not None:
        rows = rows.filter(tenant=tenant)
    match = rows.filter(pk=match_id).first()
    if match is None:
        raise MatchRefused(_("There is no invoice match %(id)s%(where)s.") % {
            "id": match_id, "where": _(" for tenant %(tenant)s") % {"tenant": tenant.code} if tenant else ""})
    return match


def current_document(match: InvoiceMatch) -> SageInvoice:
    """The match's Sage document as Sage has it now, still without a UUID; MatchRefused otherwise."""
    cfdi, tenant = match.cfdi, match.tenant
    if cfdi.status == CfdiStatus.IMPORTED or cfdi.imported_at is not None:
        raise MatchRefused(_("CFDI %(uuid)s is already in Sage (batch %(batch)s, entry %(entry)s); nothing to "
                             "match.") % {"uuid": cfdi.uuid, "batch": cfdi.sage_batch, "entry": cfdi.sage_entry})
    other = (InvoiceMatch.objects.filter(tenant=tenant, state=MatchState.CONFIRMED)
             .filter(Q(cfdi_id=cfdi.pk) | Q(vendor=match.vendor, document_number=match.document_number))
             .exclude(pk=match.pk).first())
    if other is not None:
        raise MatchRefused(_("Match %(other)s already ties CFDI %(uuid)s or Sage document %(number)s.")
                           % {"other": other.pk, "uuid": cfdi.uuid, "number": match.document_number})
    alias = sage_alias(tenant)
    key = [(match.vendor, match.document_number)]
    documents = [_posted(row) for row in queries.open_documents(alias, tenant, documents=key)] or [
        _entered(row) for row in queries.open_entries_of_documents(alias, tenant, documents=key)]
    if not documents:
        raise MatchRefused(_("Sage has no document %(number)s of vendor %(vendor)s in an open batch or posted any "
                             "more; look for matches again.") % {"number": match.document_number,
                                                                 "vendor": match.vendor})
    document = documents[-1]
    if document.key in uuids_in_sage(alias, tenant, [document]):
        raise MatchRefused(_("Sage document %(number)s of vendor %(vendor)s already carries a CFDI UUID; look for "
                             "matches again.") % {"number": match.document_number, "vendor": match.vendor})
    return document


def settle(match: InvoiceMatch) -> None:
    """After the tie: the CFDI back in line for the import, and, for a posted document, the UUID on the lines
    of the payments already known to pay it (the payment check gives it to the ones it finds later)."""
    with transaction.atomic():
        back_in_line(match.cfdi)
        if match.sage_write == SageWrite.KEPT:
            PaymentLine.objects.filter(payment__tenant_id=match.tenant_id, payment__vendor=match.vendor,
                                       invoice_number=match.document_number, cfdi_uuid="").update(
                cfdi_uuid=match.cfdi.uuid.upper())


def back_in_line(cfdi: Cfdi) -> None:
    """The CFDI Sage refused (or held) for want of this match goes to the next import, which finds it in Sage."""
    if cfdi.status in (CfdiStatus.NEEDS_ATTENTION, CfdiStatus.FAILED):
        status = CfdiStatus.VALID if not cfdi.problems else CfdiStatus.INVALID
        Cfdi.objects.filter(pk=cfdi.pk, status=cfdi.status).update(status=status, updated=timezone.now())


# ---------------------------------------------------------------------------
# For people: what confirming does, and what is left to do in Sage

def what_confirming_does(match: InvoiceMatch) -> str:
    field = match.tenant.folio_optfield
    if match.posted:
        return _("Sage document %(number)s is posted, and the Sage 300 Web API cannot change a posted document's "
                 "optional fields. SageConnect keeps this match itself: the next cycle counts the CFDI as in Sage and "
                 "sends the payments of %(number)s with its UUID.") % {
            "number": match.document_number}
    return _("Writes the UUID into %(field)s of entry %(entry)s of batch %(batch)s in Sage, through the Sage 300 Web "
             "API. The next cycle finds the CFDI there.") % {"field": field, "entry": match.sage_entry,
                                                               "batch": match.sage_batch}


def where(match: InvoiceMatch) -> str:
    if match.posted:
        return _("posted")
    return _("batch %(batch)s, entry %(entry)s, not posted") % {"batch": match.sage_batch, "entry": match.sage_entry}


def outcome(match: InvoiceMatch) -> str:
    """What a decision did, in one sentence."""
    if match.state == MatchState.REJECTED:
        return _("Rejected: this pair will not be proposed again.")
    if match.state != MatchState.CONFIRMED:
        return ""
    texts: dict[str, str] = {
        SageWrite.WRITTEN: _("Confirmed: the UUID is in %(field)s of the Sage entry; the next cycle imports the "
                             "CFDI as that entry and sends its payments."),
        SageWrite.KEPT: _("Confirmed: Sage cannot write a posted document, so SageConnect keeps the match; the next "
                          "cycle counts the CFDI as in Sage and sends its payments."),
        SageWrite.FAILED: _("Confirmed, but Sage refused the write (%(error)s). Confirm again once that is fixed, "
                            "or reject the match."),
        SageWrite.PENDING: _("Confirmed; whether Sage took the write is not known yet. Confirm again to ask Sage."),
    }
    text = texts.get(match.sage_write, "")
    return text % {"field": match.tenant.folio_optfield, "error": match.sage_error} if text else ""
