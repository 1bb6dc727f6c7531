"""What the Sage 300 Web API stand-in reads and writes: the sandbox company's Sage tables.

Records go in and out in the Web API's shapes (PascalCase, Sage's enum words)
and land in the same APIBC/APIBH/APIBD/APIBHO/APVEN/APVENO/APOBL rows Sage
itself would write, so the sync reads them back exactly as it would in a real
company. Validation follows Sage: a batch with one bad invoice is rejected whole.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Model
from django.utils import timezone

from sandbox.sage_webapi.odata import Column
from sync.sage.models import APIBC, APIBD, APIBH, APIBHO, APOBL, APVEN, APVENO
from sync.sage.values import sage_date, sage_time, to_sage_date, trimmed


class SageError(Exception):
    """An error Sage answers with `{"error": {"code", "message"}}`."""

    STATUS = {
        "Unauthorized": 401, "Forbidden": 403, "ResourceNotFound": 404, "RecordNotFound": 404,
        "TooManyRequests": 429, "InvalidParameters": 400, "InvalidPayload": 400, "RecordInvalid": 400,
        "RecordDuplicate": 409, "General": 400, "DBLinkError": 503, "SessionError": 503,
        "InternalServerError": 500,
    }

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return self.STATUS.get(self.code, 500)


BATCH_STATUS = {"Open": 1, "Deleted": 4, "Posted": 3, "ReadyToPost": 7}
BATCH_STATUS_NAME = {number: name for name, number in BATCH_STATUS.items()}
DOCUMENT_TYPE = {"Invoice": 1, "DebitNote": 2, "CreditNote": 3}
DOCUMENT_TYPE_NAME = {number: name for name, number in DOCUMENT_TYPE.items()}
# APOBL.IDTRXTYPE of a posted summary-entered document.
POSTED_TYPE = {1: 12, 2: 22, 3: 32}
POSTED_TYPE_NAME = {12: "Invoice", 22: "DebitNote", 32: "CreditNote"}
YES_NO = {"Yes": 1, "No": 0}
STATUS = {"Active": 1, "Inactive": 0}


def _date_column(value: Any) -> Decimal:
    return to_sage_date(value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)))


def _upper(value: Any) -> str:
    return str(value).upper()


VENDOR_FIELDS: dict[str, str] = {
    "VendorNumber": "VENDORID", "VendorName": "VENDNAME", "ShortName": "SHORTNAME", "GroupCode": "IDGRP",
    "AddressLine1": "TEXTSTRE1", "AddressLine2": "TEXTSTRE2", "AddressLine3": "TEXTSTRE3",
    "AddressLine4": "TEXTSTRE4", "City": "NAMECITY", "StateProvince": "CODESTTE",
    "ZipPostalCode": "CODEPSTL", "Country": "CODECTRY", "ContactName": "NAMECTAC",
    "PhoneNumber": "TEXTPHON1", "Email": "EMAIL1", "CurrencyCode": "CURNCODE", "TermsCode": "TERMSCODE",
    "TaxRegistrationNumber1": "IDTAXREGI1", "TaxRegistrationNumber2": "IDTAXREGI2",
    "TaxRegistrationNumber3": "IDTAXREGI3", "TaxRegistrationNumber4": "IDTAXREGI4",
    "TaxRegistrationNumber5": "IDTAXREGI5", "BusinessRegistrationNumber": "BRN",
}
VENDOR_COLUMNS: dict[str, Column] = {name: Column(column) for name, column in VENDOR_FIELDS.items()}
VENDOR_COLUMNS["VendorNumber"] = Column("VENDORID", _upper)
VENDOR_COLUMNS["Status"] = Column("SWACTV", STATUS.__getitem__)
VENDOR_COLUMNS["OnHold"] = Column("SWHOLD", YES_NO.__getitem__)
VENDOR_COLUMNS["DateLastMaintained"] = Column("AUDTDATE", _date_column)

BATCH_COLUMNS: dict[str, Column] = {
    "BatchNumber": Column("CNTBTCH"),
    "BatchDate": Column("DATEBTCH", _date_column),
    "Description": Column("BTCHDESC"),
    "BatchStatus": Column("BTCHSTTS", BATCH_STATUS.__getitem__),
}

POSTED_COLUMNS: dict[str, Column] = {
    "VendorNumber": Column("IDVEND", _upper),
    "DocumentNumber": Column("IDINVC"),
    "DocumentType": Column("IDTRXTYPE", {name: code for code, name in POSTED_TYPE_NAME.items()}.__getitem__),
    "DocumentDate": Column("DATEINVC", _date_column),
    "OriginalDocumentAmount": Column("AMTINVCHC"),
    "CurrentBalance": Column("AMTDUEHC"),
    "FullyPaid": Column("SWPAID", YES_NO.__getitem__),
    "BatchNumber": Column("CNTBTCH"),
    "EntryNumber": Column("CNTITEM"),
}


def sage_datetime(value: Any) -> str | None:
    date = sage_date(value)
    return f"{date.isoformat()}T00:00:00Z" if date else None


def number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


class Audit:
    """The audit columns every Sage write stamps."""

    def __init__(self, user: str, company: str) -> None:
        now = timezone.localtime()
        self.values = {"AUDTDATE": to_sage_date(now.date()), "AUDTTIME": sage_time(now),
                       "AUDTUSER": user.upper()[:8], "AUDTORG": company.upper()[:6]}

    def row(self, model: type[Model], **columns: Any) -> Model:
        return model(**self.values, **columns)


# ---------------------------------------------------------------------------
# Payload checks (InvalidPayload), as Sage reports them.

def require_object(body: Any, where: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise SageError("InvalidPayload", f"{where} must be a JSON object.")
    return body


def reject_unknown(body: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise SageError("InvalidPayload", f"{where}: the property '{unknown[0]}' does not exist on this resource.")


def text(body: dict[str, Any], name: str, where: str, *, length: int, required: bool = False) -> str:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise SageError("InvalidPayload", f"{where}: {name} is required.")
        return ""
    if not isinstance(value, str):
        raise SageError("InvalidPayload", f"{where}: {name} must be text.")
    if len(value) > length:
        raise SageError("InvalidPayload", f"{where}: {name} is longer than {length} characters.")
    return value


def amount(body: dict[str, Any], name: str, where: str, *, required: bool = False) -> Decimal | None:
    value = body.get(name)
    if value is None:
        if required:
            raise SageError("InvalidPayload", f"{where}: {name} is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SageError("InvalidPayload", f"{where}: {name} must be a number.")
    try:
        return Decimal(str(value)).quantize(Decimal("0.001"))
    except InvalidOperation:
        raise SageError("InvalidPayload", f"{where}: {name} must be a number.") from None


def date_value(body: dict[str, Any], name: str, where: str) -> dt.date:
    value = body.get(name)
    if value in (None, ""):
        return timezone.localdate()
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise SageError("InvalidPayload", f"{where}: {name} '{value}' is not a date.") from None


def choice(body: dict[str, Any], name: str, where: str, options: dict[str, int], default: str) -> int:
    value = body.get(name) or default
    if value not in options:
        raise SageError("InvalidPayload", f"{where}: {name} '{value}' is not one of {', '.join(options)}.")
    return options[value]


def optional_fields(body: dict[str, Any], name: str, where: str) -> list[tuple[str, str]]:
    fields = body.get(name) or []
    if not isinstance(fields, list):
        raise SageError("InvalidPayload", f"{where}: {name} must be a list.")
    result = []
    for index, field in enumerate(fields, start=1):
        spot = f"{where} {name}[{index}]"
        field = require_object(field, spot)
        reject_unknown(field, {"OptionalField", "Value", "VendorNumber", "BatchNumber", "EntryNumber"}, spot)
        result.append((text(field, "OptionalField", spot, length=12, required=True).upper(),
                       text(field, "Value", spot, length=60)))
    return result


# ---------------------------------------------------------------------------
# AP invoice batches (APIBC, APIBH, APIBD, APIBHO)

BATCH_PROPERTIES = {"BatchDate", "Description", "BatchStatus", "BatchType", "Invoices", "BatchNumber"}
INVOICE_PROPERTIES = {
    "VendorNumber", "DocumentNumber", "DocumentType", "InvoiceDescription", "DocumentDate", "PONumber",
    "CurrencyCode", "DocumentTotalIncludingTax", "InvoiceOptionalFields", "InvoiceDetails",
    "BatchNumber", "EntryNumber",
}
DETAIL_PROPERTIES = {"LineNumber", "DistributionCode", "GLAccount", "DistributedAmount", "BatchNumber",
                     "EntryNumber", "DistributionDescription"}


def read_invoice(body: Any, entry: int) -> dict[str, Any]:
    where = f"Entry {entry}"
    body = require_object(body, where)
    reject_unknown(body, INVOICE_PROPERTIES, where)
    invoice = {
        "IDVEND": text(body, "VendorNumber", where, length=12, required=True).strip().upper(),
        "IDINVC": text(body, "DocumentNumber", where, length=22, required=True).strip(),
        "TEXTTRX": choice(body, "DocumentType", where, DOCUMENT_TYPE, "Invoice"),
        "PONBR": text(body, "PONumber", where, length=22),
        "CODECURN": text(body, "CurrencyCode", where, length=3).upper(),
        "DATEINVC": to_sage_date(date_value(body, "DocumentDate", where)),
    }
    text(body, "InvoiceDescription", where, length=60)
    details = body.get("InvoiceDetails") or []
    if not isinstance(details, list):
        raise SageError("InvalidPayload", f"{where}: InvoiceDetails must be a list.")
    invoice["details"] = [read_detail(detail, where, line) for line, detail in enumerate(details, start=1)]
    invoice["optional_fields"] = optional_fields(body, "InvoiceOptionalFields", where)
    total = amount(body, "DocumentTotalIncludingTax", where)
    invoice["AMTINVCTOT"] = total if total is not None else sum(
        (detail["AMTDIST"] for detail in invoice["details"]), Decimal(0))
    return invoice


def read_detail(body: Any, where: str, line: int) -> dict[str, Any]:
    spot = f"{where} InvoiceDetails[{line}]"
    body = require_object(body, spot)
    reject_unknown(body, DETAIL_PROPERTIES, spot)
    line_number = body.get("LineNumber") or line * 20
    if not isinstance(line_number, int):
        raise SageError("InvalidPayload", f"{spot}: LineNumber must be a whole number.")
    return {
        "CNTLINE": Decimal(line_number),
        "IDDIST": text(body, "DistributionCode", spot, length=6).upper(),
        "IDGLACCT": text(body, "GLAccount", spot, length=45),
        "AMTDIST": amount(body, "DistributedAmount", spot, required=True),
    }


def check_invoices(alias: str, invoices: list[dict[str, Any]]) -> None:
    """Sage's record checks: the vendor exists and is active; the document number is new."""
    seen: set[tuple[str, str]] = set()
    for entry, invoice in enumerate(invoices, start=1):
        vendor_id, document = invoice["IDVEND"], invoice["IDINVC"]
        where = f"Entry {entry} (document {document})"
        vendor = APVEN.objects.using(alias).filter(VENDORID=vendor_id).first()
        if vendor is None:
            raise SageError("RecordInvalid", f"{where}: Vendor Number {vendor_id} does not exist.")
        if vendor.SWACTV != 1:
            raise SageError("RecordInvalid", f"{where}: Vendor Number {vendor_id} is inactive.")
        key = (vendor_id, document.upper())
        if key in seen or document_exists(alias, vendor_id, document):
            raise SageError("RecordDuplicate",
                            f"{where}: Document Number {document} already exists for Vendor Number {vendor_id}.")
        seen.add(key)


