"""AP/APInvoiceBatches in the stand-in: APIBC, APIBH, APIBD, APIBHO — and what
posting and Clear History do to them (APOBL, APOBLO).

Sage's rules kept here, each with its source:
- A batch with one bad entry is refused whole, naming the entry.
- The vendor must exist and be active; the document number must be new for
  the vendor (posted or in a live batch).
- The invoice's currency is the vendor's (AOM APIBH CODECURN); a foreign
  currency needs an exchange rate (EXCHRATEHC, "Rate Overridden" SWMANRTE).
- Each line needs a distribution code that exists (APRDC) or a G/L account.
- Tax comes from the vendor's tax group (TaxGroup/CODETAXGRP) and classes:
  TaxAmountControl "Calculate" (Sage's default) computes it per line from the
  group's authorities and rates; "Enter"/"Distribute" take TaxAmount1..5 as
  given (AOM APIBH SWCALCTX: 0 Enter, 1 Calculate, 2 Distribute).
- Lines plus tax that differ from DocumentTotalIncludingTax leave an
  UndistributedAmount (AMTUNDISTR; Sage's field map BaseInvoiceFields, the
  "Undistributed Amount" / "Out of Balance" of A/P Invoice Entry): the entry
  is saved, and posting refuses it (A/P Posting Errors "lists the incorrect
  entries and explains why they could not be posted").
- A credit or debit note's ApplytoDocument (INVCAPPLTO) must be an open
  posted invoice of the same vendor: Sage's own A/P screens look it up in
  AP0025 (APOBL) with "(IDVEND = vendor) AND (TXTTRXTYPE = 1) AND (SWPAID = 0)"
  (SDK sample ViewFinderProperties.js, finder "ApplyToDocument").
- A posted or deleted batch cannot be edited (FIELDS.md; InvoiceEntryResx
  "DeletedBatch"; CommonResx "PostInProgressMessage").
- A PATCH changes only what it names; a detail (an entry of Invoices[], an
  optional field of InvoiceOptionalFields[]) is addressed by its key and its
  UpdateOperation (Developer Reference, "Updating a resource entry (HTTP
  PATCH)"; the Endpoint Reference lists PATCH for APInvoiceBatches). The
  stand-in edits an open entry's optional fields, which is what SageConnect
  writes (a hand-keyed invoice's FOLIOCFD), and says so for anything else.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from sandbox.sage_webapi import schema
from sandbox.sage_webapi.common import (
    Audit,
    SageError,
    amount,
    date_column,
    date_value,
    invalid,
    number,
    records,
    sage_datetime,
    text,
    whole,
)
from sandbox.sage_webapi.odata import Column
from sync.sage.models import APIBC, APIBD, APIBH, APIBHO, APOBL, APOBLO, APRDC, APVEN, TXGRP, TXRATE
from sync.sage.values import to_sage_date, trimmed

# AOM APIBC BTCHSTTS; APIBH TEXTTRX; APOBL IDTRXTYPE (summary entered).
BATCH_STATUS = {"Open": 1, "Posted": 3, "Deleted": 4, "PostInProgress": 5, "ReadyToPost": 7}
BATCH_STATUS_NAME = {code: name for name, code in BATCH_STATUS.items()}
DOCUMENT_TYPE = {"Invoice": 1, "DebitNote": 2, "CreditNote": 3, "Interest": 4}
DOCUMENT_TYPE_NAME = {code: name for name, code in DOCUMENT_TYPE.items()}
POSTED_TYPE = {1: 12, 2: 22, 3: 32, 4: 40}
TAX_CONTROL = {"Enter": 0, "Calculate": 1, "Distribute": 2}
TAX_CONTROL_NAME = {code: name for name, code in TAX_CONTROL.items()}
# The sandbox company keeps its books in pesos; Sage's legacy code is MXP (EXTERNAL.md §1).
HOME_CURRENCIES = ("MXP", "MXN")
PURCHASES = 2  # TXGRP/TXRATE TTYPE of purchases
AUTHORITIES = range(1, 6)
CENT = Decimal("0.01")

COLUMNS: dict[str, Column] = {
    "BatchNumber": Column("CNTBTCH"),
    "BatchDate": Column("DATEBTCH", date_column),
    "Description": Column("BTCHDESC"),
    "BatchStatus": Column("BTCHSTTS", BATCH_STATUS.__getitem__),
}


@dataclass
class Entry:
    where: str
    body: dict[str, Any]
    columns: dict[str, Any]
    details: list[dict[str, Any]]
    optional: list[tuple[str, str]]
    given_taxes: dict[int, Decimal] = field(default_factory=dict)


# ---------------------------------------------------------------------------
# Reading a POSTed batch

def create_batch(alias: str, body: Any, audit: Audit, *, recalculate_taxes: bool = False) -> int:
    """`recalculate_taxes` (a fault to inject): behave like a Sage that works every tax out itself."""
    body = schema.INVOICE_BATCH.check(body, "The batch")
    invoices = records(body, "Invoices")
    if not invoices:
        raise SageError("InvalidPayload", "The batch: Invoices is required.")
    entries = [read_entry(invoice, number_) for number_, invoice in enumerate(invoices, start=1)]
    if recalculate_taxes:
        for entry in entries:
            entry.columns["SWCALCTX"] = TAX_CONTROL["Calculate"]
    status = body.get("BatchStatus") or "Open"
    if status not in ("Open", "ReadyToPost"):
        # Developer Reference §9.1: a POST may set ReadyToPost; posting is a process.
        raise SageError("RecordInvalid", f"The batch: BatchStatus {status} cannot be set; post the batch instead.")
    header = {
        "DATEBTCH": to_sage_date(date_value(body, "BatchDate", "The batch", default=timezone.localdate())),
        "BTCHDESC": text(body, "Description", "The batch", length=60),
        "BTCHSTTS": BATCH_STATUS[status],
    }
    for attempt in range(5):
        try:
            with transaction.atomic(using=alias):
                check_entries(alias, entries)
                return write_batch(alias, header, entries, audit)
        except IntegrityError:
            # Another request took the same batch number first: take the next.
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def read_entry(body: dict[str, Any], entry: int) -> Entry:
    where = f"Entry {entry}"
    document_type = body.get("DocumentType") or "Invoice"
    columns = {
        "IDVEND": text(body, "VendorNumber", where, length=12, required=True).strip().upper(),
        "IDINVC": text(body, "DocumentNumber", where, length=22, required=True).strip(),
        "TEXTTRX": DOCUMENT_TYPE[document_type],
        "PONBR": text(body, "PONumber", where, length=22),
        "INVCDESC": text(body, "InvoiceDescription", where, length=60),
        "INVCAPPLTO": text(body, "ApplytoDocument", where, length=22).strip(),
        "DATEINVC": to_sage_date(date_value(body, "DocumentDate", where, default=timezone.localdate())),
        "CODECURN": text(body, "CurrencyCode", where, length=3).strip().upper(),
        "SWMANRTE": 1 if body.get("RateOverridden") == "Yes" else 0,
        "EXCHRATEHC": amount(body, "ExchangeRate", where, places="0.0000001") or Decimal(0),
        "SWCALCTX": TAX_CONTROL[body.get("TaxAmountControl") or "Calculate"],
        "CODETAXGRP": text(body, "TaxGroup", where, length=12).strip().upper(),
    }
    where = f"Entry {entry} (document {columns['IDINVC']})"
    details = [read_detail(detail, where, line) for line, detail in enumerate(records(body, "InvoiceDetails"), 1)]
    if not details:
        raise invalid(where, "an entry needs at least one distribution line.")
    optional = [(text(field_, "OptionalField", where, length=12, required=True).upper(),
                 text(field_, "Value", where, length=60)) for field_ in records(body, "InvoiceOptionalFields")]
    taxes = {n: amount(body, f"TaxAmount{n}", where) for n in AUTHORITIES if body.get(f"TaxAmount{n}") is not None}
    return Entry(where, body, columns, details, optional, taxes)


def read_detail(body: dict[str, Any], where: str, line: int) -> dict[str, Any]:
    spot = f"{where} line {line}"
    return {
        "CNTLINE": Decimal(whole(body, "LineNumber", spot, default=line * 20)),
        "IDDIST": text(body, "DistributionCode", spot, length=6).strip().upper(),
        "TEXTDESC": text(body, "DistributionDescription", spot, length=60),
        "IDGLACCT": text(body, "GLAccount", spot, length=45).strip(),
        "AMTDIST": amount(body, "DistributedAmount", spot, required=True),
        **{f"TAXCLASS{n}": whole(body, f"TaxClass{n}", spot, default=1) for n in AUTHORITIES},
    }


# ---------------------------------------------------------------------------
# Sage's record checks, and what Sage works out for each entry

def check_entries(alias: str, entries: list[Entry]) -> None:
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        vendor = _vendor(alias, entry)
        key = (vendor.VENDORID, entry.columns["IDINVC"].upper())
        if key in seen or document_exists(alias, *key):
            raise SageError("RecordDuplicate", f"{entry.where}: Document Number {entry.columns['IDINVC']} already "
                                               f"exists for Vendor Number {vendor.VENDORID}.")
        seen.add(key)
        _currency(entry, vendor)
        _apply_to(alias, entry, vendor)
        _distributions(alias, entry)
        _taxes(alias, entry, vendor)


def _vendor(alias: str, entry: Entry) -> APVEN:
    vendor_id = entry.columns["IDVEND"]
    vendor = APVEN.objects.using(alias).filter(VENDORID=vendor_id).first()
    if vendor is None:
        raise invalid(entry.where, f"Vendor Number {vendor_id} does not exist.")
    if vendor.SWACTV != 1:
        raise invalid(entry.where, f"Vendor Number {vendor_id} is inactive.")
    return vendor


def _currency(entry: Entry, vendor: APVEN) -> None:
    wanted, own = entry.columns["CODECURN"], trimmed(vendor.CURNCODE).upper()
    if wanted and wanted != own:
        raise invalid(entry.where, f"Currency Code {wanted} is not vendor {vendor.VENDORID}'s currency ({own}).")
    entry.columns["CODECURN"] = own
    if own in HOME_CURRENCIES or not own:
        entry.columns["EXCHRATEHC"], entry.columns["SWMANRTE"] = Decimal(1), 0
    elif entry.columns["EXCHRATEHC"] <= 0:
        raise invalid(entry.where, f"there is no exchange rate for {own} on the document date; enter ExchangeRate.")


def _apply_to(alias: str, entry: Entry, vendor: APVEN) -> None:
    target = entry.columns["INVCAPPLTO"]
    if not target:
        return
    if entry.columns["TEXTTRX"] not in (DOCUMENT_TYPE["CreditNote"], DOCUMENT_TYPE["DebitNote"]):
        raise invalid(entry.where, "only a credit note or a debit note has an apply-to document.")
    open_invoice = APOBL.objects.using(alias).filter(
        IDVEND=vendor.VENDORID, IDINVC=target, TXTTRXTYPE=DOCUMENT_TYPE["Invoice"], SWPAID=0).exists()
    if not open_invoice:
        raise invalid(entry.where, f"Apply-to Document {target} is not an open posted invoice of "
                                   f"Vendor Number {vendor.VENDORID}.")


def _distributions(alias: str, entry: Entry) -> None:
    codes = {detail["IDDIST"] for detail in entry.details if detail["IDDIST"]}
    known = {trimmed(row.IDDIST).upper(): trimmed(row.IDGLACCT)
             for row in APRDC.objects.using(alias).filter(IDDIST__in=sorted(codes))}
    for line, detail in enumerate(entry.details, start=1):
        if detail["IDDIST"] and detail["IDDIST"] not in known:
            raise invalid(entry.where, f"line {line}: Distribution Code {detail['IDDIST']} does not exist.")
        if not detail["IDDIST"] and not detail["IDGLACCT"]:
            raise invalid(entry.where, f"line {line}: a distribution code or a G/L account is required.")
        detail["IDGLACCT"] = detail["IDGLACCT"] or known.get(detail["IDDIST"], "")


def authorities(alias: str, group: str) -> list[str] | None:
    """The tax group's authorities by position (1..5), or None when the group does not exist."""
    row = TXGRP.objects.using(alias).filter(GROUPID=group, TTYPE=PURCHASES).first()
    if row is None:
        return None
    return [trimmed(getattr(row, f"TAXAUTH{n}")) for n in AUTHORITIES]


