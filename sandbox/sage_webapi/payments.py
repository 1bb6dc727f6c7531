"""AP/APPaymentAndAdjustmentBatches in the stand-in: APBTA, APTCR, APTCP.

Shape: FIELDS.md "AP/APPaymentAndAdjustmentBatches" and Sage's SDK samples
(_Prepayment.json, _Adjustment.json). The batch is chosen by BatchSelector —
"PY" payments, "AD" adjustments — which a POST must give (Endpoint Reference,
"Transaction endpoints": "BatchSelector must be specified for POST
requests"); it is AOM APBTA's PAYMTYPE ("Batch Selector"). The key is
`(BatchSelector='PY',BatchNumber=n)`.

A posted (or deleted) batch is not editable: Sage refuses its PATCH
(FIELDS.md; Sage's screens say the same of posted batches — CommonResx
"PostInProgressMessage", InvoiceEntryResx "DeletedBatch").
"""
from __future__ import annotations

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
    date_value,
    invalid,
    number,
    records,
    sage_datetime,
    text,
    whole,
)
from sandbox.sage_webapi.odata import Column
from sync.sage.models import APBTA, APOBL, APPYM, APTCP, APTCR, APVEN
from sync.sage.values import to_sage_date, trimmed

# AOM APBTA BATCHSTAT; APTCR RMITTYPE; APTCP TRXTYPE.
BATCH_STATUS = {"Open": 1, "Posted": 3, "Deleted": 4, "PostInProgress": 5, "ReadyToPost": 7,
                "CheckCreationInProgress": 8}
BATCH_STATUS_NAME = {code: name for name, code in BATCH_STATUS.items()}
TRANSACTION_TYPE = {"Payment": 1, "Prepayment": 2, "ApplyDocument": 3, "MiscPayment": 4, "Adjustment": 5}
TRANSACTION_TYPE_NAME = {code: name for name, code in TRANSACTION_TYPE.items()}
NOT_EDITABLE = (BATCH_STATUS["Posted"], BATCH_STATUS["Deleted"], BATCH_STATUS["PostInProgress"])
CENT = Decimal("0.01")

COLUMNS: dict[str, Column] = {
    "BatchSelector": Column("PAYMTYPE"),
    "BatchNumber": Column("CNTBTCH"),
    "BatchStatus": Column("BATCHSTAT", BATCH_STATUS.__getitem__),
    "BankCode": Column("IDBANK"),
}