def document_exists(alias: str, vendor_id: str, document: str) -> bool:
    # Sage's collation ignores case: compare trimmed and upper-cased.
    wanted = document.strip().upper()
    live_batches = APIBC.objects.using(alias).exclude(BTCHSTTS=BATCH_STATUS["Deleted"]).values("CNTBTCH")
    entered = APIBH.objects.using(alias).filter(IDVEND=vendor_id, CNTBTCH__in=live_batches).values_list(
        "IDINVC", flat=True)
    posted = APOBL.objects.using(alias).filter(IDVEND=vendor_id).values_list("IDINVC", flat=True)
    return any(trimmed(number_).upper() == wanted for number_ in [*entered, *posted])


def create_batch(alias: str, body: Any, audit: Audit) -> int:
    body = require_object(body, "The batch")
    reject_unknown(body, BATCH_PROPERTIES, "The batch")
    invoices_body = body.get("Invoices")
    if not isinstance(invoices_body, list) or not invoices_body:
        raise SageError("InvalidPayload", "The batch: Invoices is required.")
    invoices = [read_invoice(invoice, entry) for entry, invoice in enumerate(invoices_body, start=1)]
    header = {
        "DATEBTCH": to_sage_date(date_value(body, "BatchDate", "The batch")),
        "BTCHDESC": text(body, "Description", "The batch", length=60),
        "BTCHSTTS": choice(body, "BatchStatus", "The batch", {"Open": 1, "ReadyToPost": 7}, "Open"),
    }
    for attempt in range(5):
        try:
            with transaction.atomic(using=alias):
                check_invoices(alias, invoices)
                return write_batch(alias, header, invoices, audit)
        except IntegrityError:
            # Another request took the same batch number first: take the next.
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def write_batch(alias: str, header: dict[str, Any], invoices: list[dict[str, Any]], audit: Audit) -> int:
    last = APIBC.objects.using(alias).aggregate(last=Max("CNTBTCH"))["last"] or 0
    batch_number = int(last) + 1
    audit.row(APIBC, CNTBTCH=batch_number, BTCHTYPE=1, **header).save(using=alias, force_insert=True)
    headers, lines, fields = [], [], []
    for entry, invoice in enumerate(invoices, start=1):
        keys = {"CNTBTCH": batch_number, "CNTITEM": entry}
        columns = {k: v for k, v in invoice.items() if k not in ("details", "optional_fields")}
        headers.append(audit.row(APIBH, **keys, **columns))
        lines += [audit.row(APIBD, **keys, **detail) for detail in invoice["details"]]
        fields += [audit.row(APIBHO, **keys, OPTFIELD=name, VALUE=value) for name, value in invoice["optional_fields"]]
    APIBH.objects.using(alias).bulk_create(headers)
    APIBD.objects.using(alias).bulk_create(lines)
    APIBHO.objects.using(alias).bulk_create(fields)
    return batch_number