def _rate(alias: str, authority: str, vendor_class: int, item_class: int) -> Decimal:
    row = TXRATE.objects.using(alias).filter(AUTHORITY=authority, TTYPE=PURCHASES, BUYERCLASS=vendor_class).first()
    if row is None or not 1 <= item_class <= 5:
        return Decimal(0)
    return getattr(row, f"ITEMRATE{item_class}")


def _taxes(alias: str, entry: Entry, vendor: APVEN) -> None:
    columns, body = entry.columns, entry.body
    group = columns["CODETAXGRP"] or trimmed(vendor.CODETAXGRP).upper()
    authority = authorities(alias, group) if group else [""] * 5
    if authority is None:
        raise invalid(entry.where, f"Tax Group {group} does not exist.")
    columns["CODETAXGRP"] = group
    vendor_classes = {n: body.get(f"TaxClass{n}") or getattr(vendor, f"TAXCLASS{n}") for n in AUTHORITIES}
    for n in AUTHORITIES:
        columns[f"TAXCLASS{n}"] = vendor_classes[n]
    taxes = {n: Decimal(0) for n in AUTHORITIES}
    if columns["SWCALCTX"] == TAX_CONTROL["Calculate"]:
        for detail in entry.details:
            line_tax = Decimal(0)
            for n in AUTHORITIES:
                if authority[n - 1]:
                    rate = _rate(alias, authority[n - 1], vendor_classes[n], detail[f"TAXCLASS{n}"])
                    tax = (detail["AMTDIST"] * rate / 100).quantize(CENT, ROUND_HALF_UP)
                    taxes[n] += tax
                    line_tax += tax
            detail["AMTTOTTAX"] = line_tax
    else:
        for n, value in entry.given_taxes.items():
            if value and not authority[n - 1]:
                raise invalid(entry.where, f"TaxAmount{n} is given but tax group {group or '(none)'} has no "
                                           f"authority {n}.")
            taxes[n] = value or Decimal(0)
        _spread(entry.details, sum(taxes.values(), Decimal(0)))
    _totals(entry, taxes)