def create_batch(alias: str, body: Any, audit: Audit) -> tuple[str, int]:
    body = schema.PAYMENT_BATCH.check(body, "The batch")
    selector = body.get("BatchSelector")
    if not selector:
        raise SageError("InvalidPayload", "The batch: BatchSelector must be specified (PY or AD).")
    status = body.get("BatchStatus") or "Open"
    if status not in ("Open", "ReadyToPost"):
        raise SageError("RecordInvalid", f"The batch: BatchStatus {status} cannot be set; post the batch instead.")
    header = {
        "PAYMTYPE": selector,
        "DATEBTCH": to_sage_date(date_value(body, "BatchDate", "The batch", default=timezone.localdate())),
        "BATCHDESC": text(body, "Description", "The batch", length=60),
        "BATCHSTAT": BATCH_STATUS[status],
        "IDBANK": text(body, "BankCode", "The batch", length=8).strip().upper(),
        "CODECURN": text(body, "BankCurrencyCode", "The batch", length=3).strip().upper(),
    }
    if selector == "PY" and not header["IDBANK"]:
        raise SageError("RecordInvalid", "The batch: Bank Code is required for a payment batch.")
    for attempt in range(5):
        try:
            with transaction.atomic(using=alias):
                entries = [_entry(alias, selector, body_, n) for n, body_ in
                           enumerate(records(body, "PaymentsAdjustments"), start=1)]
                return selector, _write(alias, header, entries, audit)
        except IntegrityError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _entry(alias: str, selector: str, body: dict[str, Any], position: int) -> dict[str, Any]:
    where = f"Entry {position}"
    if body.get("BatchType") not in (None, selector):
        raise invalid(where, f"BatchType {body['BatchType']} is not the batch's ({selector}).")
    vendor_id = text(body, "VendorNumber", where, length=12, required=True).strip().upper()
    vendor = APVEN.objects.using(alias).filter(VENDORID=vendor_id).first()
    if vendor is None:
        raise invalid(where, f"Vendor Number {vendor_id} does not exist.")
    if vendor.SWACTV != 1:
        raise invalid(where, f"Vendor Number {vendor_id} is inactive.")
    kind = body.get("PaymentTransactionType") or ("Payment" if selector == "PY" else "Adjustment")
    lines = [_applied(alias, vendor_id, kind, line, f"{where} line {n}", n)
             for n, line in enumerate(records(body, "AppliedPayments"), start=1)]
    applied = sum((line["AMTPAYM"] for line in lines), Decimal(0))
    vendor_amount = amount(body, "CheckAmountInVendorCurrency", where)
    if vendor_amount is None:
        vendor_amount = amount(body, "TotalPrepayVendorCurrency", where) or applied
    bank_amount = amount(body, "CheckAmountInBankCurrency", where)
    return {
        "columns": {
            "IDRMIT": text(body, "CheckNumber", where, length=24).strip(),
            "IDVEND": vendor_id,
            "DATERMIT": to_sage_date(date_value(body, "PaymentDateAdjustmentDate", where,
                                                default=timezone.localdate())),
            "TEXTRMIT": text(body, "EntryDescription", where, length=60),
            "NAMERMIT": text(body, "VendorPayeeName", where, length=60) or vendor.VENDNAME,
            "AMTRMITTC": vendor_amount,
            "AMTRMIT": vendor_amount if bank_amount is None else bank_amount,
            "RMITTYPE": TRANSACTION_TYPE[kind],
            "TXTRMITREF": text(body, "EntryReference", where, length=60),
            "CODECURN": trimmed(vendor.CURNCODE),
        },
        "lines": lines,
    }


def _applied(alias: str, vendor_id: str, kind: str, body: dict[str, Any], where: str, position: int) -> dict:
    document = text(body, "DocumentNumber", where, length=22).strip()
    paid = amount(body, "PaymentAmount", where) or Decimal(0)
    if kind in ("Payment", "Adjustment", "ApplyDocument"):
        if not document:
            raise invalid(where, "a Document Number is required.")
        posted = APOBL.objects.using(alias).filter(IDVEND=vendor_id, IDINVC=document).first()
        if posted is None:
            raise invalid(where, f"Document Number {document} is not a posted document of Vendor Number "
                                 f"{vendor_id}.")
        if kind == "Payment" and (posted.SWPAID or paid > posted.AMTDUETC):
            raise invalid(where, f"the payment of {paid} is more than the {posted.AMTDUETC} due on {document}.")
    return {"CNTLINE": Decimal(whole(body, "LineNumber", where, default=position * 20)), "IDVEND": vendor_id,
            "IDINVC": document, "DOCTYPE": 1, "AMTPAYM": paid}


def _write(alias: str, header: dict[str, Any], entries: list[dict[str, Any]], audit: Audit) -> int:
    selector = header["PAYMTYPE"]
    last = APBTA.objects.using(alias).filter(PAYMTYPE=selector).aggregate(last=Max("CNTBTCH"))["last"] or 0
    batch_number = int(last) + 1
    audit.row(APBTA, CNTBTCH=batch_number, **header).save(using=alias, force_insert=True)
    for position, entry in enumerate(entries, start=1):
        audit.row(APTCR, BTCHTYPE=selector, CNTBTCH=batch_number, CNTENTR=position,
                  DOCNBR=f"{selector}{batch_number:06d}{position:04d}", **entry["columns"]).save(
            using=alias, force_insert=True)
        APTCP.objects.using(alias).bulk_create([
            audit.row(APTCP, BATCHTYPE=selector, CNTBTCH=batch_number, CNTRMIT=position, **line)
            for line in entry["lines"]])
    return batch_number


# ---------------------------------------------------------------------------
# Answers