def batch_record(alias: str, batch: APIBC, *, with_invoices: bool = True) -> dict[str, Any]:
    entries = list(APIBH.objects.using(alias).filter(CNTBTCH=batch.CNTBTCH).order_by("CNTITEM"))
    record: dict[str, Any] = {
        "BatchNumber": int(batch.CNTBTCH),
        "BatchDate": sage_datetime(batch.DATEBTCH),
        "Description": batch.BTCHDESC,
        "BatchType": "Entered",
        "BatchStatus": BATCH_STATUS_NAME.get(batch.BTCHSTTS, str(batch.BTCHSTTS)),
        "NumberOfEntries": len(entries),
        "BatchTotal": number(sum((entry.AMTINVCTOT for entry in entries), Decimal(0))),
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
        "DocumentDate": sage_datetime(entry.DATEINVC),
        "PONumber": entry.PONBR,
        "CurrencyCode": entry.CODECURN,
        "DocumentTotalIncludingTax": number(entry.AMTINVCTOT),
        "InvoiceOptionalFields": [
            {**numbers, "OptionalField": row.OPTFIELD, "Value": row.VALUE}
            for row in APIBHO.objects.using(alias).filter(**keys).order_by("OPTFIELD")
        ],
        "InvoiceDetails": [
            {**numbers, "LineNumber": int(row.CNTLINE), "DistributionCode": row.IDDIST,
             "GLAccount": row.IDGLACCT, "DistributedAmount": number(row.AMTDIST)}
            for row in APIBD.objects.using(alias).filter(**keys).order_by("CNTLINE")
        ],
    }