def _spread(details: list[dict[str, Any]], tax_total: Decimal) -> None:
    """Entered header taxes, spread over the lines in proportion to their amounts (Distribute)."""
    base = sum((d["AMTDIST"] for d in details), Decimal(0))
    left = tax_total
    for index, detail in enumerate(details):
        share = left if index == len(details) - 1 else (
            (tax_total * detail["AMTDIST"] / base).quantize(CENT, ROUND_HALF_UP) if base else Decimal(0))
        detail["AMTTOTTAX"] = share
        left -= share


def _totals(entry: Entry, taxes: dict[int, Decimal]) -> None:
    columns = entry.columns
    for n in AUTHORITIES:
        columns[f"AMTTAX{n}"] = taxes[n]
    tax_total = sum(taxes.values(), Decimal(0))
    lines = sum((detail["AMTDIST"] for detail in entry.details), Decimal(0))
    distributed = lines + tax_total
    given = amount(entry.body, "DocumentTotalIncludingTax", entry.where)
    total = distributed if given is None else given
    columns.update(AMTTAXTOT=tax_total, AMTGROSDST=distributed, AMTGROSTOT=total,
                   AMTINVCTOT=total - tax_total, AMTUNDISTR=total - distributed)


def document_exists(alias: str, vendor_id: str, document: str) -> bool:
    # Sage's collation ignores case: compare trimmed and upper-cased.
    wanted = document.strip().upper()
    live_batches = APIBC.objects.using(alias).exclude(BTCHSTTS=BATCH_STATUS["Deleted"]).values("CNTBTCH")
    entered = APIBH.objects.using(alias).filter(IDVEND=vendor_id, CNTBTCH__in=live_batches).values_list(
        "IDINVC", flat=True)
    posted = APOBL.objects.using(alias).filter(IDVEND=vendor_id).values_list("IDINVC", flat=True)
    return any(trimmed(number_).upper() == wanted for number_ in [*entered, *posted])