def batch_record(alias: str, batch: APBTA) -> dict[str, Any]:
    keys = {"BTCHTYPE": batch.PAYMTYPE, "CNTBTCH": batch.CNTBTCH}
    entries = list(APTCR.objects.using(alias).filter(**keys).order_by("CNTENTR"))
    lines: dict[int, list[APTCP]] = {}
    for line in APTCP.objects.using(alias).filter(BATCHTYPE=batch.PAYMTYPE, CNTBTCH=batch.CNTBTCH).order_by(
            "CNTRMIT", "CNTLINE"):
        lines.setdefault(int(line.CNTRMIT), []).append(line)
    selector, batch_number = trimmed(batch.PAYMTYPE), int(batch.CNTBTCH)
    numbers = {"BatchType": selector, "BatchNumber": batch_number}
    return {
        "BatchSelector": selector,
        "BatchNumber": batch_number,
        "BatchDate": sage_datetime(batch.DATEBTCH),
        "BatchStatus": BATCH_STATUS_NAME.get(batch.BATCHSTAT, str(batch.BATCHSTAT)),
        "Description": batch.BATCHDESC,
        "BankCode": batch.IDBANK,
        "BankCurrencyCode": batch.CODECURN,
        "PaymentsAdjustments": [{
            **numbers, "EntryNumber": int(entry.CNTENTR), "CheckNumber": entry.IDRMIT,
            "VendorNumber": entry.IDVEND, "PaymentDateAdjustmentDate": sage_datetime(entry.DATERMIT),
            "EntryDescription": entry.TEXTRMIT, "VendorPayeeName": entry.NAMERMIT,
            "CheckAmountInBankCurrency": number(entry.AMTRMIT),
            "CheckAmountInVendorCurrency": number(entry.AMTRMITTC),
            "PaymentTransactionType": TRANSACTION_TYPE_NAME.get(entry.RMITTYPE, str(entry.RMITTYPE)),
            "EntryReference": entry.TXTRMITREF,
            "AppliedPayments": [{
                **numbers, "EntryNumber": int(entry.CNTENTR), "LineNumber": int(line.CNTLINE),
                "VendorNumber": line.IDVEND, "DocumentNumber": line.IDINVC,
                "PaymentAmount": number(line.AMTPAYM),
            } for line in lines.get(int(entry.CNTENTR), [])],
        } for entry in entries],
    }


def find_batch(alias: str, key: Any) -> APBTA:
    if isinstance(key, tuple) and len(key) == 2:
        key = {"BatchSelector": key[0], "BatchNumber": key[1]}
    if not isinstance(key, dict) or set(key) != {"BatchSelector", "BatchNumber"} \
            or not isinstance(key["BatchNumber"], int):
        raise SageError("InvalidEntityKey", "The key of a payment and adjustment batch is "
                                            "(BatchSelector='PY'|'AD',BatchNumber=n).")
    batch = APBTA.objects.using(alias).filter(PAYMTYPE=str(key["BatchSelector"]).upper(),
                                              CNTBTCH=key["BatchNumber"]).first()
    if batch is None:
        raise SageError("RecordNotFound", f"Batch {key['BatchSelector']} {key['BatchNumber']} does not exist.")
    return batch


# ---------------------------------------------------------------------------
# PATCH

EDITABLE = {"BatchSelector", "BatchNumber", "BatchDate", "Description", "BatchStatus", "PaymentsAdjustments"}
EDITABLE_ENTRY = {"BatchType", "BatchNumber", "EntryNumber", "EntryDescription", "EntryReference"}