def find_batch(alias: str, key: Any) -> APIBC:
    if not isinstance(key, int):
        raise SageError("InvalidParameters", f"The batch key ({key}) must be a batch number.")
    batch = APIBC.objects.using(alias).filter(CNTBTCH=key).first()
    if batch is None:
        raise SageError("RecordNotFound", f"Batch Number {key} does not exist.")
    return batch


def update_batch(alias: str, key: Any, body: Any, audit: Audit) -> APIBC:
    body = require_object(body, "The batch")
    reject_unknown(body, {"BatchStatus", "Description", "BatchDate", "BatchNumber"}, "The batch")
    with transaction.atomic(using=alias):
        batch = find_batch(alias, key)
        if batch.BTCHSTTS in (BATCH_STATUS["Posted"], BATCH_STATUS["Deleted"]):
            state = BATCH_STATUS_NAME[batch.BTCHSTTS].lower()
            raise SageError("RecordInvalid", f"Batch Number {key} is {state} and cannot be changed.")
        if "Description" in body:
            batch.BTCHDESC = text(body, "Description", "The batch", length=60)
        if "BatchDate" in body:
            batch.DATEBTCH = to_sage_date(date_value(body, "BatchDate", "The batch"))
        if "BatchStatus" in body:
            batch.BTCHSTTS = choice(body, "BatchStatus", "The batch", BATCH_STATUS, "Open")
            if batch.BTCHSTTS == BATCH_STATUS["Posted"]:
                post_batch(alias, batch, audit)
        for column, value in audit.values.items():
            setattr(batch, column, value)
        batch.save(using=alias)
    return batch