def write_batch(alias: str, header: dict[str, Any], entries: list[Entry], audit: Audit) -> int:
    last = APIBC.objects.using(alias).aggregate(last=Max("CNTBTCH"))["last"] or 0
    batch_number = int(last) + 1
    audit.row(APIBC, CNTBTCH=batch_number, BTCHTYPE=1, **header).save(using=alias, force_insert=True)
    headers, lines, fields = [], [], []
    for position, entry in enumerate(entries, start=1):
        keys = {"CNTBTCH": batch_number, "CNTITEM": position}
        headers.append(audit.row(APIBH, **keys, **entry.columns))
        lines += [audit.row(APIBD, **keys, **detail) for detail in entry.details]
        fields += [audit.row(APIBHO, **keys, OPTFIELD=name, VALUE=value) for name, value in entry.optional]
    APIBH.objects.using(alias).bulk_create(headers)
    APIBD.objects.using(alias).bulk_create(lines)
    APIBHO.objects.using(alias).bulk_create(fields)
    return batch_number


# ---------------------------------------------------------------------------
# Answers

def batch_record(alias: str, batch: APIBC, *, with_invoices: bool = True) -> dict[str, Any]:
    entries = list(APIBH.objects.using(alias).filter(CNTBTCH=batch.CNTBTCH).order_by("CNTITEM"))
    record: dict[str, Any] = {
        "BatchNumber": int(batch.CNTBTCH),
        "BatchDate": sage_datetime(batch.DATEBTCH),
        "Description": batch.BTCHDESC,
        "BatchType": "Entered",
        "BatchStatus": BATCH_STATUS_NAME.get(batch.BTCHSTTS, str(batch.BTCHSTTS)),
        "NumberOfEntries": len(entries),
        "BatchTotal": number(sum((entry.AMTGROSTOT for entry in entries), Decimal(0))),
    }
    if with_invoices:
        record["Invoices"] = [invoice_record(alias, entry) for entry in entries]
    return record