def update_batch(alias: str, key: Any, body: Any, audit: Audit) -> APBTA:
    body = schema.PAYMENT_BATCH.check(body, "The batch")
    with transaction.atomic(using=alias):
        batch = find_batch(alias, key)
        name = f"Batch {trimmed(batch.PAYMTYPE)} {int(batch.CNTBTCH)}"
        if batch.BATCHSTAT in NOT_EDITABLE:
            state = BATCH_STATUS_NAME[batch.BATCHSTAT].lower()
            raise SageError("RecordInvalid", f"{name} is {state} and cannot be edited.")
        others = sorted(set(body) - EDITABLE)
        if others:
            raise SageError("General", f"The stand-in does not edit {', '.join(others)} of a payment batch.")
        if "Description" in body:
            batch.BATCHDESC = text(body, "Description", "The batch", length=60)
        if "BatchDate" in body:
            batch.DATEBTCH = to_sage_date(date_value(body, "BatchDate", "The batch", default=timezone.localdate()))
        if "BatchStatus" in body:
            if body["BatchStatus"] not in ("Open", "ReadyToPost"):
                raise SageError("RecordInvalid", f"{name}: BatchStatus can be set to Open or ReadyToPost; a batch "
                                                 f"is posted by AP/APPostPaymentsAndAdjustments.")
            batch.BATCHSTAT = BATCH_STATUS[body["BatchStatus"]]
        for change in records(body, "PaymentsAdjustments"):
            _update_entry(alias, batch, change, name)
        audit.stamp(batch)
        batch.save(using=alias)
    return batch


def _update_entry(alias: str, batch: APBTA, change: dict[str, Any], name: str) -> None:
    others = sorted(set(change) - EDITABLE_ENTRY)
    if others:
        raise SageError("General", f"The stand-in does not edit {', '.join(others)} of a payment entry.")
    entry = APTCR.objects.using(alias).filter(BTCHTYPE=batch.PAYMTYPE, CNTBTCH=batch.CNTBTCH,
                                              CNTENTR=change.get("EntryNumber")).first()
    if entry is None:
        raise SageError("RecordNotFound", f"{name}: Entry {change.get('EntryNumber')} does not exist.")
    where = f"{name} entry {int(entry.CNTENTR)}"
    if "EntryDescription" in change:
        entry.TEXTRMIT = text(change, "EntryDescription", where, length=60)
    if "EntryReference" in change:
        entry.TXTRMITREF = text(change, "EntryReference", where, length=60)
    entry.save(using=alias)


def post_batch(alias: str, key: Any, audit: Audit) -> None:
    """What A/P Post Payments does, as far as the sync reads it: the batch is posted, each payment
    becomes an APPYM row and comes off the documents it pays. (Sandbox helper.)"""
    with transaction.atomic(using=alias):
        batch = find_batch(alias, key)
        if batch.BATCHSTAT in NOT_EDITABLE:
            raise SageError("RecordInvalid", f"Batch {batch.PAYMTYPE} {int(batch.CNTBTCH)} is already "
                                             f"{BATCH_STATUS_NAME[batch.BATCHSTAT].lower()}.")
        for entry in APTCR.objects.using(alias).filter(BTCHTYPE=batch.PAYMTYPE, CNTBTCH=batch.CNTBTCH):
            if trimmed(batch.PAYMTYPE) == "PY":
                audit.row(APPYM, IDBANK=batch.IDBANK, IDVEND=entry.IDVEND, IDRMIT=entry.IDRMIT,
                          LONGSERIAL=_serial(entry.IDRMIT), DATERMIT=entry.DATERMIT, CODECURN=entry.CODECURN,
                          AMTRMITTC=entry.AMTRMITTC, CNTBTCH=entry.CNTBTCH, CNTITEM=entry.CNTENTR,
                          SWCHKCLRD=0).save(using=alias, force_insert=True)
            for line in APTCP.objects.using(alias).filter(BATCHTYPE=batch.PAYMTYPE, CNTBTCH=batch.CNTBTCH,
                                                          CNTRMIT=entry.CNTENTR):
                _pay(alias, line)
        batch.BATCHSTAT = BATCH_STATUS["Posted"]
        audit.stamp(batch)
        batch.save(using=alias)


def _serial(check_number: str) -> int:
    digits = "".join(ch for ch in check_number if ch.isdigit())
    return int(digits[-18:]) if digits else 0


def _pay(alias: str, line: APTCP) -> None:
    document = APOBL.objects.using(alias).filter(IDVEND=line.IDVEND, IDINVC=line.IDINVC).first()
    if document is None:
        return
    rate = document.EXCHRATEHC or Decimal(1)
    document.AMTDUETC -= line.AMTPAYM
    document.AMTDUEHC -= (line.AMTPAYM * rate).quantize(CENT, ROUND_HALF_UP)
    document.SWPAID = int(document.AMTDUETC <= 0)
    document.save(using=alias)
