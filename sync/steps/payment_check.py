"""Step 4, payment check: every posted Sage payment becomes a Payment row.

Reads only Sage (APBTA/APTCR/APTCP/APPYM; APOBLO, else APIBH+APIBHO, for each
paid invoice's CFDI UUID); writes only our Payment/PaymentLine rows.

A payment's amount is what the vendor receives in its own currency: APTCR
AMTRMITTC, with CODECURN, the vendor currency (AOM APTCR; AMTRMIT is the same
check in the bank's currency). A reversal is read from APPYM (AOM: key IDBANK,
IDVEND, IDRMIT, LONGSERIAL, DATERMIT) and matched on every key column the
payment entry knows — bank, vendor, check number and date — and, where APPYM
names it, the batch and entry the check was posted from (its key "Bank Code /
Batch Number"): a check number reused in another bank, for another vendor or
in another year never marks the wrong payment reversed.

Posted payments do not change in Sage except by reversal, so:
- entries are paged in (batch, entry) order; only entries we do not know yet
  cost more queries (their lines and their invoices' UUIDs, batched);
- every cycle also re-asks Sage, in batches, for the UUIDs still missing on
  payments not yet uploaded (a FOLIOCFD can be filled in later), and whether
  such payments were reversed (APPYM SWCHKCLRD = 2).
Batch numbers are not posting order (batch 10 may be posted after batch 11),
so there is no high-water mark: the known set comes from our own rows.
A second run with nothing new in Sage writes nothing.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from django.db import transaction
from django.utils.translation import gettext as _

from sync.engine.context import StepContext, StepResult
from sync.engine.crashpoints import crashpoint
from sync.models import Payment, PaymentLine
from sync.sage import confirm, queries
from sync.sage.values import currency, sage_date, trimmed, uuid_key
from tenants.sage_db import sage_alias

# Every posted payment is read each cycle to find the new ones: pages large
# enough that a big company's no-change cycle is one or two queries, small
# enough to stay a few MB.
PAGE = 5000
# SQL Server takes at most 2100 parameters a statement; a key pair costs two.
PAIRS_PER_QUERY = 400
T = TypeVar("T")


@dataclass
class SagePaymentLine:
    line: int
    invoice_number: str
    amount: Decimal
    cfdi_uuid: str = ""


@dataclass
class SagePayment:
    batch: int
    entry: int
    docnbr: str
    vendor: str
    remit_id: str
    date: dt.date
    amount: Decimal
    currency: str
    reference: str
    bank: str = ""
    reversed: bool = False
    lines: list[SagePaymentLine] = field(default_factory=list)


@dataclass(frozen=True)
class UndatedEntry:
    """A posted payment entry whose date (APTCR DATERMIT) is 0: a Payment needs a date, so it is not recorded,
    and is read again each cycle until Sage has one."""
    batch: int
    entry: int
    docnbr: str


def run(ctx: StepContext) -> StepResult:
    tenant = ctx.tenant
    alias = sage_alias(tenant)
    known = set(Payment.objects.filter(tenant=tenant).values_list("batch", "entry"))
    read = [p for p in read_posted_payments(alias, tenant) if (p.batch, p.entry) not in known]
    new = [p for p in read if isinstance(p, SagePayment)]
    refuse_undated(ctx, [p for p in read if isinstance(p, UndatedEntry)])
    ctx.result.skipped += len(known)
    if new:
        attach_lines(alias, tenant, new)
        mark_reversed(alias, tenant, new)
        save_new(ctx, new)
    # Entries read just now are current: only older ones need asking again.
    refresh_pending(ctx, alias, {p.docnbr for p in new})
    ctx.log(_("%(n)s new posted payment(s); %(known)s already known") % {"n": len(new), "known": len(known)})
    return ctx.result


def read_posted_payments(alias: str, tenant) -> Iterator[SagePayment | UndatedEntry]:
    banks = dict(queries.posted_payment_batches(alias, tenant).values_list("CNTBTCH", "IDBANK"))
    after = (0, 0)
    while True:
        page = list(queries.posted_payments(alias, tenant, since=tenant.start_date, after=after, limit=PAGE))
        for row in page:
            yield _payment(row, trimmed(banks.get(row.CNTBTCH, "")))
        if len(page) < PAGE:
            return
        after = (int(page[-1].CNTBTCH), int(page[-1].CNTENTR))


def _payment(row, bank: str) -> SagePayment | UndatedEntry:
    date = sage_date(row.DATERMIT)
    if date is None:
        return UndatedEntry(int(row.CNTBTCH), int(row.CNTENTR), trimmed(row.DOCNBR))
    return SagePayment(
        batch=int(row.CNTBTCH), entry=int(row.CNTENTR), docnbr=trimmed(row.DOCNBR), vendor=trimmed(row.IDVEND),
        remit_id=trimmed(row.IDRMIT), date=date, amount=row.AMTRMITTC,
        currency=currency(row.CODECURN), reference=trimmed(row.TXTRMITREF), bank=bank,
    )


def refuse_undated(ctx: StepContext, entries: list[UndatedEntry]) -> None:
    """Counted as failed, so the step says a person is needed; the others are recorded as usual."""
    for entry in entries:
        ctx.log(_("Sage payment %(docnbr)s (batch %(batch)s, entry %(entry)s) has no date (APTCR DATERMIT is 0): "
                  "not recorded until it has one.") % {"docnbr": entry.docnbr, "batch": entry.batch,
                                                       "entry": entry.entry})
    ctx.result.failed += len(entries)


def attach_lines(alias: str, tenant, payments: list[SagePayment]) -> None:
    by_key = {(p.batch, p.entry): p for p in payments}
    for keys in chunked(list(by_key), PAIRS_PER_QUERY):
        for row in queries.applied_payment_lines(alias, tenant, entries=keys):
            by_key[(int(row.CNTBTCH), int(row.CNTRMIT))].lines.append(
                SagePaymentLine(line=int(row.CNTLINE), invoice_number=trimmed(row.IDINVC), amount=row.AMTPAYM)
            )
    uuids = invoice_uuids(alias, tenant, {(p.vendor, line.invoice_number) for p in payments for line in p.lines})
    uuids = confirm.matched_uuids(tenant, {(p.vendor, n.invoice_number) for p in payments for n in p.lines}) | uuids
    for payment in payments:
        for line in payment.lines:
            line.cfdi_uuid = uuids.get((payment.vendor, line.invoice_number), "")


def invoice_uuids(alias: str, tenant, documents: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(vendor, invoice number) → CFDI UUID; absent when Sage has none.

    The posted document's own optional field (APOBLO) first — it outlives Clear
    History — then the entry it was imported as (APIBH + APIBHO)."""
    found: dict[tuple[str, str], str] = {}
    for keys in chunked(sorted(documents), PAIRS_PER_QUERY):
        for row in queries.posted_folios_of_documents(alias, tenant, documents=keys):
            if uuid_key(row.VALUE):
                found[(trimmed(row.IDVEND), trimmed(row.IDINVC))] = uuid_key(row.VALUE)
    entry_of: dict[tuple[int, int], tuple[str, str]] = {}
    for keys in chunked(sorted(documents - set(found)), PAIRS_PER_QUERY):
        for row in queries.invoice_entries_by_document(alias, tenant, documents=keys):
            entry_of[(int(row.CNTBTCH), int(row.CNTITEM))] = (trimmed(row.IDVEND), trimmed(row.IDINVC))
    for entries in chunked(sorted(entry_of), PAIRS_PER_QUERY):
        for row in queries.folios_of_entries(alias, tenant, entries=entries):
            if uuid_key(row.VALUE):
                # Later entries win: a re-entered invoice carries the current UUID.
                found[entry_of[(int(row.CNTBTCH), int(row.CNTITEM))]] = uuid_key(row.VALUE)
    return found