def post_batch(alias: str, batch: APIBC, audit: Audit) -> None:
    """What a clerk's Post does to the open-documents ledger: one APOBL row per entry."""
    for entry in APIBH.objects.using(alias).filter(CNTBTCH=batch.CNTBTCH, ERRENTRY=0).order_by("CNTITEM"):
        if APOBL.objects.using(alias).filter(IDVEND=entry.IDVEND, IDINVC=entry.IDINVC).exists():
            raise SageError("RecordDuplicate", f"Entry {int(entry.CNTITEM)}: Document Number {entry.IDINVC} "
                                               f"is already posted for Vendor Number {entry.IDVEND}.")
        sign = -1 if entry.TEXTTRX == DOCUMENT_TYPE["CreditNote"] else 1
        audit.row(
            APOBL, IDVEND=entry.IDVEND, IDINVC=entry.IDINVC, IDTRXTYPE=POSTED_TYPE.get(entry.TEXTTRX, 12),
            DATEINVC=entry.DATEINVC, AMTINVCHC=sign * entry.AMTINVCTOT, AMTDUEHC=sign * entry.AMTINVCTOT,
            SWPAID=0, CNTBTCH=entry.CNTBTCH, CNTITEM=entry.CNTITEM,
        ).save(using=alias, force_insert=True)


# ---------------------------------------------------------------------------
# AP vendors (APVEN, APVENO) and posted documents (APOBL)

VENDOR_PROPERTIES = set(VENDOR_FIELDS) | {"Status", "OnHold", "OptionalFields"}
VENDOR_LENGTHS = {name: APVEN._meta.get_field(column).max_length for name, column in VENDOR_FIELDS.items()}


def vendor_records(alias: str, vendors: list[APVEN], select: list[str] | None = None) -> list[dict[str, Any]]:
    """A page of vendors, their optional fields read in one query."""
    fields: dict[str, list[dict[str, str]]] = {vendor.VENDORID: [] for vendor in vendors}
    if not select or "OptionalFields" in select:
        rows = APVENO.objects.using(alias).filter(VENDORID__in=list(fields)).order_by("VENDORID", "OPTFIELD")
        for row in rows:
            fields.setdefault(row.VENDORID, []).append(
                {"VendorNumber": row.VENDORID, "OptionalField": row.OPTFIELD, "Value": row.VALUE})
    return [vendor_record(vendor, fields[vendor.VENDORID], select) for vendor in vendors]