def invoice_record(alias: str, entry: APIBH) -> dict[str, Any]:
    keys = {"CNTBTCH": entry.CNTBTCH, "CNTITEM": entry.CNTITEM}
    numbers = {"BatchNumber": int(entry.CNTBTCH), "EntryNumber": int(entry.CNTITEM)}
    return {
        **numbers,
        "VendorNumber": entry.IDVEND,
        "DocumentNumber": entry.IDINVC,
        "DocumentType": DOCUMENT_TYPE_NAME.get(entry.TEXTTRX, str(entry.TEXTTRX)),
        "InvoiceDescription": entry.INVCDESC,
        "DocumentDate": sage_datetime(entry.DATEINVC),
        "PONumber": entry.PONBR,
        "ApplytoDocument": entry.INVCAPPLTO,
        "CurrencyCode": entry.CODECURN,
        "ExchangeRate": number(entry.EXCHRATEHC),
        "RateOverridden": "Yes" if entry.SWMANRTE else "No",
        "TaxGroup": entry.CODETAXGRP,
        "TaxAmountControl": TAX_CONTROL_NAME.get(entry.SWCALCTX, "Calculate"),
        **{f"TaxClass{n}": getattr(entry, f"TAXCLASS{n}") for n in AUTHORITIES},
        **{f"TaxAmount{n}": number(getattr(entry, f"AMTTAX{n}")) for n in AUTHORITIES},
        "TaxTotal": number(entry.AMTTAXTOT),
        "DocumentTotalBeforeTaxes": number(entry.AMTINVCTOT),
        "DocumentTotalIncludingTax": number(entry.AMTGROSTOT),
        "DistributedTotalIncludingTax": number(entry.AMTGROSDST),
        "UndistributedAmount": number(entry.AMTUNDISTR),
        "InvoiceOptionalFields": [
            {**numbers, "OptionalField": row.OPTFIELD, "Value": row.VALUE}
            for row in APIBHO.objects.using(alias).filter(**keys).order_by("OPTFIELD")
        ],
        "InvoiceDetails": [
            {**numbers, "LineNumber": int(row.CNTLINE), "DistributionCode": row.IDDIST,
             "DistributionDescription": row.TEXTDESC, "GLAccount": row.IDGLACCT,
             "DistributedAmount": number(row.AMTDIST), "TaxTotal": number(row.AMTTOTTAX),
             **{f"TaxClass{n}": getattr(row, f"TAXCLASS{n}") for n in AUTHORITIES}}
            for row in APIBD.objects.using(alias).filter(**keys).order_by("CNTLINE")
        ],
    }