@dataclass(frozen=True)
class Reversal:
    """An APPYM row with SWCHKCLRD = 2: its key columns and the entry it came from (0: not named)."""
    bank: str
    vendor: str
    remit_id: str
    date: dt.date | None
    batch: int
    entry: int

    def matches(self, bank: str, vendor: str, remit_id: str, date: dt.date | None, batch: int, entry: int) -> bool:
        if (self.bank, self.vendor, self.remit_id, self.date) != (bank, vendor, remit_id, date):
            return False
        return not self.batch or (self.batch, self.entry) == (batch, entry)


def mark_reversed(alias: str, tenant, payments: list[SagePayment]) -> None:
    reversals = reversed_remittances(alias, tenant, {p.vendor for p in payments})
    for payment in payments:
        payment.reversed = is_reversed(reversals, payment.bank, payment.vendor, payment.remit_id, payment.date,
                                       payment.batch, payment.entry)


def is_reversed(reversals: dict[tuple[str, str, str], list[Reversal]], bank: str, vendor: str, remit_id: str,
                date: dt.date | None, batch: int, entry: int) -> bool:
    return any(r.matches(bank, vendor, remit_id, date, batch, entry)
               for r in reversals.get((bank, vendor, remit_id), []))


def reversed_remittances(alias: str, tenant, vendor_ids: set[str]) -> dict[tuple[str, str, str], list[Reversal]]:
    found: dict[tuple[str, str, str], list[Reversal]] = {}
    for vendors in chunked(sorted(vendor_ids), 1000):
        for row in queries.reversed_payments(alias, tenant, vendor_ids=vendors):
            reversal = Reversal(trimmed(row.IDBANK), trimmed(row.IDVEND), trimmed(row.IDRMIT), sage_date(row.DATERMIT),
                                int(row.CNTBTCH), int(row.CNTITEM))
            found.setdefault((reversal.bank, reversal.vendor, reversal.remit_id), []).append(reversal)
    return found