def vendor_record(vendor: APVEN, optional: list[dict[str, str]], select: list[str] | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {name: getattr(vendor, column) for name, column in VENDOR_FIELDS.items()}
    record["Status"] = "Active" if vendor.SWACTV == 1 else "Inactive"
    record["OnHold"] = "Yes" if vendor.SWHOLD == 1 else "No"
    record["DateLastMaintained"] = sage_datetime(vendor.AUDTDATE)
    record["OptionalFields"] = optional
    return {name: value for name, value in record.items() if not select or name in select}


def create_vendor(alias: str, body: Any, audit: Audit) -> APVEN:
    body = require_object(body, "The vendor")
    reject_unknown(body, VENDOR_PROPERTIES, "The vendor")
    columns = {
        column: text(body, name, "The vendor", length=VENDOR_LENGTHS[name],
                     required=name in ("VendorNumber", "VendorName"))
        for name, column in VENDOR_FIELDS.items()
    }
    columns["VENDORID"] = columns["VENDORID"].strip().upper()
    columns["SWACTV"] = choice(body, "Status", "The vendor", STATUS, "Active")
    columns["SWHOLD"] = choice(body, "OnHold", "The vendor", YES_NO, "No")
    fields = optional_fields(body, "OptionalFields", "The vendor")
    with transaction.atomic(using=alias):
        if APVEN.objects.using(alias).filter(VENDORID=columns["VENDORID"]).exists():
            raise SageError("RecordDuplicate", f"Vendor Number {columns['VENDORID']} already exists.")
        vendor = audit.row(APVEN, **columns)
        vendor.save(using=alias, force_insert=True)
        APVENO.objects.using(alias).bulk_create(
            [audit.row(APVENO, VENDORID=vendor.VENDORID, OPTFIELD=name, VALUE=value) for name, value in fields])
    return vendor


def update_vendor(alias: str, key: Any, body: Any, audit: Audit) -> APVEN:
    """PATCH: the properties given change; optional fields given are added or replaced, others stay."""
    body = require_object(body, "The vendor")
    reject_unknown(body, VENDOR_PROPERTIES, "The vendor")
    with transaction.atomic(using=alias):
        vendor = find_vendor(alias, key)
        if "VendorNumber" in body and str(body["VendorNumber"]).strip().upper() != vendor.VENDORID:
            raise SageError("RecordInvalid", f"Vendor Number {vendor.VENDORID} cannot be renumbered.")
        for name, column in VENDOR_FIELDS.items():
            if name in body and name != "VendorNumber":
                setattr(vendor, column, text(body, name, "The vendor", length=VENDOR_LENGTHS[name],
                                             required=name == "VendorName"))
        if "Status" in body:
            vendor.SWACTV = choice(body, "Status", "The vendor", STATUS, "Active")
        if "OnHold" in body:
            vendor.SWHOLD = choice(body, "OnHold", "The vendor", YES_NO, "No")
        for column, value in audit.values.items():
            setattr(vendor, column, value)
        vendor.save(using=alias)
        for name, value in optional_fields(body, "OptionalFields", "The vendor"):
            APVENO.objects.using(alias).filter(VENDORID=vendor.VENDORID, OPTFIELD=name).delete()
            audit.row(APVENO, VENDORID=vendor.VENDORID, OPTFIELD=name, VALUE=value).save(
                using=alias, force_insert=True)
    return vendor


def find_vendor(alias: str, key: Any) -> APVEN:
    vendor = APVEN.objects.using(alias).filter(VENDORID=str(key).upper()).first()
    if vendor is None:
        raise SageError("RecordNotFound", f"Vendor Number {key} does not exist.")
    return vendor


def posted_record(document: APOBL, select: list[str] | None = None) -> dict[str, Any]:
    record = {
        "VendorNumber": document.IDVEND,
        "DocumentNumber": document.IDINVC,
        "DocumentType": POSTED_TYPE_NAME.get(document.IDTRXTYPE, str(document.IDTRXTYPE)),
        "DocumentDate": sage_datetime(document.DATEINVC),
        "OriginalDocumentAmount": number(document.AMTINVCHC),
        "CurrentBalance": number(document.AMTDUEHC),
        "FullyPaid": "Yes" if document.SWPAID == 1 else "No",
        "BatchNumber": int(document.CNTBTCH),
        "EntryNumber": int(document.CNTITEM),
    }
    return {name: value for name, value in record.items() if not select or name in select}