def find_batch(alias: str, key: Any) -> APIBC:
    if isinstance(key, dict):
        key = key.get("BatchNumber")
    if not isinstance(key, int):
        raise SageError("InvalidEntityKey", f"The batch key ({key}) must be a batch number.")
    batch = APIBC.objects.using(alias).filter(CNTBTCH=key).first()
    if batch is None:
        raise SageError("RecordNotFound", f"Batch Number {key} does not exist.")
    return batch


# ---------------------------------------------------------------------------
# PATCH of a batch header

EDITABLE = {"BatchNumber", "BatchDate", "Description", "BatchStatus", "Invoices"}


def update_batch(alias: str, key: Any, body: Any, audit: Audit) -> APIBC:
    body = schema.INVOICE_BATCH.check(body, "The batch")
    with transaction.atomic(using=alias):
        batch = find_batch(alias, key)
        if batch.BTCHSTTS in (BATCH_STATUS["Posted"], BATCH_STATUS["Deleted"], BATCH_STATUS["PostInProgress"]):
            state = BATCH_STATUS_NAME[batch.BTCHSTTS].lower()
            raise SageError("RecordInvalid", f"Batch Number {int(batch.CNTBTCH)} is {state} and cannot be edited.")
        others = sorted(set(body) - EDITABLE)
        if others:
            raise SageError("General", f"The stand-in does not edit {', '.join(others)} of an invoice batch.")
        if body.get("BatchNumber") not in (None, int(batch.CNTBTCH)):
            raise SageError("RecordInvalid", f"Batch Number {int(batch.CNTBTCH)} cannot be renumbered.")
        if "Description" in body:
            batch.BTCHDESC = text(body, "Description", "The batch", length=60)
        if "BatchDate" in body:
            batch.DATEBTCH = to_sage_date(date_value(body, "BatchDate", "The batch", default=timezone.localdate()))
        if "BatchStatus" in body:
            if body["BatchStatus"] not in ("Open", "ReadyToPost"):
                raise SageError("RecordInvalid", f"Batch Number {int(batch.CNTBTCH)}: BatchStatus can be set to "
                                                 f"Open or ReadyToPost; a batch is posted by AP/APPostInvoices.")
            batch.BTCHSTTS = BATCH_STATUS[body["BatchStatus"]]
        for invoice in records(body, "Invoices"):
            update_entry(alias, batch, invoice, audit)
        audit.stamp(batch)
        batch.save(using=alias)
    return batch


# What a PATCH may change in an entry of an open batch. The stand-in edits an entry's optional fields
# only (what SageConnect writes: a hand-keyed invoice's FOLIOCFD); Sage's A/P Invoice Entry edits any
# field of an unposted entry, and the stand-in says so rather than pretend.
ENTRY_KEYS = {"BatchNumber", "EntryNumber", "UpdateOperation"}