def save_new(ctx: StepContext, payments: list[SagePayment]) -> None:
    if ctx.dry_run:
        for payment in payments:
            ctx.log(_("would record payment %(docnbr)s (%(vendor)s, %(amount)s %(currency)s)") % {
                "docnbr": payment.docnbr, "vendor": payment.vendor, "amount": payment.amount,
                "currency": payment.currency})
        return
    with transaction.atomic():
        rows = Payment.objects.bulk_create([_row(ctx, p) for p in payments])
        PaymentLine.objects.bulk_create([
            PaymentLine(payment=row, line=line.line, invoice_number=line.invoice_number,
                        cfdi_uuid=line.cfdi_uuid, amount=line.amount)
            for row, payment in zip(rows, payments) for line in payment.lines
        ])
    crashpoint("payment_check:page_saved")
    ctx.result.created += len(payments)


def _row(ctx: StepContext, payment: SagePayment) -> Payment:
    state = Payment.State.REVERSED if payment.reversed else Payment.State.WAITING
    return Payment(
        tenant_id=ctx.tenant_id, docnbr=payment.docnbr, vendor=payment.vendor, date=payment.date,
        amount=payment.amount, currency=payment.currency, bank=payment.bank, remit_id=payment.remit_id,
        reference=payment.reference, batch=payment.batch, entry=payment.entry, state=state,
        sage_hash=sage_hash(payment),
    )


def sage_hash(payment: SagePayment) -> str:
    facts = [payment.docnbr, payment.vendor, str(payment.date), f"{payment.amount:f}", payment.currency,
             [[line.line, line.invoice_number, f"{line.amount:f}", line.cfdi_uuid] for line in payment.lines]]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()


def refresh_pending(ctx: StepContext, alias: str, fresh: set[str]) -> None:
    """Payments not yet uploaded: fill UUIDs Sage has since gained; notice reversals."""
    pending = [p for p in Payment.objects.filter(tenant_id=ctx.tenant_id, state__in=[
        Payment.State.WAITING, Payment.State.READY, Payment.State.FAILED]) if p.docnbr not in fresh]
    if not pending:
        return
    reversals = reversed_remittances(alias, ctx.tenant, {p.vendor for p in pending})
    now_reversed = [p for p in pending
                    if is_reversed(reversals, p.bank, p.vendor, p.remit_id, p.date, p.batch, p.entry)]
    missing = list(PaymentLine.objects.filter(payment__in=pending, cfdi_uuid="").select_related("payment"))
    wanted = {(line.payment.vendor, line.invoice_number) for line in missing}
    uuids = invoice_uuids(alias, ctx.tenant, wanted) if missing else {}
    found = [line for line in missing if uuids.get((line.payment.vendor, line.invoice_number))]
    if ctx.dry_run:
        ctx.log(_("would mark %(n)s payment(s) reversed and fill %(found)s CFDI UUID(s)") % {
            "n": len(now_reversed), "found": len(found)})
        return
    if not found and not now_reversed:
        return  # nothing changed in Sage: no transaction to open
    with transaction.atomic():
        for line in found:
            line.cfdi_uuid = uuids[(line.payment.vendor, line.invoice_number)]
        PaymentLine.objects.bulk_update(found, ["cfdi_uuid"])
        Payment.objects.filter(pk__in=[p.pk for p in now_reversed]).update(state=Payment.State.REVERSED)
    ctx.result.updated += len(now_reversed) + len({line.payment_id for line in found} - {p.pk for p in now_reversed})


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