def update_entry(alias: str, batch: APIBC, body: dict[str, Any], audit: Audit) -> None:
    """One element of a PATCH's Invoices[]: an existing entry, by its key (Developer Reference, "Updating a
    resource entry (HTTP PATCH)": a detail whose key names an existing record is updated; UpdateOperation
    "Update" requires it to exist; "Insert"/"Delete" add or remove whole entries)."""
    number_ = body.get("EntryNumber")
    where = f"Entry {number_}"
    operation = body.get("UpdateOperation") or "Unspecified"
    if body.get("BatchNumber") not in (None, int(batch.CNTBTCH)):
        raise SageError("RecordInvalid", f"{where}: BatchNumber {body['BatchNumber']} is not batch "
                                         f"{int(batch.CNTBTCH)}.")
    if operation in ("Insert", "Delete"):
        raise SageError("General", f"{where}: the stand-in does not {operation.lower()} invoice entries "
                                   f"through a PATCH.")
    entry = None
    if isinstance(number_, int) and not isinstance(number_, bool):
        entry = APIBH.objects.using(alias).filter(CNTBTCH=batch.CNTBTCH, CNTITEM=number_).first()
    if entry is None:
        if operation == "Update":
            raise SageError("RecordNotFound", f"{where} does not exist in batch {int(batch.CNTBTCH)}.")
        # Unspecified with no existing key is an insert (Developer Reference): not done by the stand-in.
        raise SageError("General", f"{where}: the stand-in does not add invoice entries through a PATCH.")
    others = sorted(set(body) - ENTRY_KEYS - {"InvoiceOptionalFields"})
    if others:
        raise SageError("General", f"{where}: the stand-in does not edit {', '.join(others)} of an invoice entry.")
    where = f"Entry {int(entry.CNTITEM)} (document {trimmed(entry.IDINVC)})"
    for field_ in records(body, "InvoiceOptionalFields"):
        update_optional_field(alias, entry, field_, where, audit)
    audit.stamp(entry)
    entry.save(using=alias)


def update_optional_field(alias: str, entry: APIBH, body: dict[str, Any], where: str, audit: Audit) -> None:
    """An InvoiceOptionalFields[] element by its key (batch, entry, OptionalField), under the Developer
    Reference's UpdateOperation rules: Insert adds a new one, Update and Delete need it to exist,
    Unspecified updates it when it exists and adds it otherwise."""
    name = text(body, "OptionalField", where, length=12, required=True).strip().upper()
    for key, value in (("BatchNumber", entry.CNTBTCH), ("EntryNumber", entry.CNTITEM)):
        if body.get(key) not in (None, int(value)):
            raise SageError("RecordInvalid", f"{where}: optional field {name} names {key} {body[key]}.")
    operation = body.get("UpdateOperation") or "Unspecified"
    rows = APIBHO.objects.using(alias).filter(CNTBTCH=entry.CNTBTCH, CNTITEM=entry.CNTITEM, OPTFIELD=name)
    exists = rows.exists()
    if operation == "Insert" and exists:
        raise SageError("RecordDuplicate", f"{where}: optional field {name} already exists.")
    if operation in ("Update", "Delete") and not exists:
        raise SageError("RecordNotFound", f"{where}: optional field {name} does not exist.")
    if operation == "Delete":
        rows.delete()
        return
    value = text(body, "Value", where, length=60)
    if exists:
        row = rows.get()
        row.VALUE = value
        audit.stamp(row)
        row.save(using=alias)
    else:
        audit.row(APIBHO, CNTBTCH=entry.CNTBTCH, CNTITEM=entry.CNTITEM, OPTFIELD=name, VALUE=value).save(
            using=alias, force_insert=True)


# ---------------------------------------------------------------------------
# Posting and Clear History, as Sage's own screens do them (sandbox helpers:
# the sync never posts; tests and the sandbox company use them).

def post_batch(alias: str, batch_number: int, audit: Audit) -> None:
    """What A/P Post Invoices does: one APOBL row (and its APOBLO fields) per entry.

    An entry out of balance is not posted: the batch is refused, naming it.
    A credit note applied to an invoice takes its amount off that invoice.
    """
    with transaction.atomic(using=alias):
        batch = find_batch(alias, batch_number)
        if batch.BTCHSTTS not in (BATCH_STATUS["Open"], BATCH_STATUS["ReadyToPost"]):
            raise SageError("RecordInvalid", f"Batch Number {batch_number} is "
                                             f"{BATCH_STATUS_NAME.get(batch.BTCHSTTS, '?').lower()}.")
        entries = list(APIBH.objects.using(alias).filter(CNTBTCH=batch_number, ERRENTRY=0).order_by("CNTITEM"))
        for entry in entries:
            if entry.AMTUNDISTR:
                raise SageError("RecordInvalid", f"Entry {int(entry.CNTITEM)} (document {entry.IDINVC}): the "
                                                 f"undistributed amount is {entry.AMTUNDISTR}; it must be zero "
                                                 f"to post.")
        for entry in entries:
            _post_entry(alias, entry, audit)
        batch.BTCHSTTS = BATCH_STATUS["Posted"]
        audit.stamp(batch)
        batch.save(using=alias)


def _post_entry(alias: str, entry: APIBH, audit: Audit) -> None:
    if APOBL.objects.using(alias).filter(IDVEND=entry.IDVEND, IDINVC=entry.IDINVC).exists():
        raise SageError("RecordDuplicate", f"Entry {int(entry.CNTITEM)}: Document Number {entry.IDINVC} "
                                           f"is already posted for Vendor Number {entry.IDVEND}.")
    credit = entry.TEXTTRX == DOCUMENT_TYPE["CreditNote"]
    sign = -1 if credit else 1
    rate = entry.EXCHRATEHC or Decimal(1)
    vendor_amount = sign * entry.AMTGROSTOT
    home_amount = (vendor_amount * rate).quantize(CENT, ROUND_HALF_UP)
    due_vendor, due_home, paid = vendor_amount, home_amount, 0
    if credit and entry.INVCAPPLTO:
        due_vendor, due_home, paid = _apply_credit(alias, entry, vendor_amount, home_amount)
    audit.row(
        APOBL, IDVEND=entry.IDVEND, IDINVC=entry.IDINVC, IDTRXTYPE=POSTED_TYPE.get(entry.TEXTTRX, 12),
        TXTTRXTYPE=entry.TEXTTRX, DATEINVC=entry.DATEINVC, CODECURN=entry.CODECURN, EXCHRATEHC=rate,
        AMTINVCHC=home_amount, AMTDUEHC=due_home, AMTDUETC=due_vendor, SWPAID=paid,
        CNTBTCH=entry.CNTBTCH, CNTITEM=entry.CNTITEM,
    ).save(using=alias, force_insert=True)
    APOBLO.objects.using(alias).bulk_create([
        audit.row(APOBLO, IDVEND=entry.IDVEND, IDINVC=entry.IDINVC, OPTFIELD=row.OPTFIELD, VALUE=row.VALUE)
        for row in APIBHO.objects.using(alias).filter(CNTBTCH=entry.CNTBTCH, CNTITEM=entry.CNTITEM)
    ])


def _apply_credit(alias: str, entry: APIBH, vendor_amount: Decimal, home_amount: Decimal):
    invoice = APOBL.objects.using(alias).filter(IDVEND=entry.IDVEND, IDINVC=entry.INVCAPPLTO).first()
    if invoice is None:
        return vendor_amount, home_amount, 0
    taken = min(-vendor_amount, invoice.AMTDUETC)
    taken_home = min(-home_amount, invoice.AMTDUEHC)
    invoice.AMTDUETC -= taken
    invoice.AMTDUEHC -= taken_home
    invoice.SWPAID = int(invoice.AMTDUETC <= 0)
    invoice.save(using=alias)
    left = vendor_amount + taken
    return left, home_amount + taken_home, int(left == 0)


def clear_history(alias: str, *, through_batch: int | None = None) -> int:
    """Sage's Clear History, "Deleted and Posted Batches": their batch rows go (ClearHistoryResx
    "RemovesBatches"); the posted documents (APOBL, APOBLO) stay. Returns batches cleared."""
    with transaction.atomic(using=alias):
        batches = APIBC.objects.using(alias).filter(BTCHSTTS__in=(BATCH_STATUS["Posted"], BATCH_STATUS["Deleted"]))
        if through_batch is not None:
            batches = batches.filter(CNTBTCH__lte=through_batch)
        numbers = list(batches.values_list("CNTBTCH", flat=True))
        for model in (APIBHO, APIBD, APIBH):
            model.objects.using(alias).filter(CNTBTCH__in=numbers).delete()
        batches.delete()
    return len(numbers)
