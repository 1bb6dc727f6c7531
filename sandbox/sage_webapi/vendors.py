"""AP/APVendors in the stand-in: APVEN and its optional fields APVENO.

Property → column, from FIELDS.md "AP/APVendors" (live model) and the live
APVEN column map it cites (fclinton31/AccpacGraphQL, Modules/AP/APVendor.cs):
ContactsEmail is EMAIL1 (the contact's), Email is EMAIL2 (the vendor's),
Terms is TERMSCODE, TaxGroup CODETAXGRP, TaxClassCode1..5 TAXCLASS1..5,
TaxRegistrationCode1..5 IDTAXREGI1..5.
"""
from __future__ import annotations

from typing import Any

from django.db import transaction

from sandbox.sage_webapi import schema
from sandbox.sage_webapi.common import Audit, SageError, date_column, sage_datetime, text, whole
from sandbox.sage_webapi.odata import Column
from sync.sage.models import APVEN, APVENO, APVGR

FIELDS: dict[str, str] = {
    "VendorNumber": "VENDORID", "VendorName": "VENDNAME", "ShortName": "SHORTNAME", "GroupCode": "IDGRP",
    "AddressLine1": "TEXTSTRE1", "AddressLine2": "TEXTSTRE2", "AddressLine3": "TEXTSTRE3",
    "AddressLine4": "TEXTSTRE4", "City": "NAMECITY", "StateProvince": "CODESTTE",
    "ZipPostalCode": "CODEPSTL", "Country": "CODECTRY", "ContactName": "NAMECTAC", "PhoneNumber": "TEXTPHON1",
    "ContactsEmail": "EMAIL1", "Email": "EMAIL2", "CurrencyCode": "CURNCODE", "Terms": "TERMSCODE",
    "TaxGroup": "CODETAXGRP", "BusinessRegistrationNumber": "BRN",
    **{f"TaxRegistrationCode{n}": f"IDTAXREGI{n}" for n in range(1, 6)},
}
CLASSES = {f"TaxClassCode{n}": f"TAXCLASS{n}" for n in range(1, 6)}
LENGTHS = {name: APVEN._meta.get_field(column).max_length for name, column in FIELDS.items()}
STATUS = {"Active": 1, "Inactive": 0}
ON_HOLD = {"NotOnHold": 0, "OnHold": 1}


def _upper(value: Any) -> str:
    return str(value).upper()


COLUMNS: dict[str, Column] = {name: Column(column) for name, column in FIELDS.items()}
COLUMNS["VendorNumber"] = Column("VENDORID", _upper)
COLUMNS["Status"] = Column("SWACTV", STATUS.__getitem__)
COLUMNS["OnHold"] = Column("SWHOLD", ON_HOLD.__getitem__)
COLUMNS["DateLastMaintained"] = Column("AUDTDATE", date_column)


def records(alias: str, vendors: list[APVEN], select: list[str] | None = None) -> list[dict[str, Any]]:
    """A page of vendors, their optional fields read in one query."""
    fields: dict[str, list[dict[str, str]]] = {vendor.VENDORID: [] for vendor in vendors}
    if not select or "VendorOptionalFieldValues" in select:
        rows = APVENO.objects.using(alias).filter(VENDORID__in=list(fields)).order_by("VENDORID", "OPTFIELD")
        for row in rows:
            fields.setdefault(row.VENDORID, []).append(
                {"VendorNumber": row.VENDORID, "OptionalField": row.OPTFIELD, "Value": row.VALUE})
    return [record(vendor, fields[vendor.VENDORID], select) for vendor in vendors]


def record(vendor: APVEN, optional: list[dict[str, str]], select: list[str] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {name: getattr(vendor, column) for name, column in FIELDS.items()}
    result.update({name: getattr(vendor, column) for name, column in CLASSES.items()})
    result["Status"] = "Active" if vendor.SWACTV == 1 else "Inactive"
    result["OnHold"] = "OnHold" if vendor.SWHOLD == 1 else "NotOnHold"
    result["DateLastMaintained"] = sage_datetime(vendor.AUDTDATE)
    result["VendorOptionalFieldValues"] = optional
    return {name: value for name, value in result.items() if not select or name in select}


def _columns(body: dict[str, Any], where: str, *, creating: bool) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    for name, column in FIELDS.items():
        if creating or name in body:
            columns[column] = text(body, name, where, length=LENGTHS[name],
                                   required=name in ("VendorNumber", "VendorName") and (creating or name in body))
    for name, column in CLASSES.items():
        if name in body:
            columns[column] = whole(body, name, where, default=1)
    if "Status" in body or creating:
        columns["SWACTV"] = STATUS[body.get("Status") or "Active"]
    if "OnHold" in body or creating:
        columns["SWHOLD"] = ON_HOLD[body.get("OnHold") or "NotOnHold"]
    return columns


def optional_fields(body: dict[str, Any]) -> list[tuple[str, str]]:
    where = "The vendor VendorOptionalFieldValues"
    return [(text(field, "OptionalField", where, length=12, required=True).upper(),
             text(field, "Value", where, length=60))
            for field in body.get("VendorOptionalFieldValues") or []]


def create(alias: str, body: Any, audit: Audit) -> APVEN:
    body = schema.VENDOR.check(body, "The vendor")
    where = "The vendor"
    columns = _columns(body, where, creating=True)
    columns["VENDORID"] = columns["VENDORID"].strip().upper()
    fields = optional_fields(body)
    with transaction.atomic(using=alias):
        _apply_group(alias, columns, body, where)
        if APVEN.objects.using(alias).filter(VENDORID=columns["VENDORID"]).exists():
            raise SageError("RecordDuplicate", f"Vendor Number {columns['VENDORID']} already exists.")
        vendor = audit.row(APVEN, **columns)
        vendor.save(using=alias, force_insert=True)
        APVENO.objects.using(alias).bulk_create(
            [audit.row(APVENO, VENDORID=vendor.VENDORID, OPTFIELD=name, VALUE=value) for name, value in fields])
    return vendor


def _apply_group(alias: str, columns: dict[str, Any], body: dict[str, Any], where: str) -> None:
    """A vendor belongs to an existing group and starts with the group's currency, terms and tax group."""
    code = columns.get("IDGRP", "").strip().upper()
    if not code:
        raise SageError("RecordInvalid", f"{where}: Group Code is required.")
    group = APVGR.objects.using(alias).filter(IDGRP=code).first()
    if group is None:
        raise SageError("RecordInvalid", f"{where}: Group Code {code} does not exist.")
    columns["IDGRP"] = code
    for name, column in (("CurrencyCode", "CURNCODE"), ("Terms", "TERMSCODE"), ("TaxGroup", "CODETAXGRP")):
        if not body.get(name):
            columns[column] = getattr(group, column)


def update(alias: str, key: Any, body: Any, audit: Audit) -> APVEN:
    """PATCH: the properties given change; optional fields given are added or replaced, others stay."""
    body = schema.VENDOR.check(body, "The vendor")
    where = "The vendor"
    with transaction.atomic(using=alias):
        vendor = find(alias, key)
        if "VendorNumber" in body and str(body["VendorNumber"]).strip().upper() != vendor.VENDORID:
            raise SageError("RecordInvalid", f"Vendor Number {vendor.VENDORID} cannot be renumbered.")
        columns = _columns(body, where, creating=False)
        columns.pop("VENDORID", None)
        if "IDGRP" in columns and not APVGR.objects.using(alias).filter(IDGRP=columns["IDGRP"].upper()).exists():
            raise SageError("RecordInvalid", f"{where}: Group Code {columns['IDGRP']} does not exist.")
        for column, value in columns.items():
            setattr(vendor, column, value)
        audit.stamp(vendor)
        vendor.save(using=alias)
        for name, value in optional_fields(body):
            APVENO.objects.using(alias).filter(VENDORID=vendor.VENDORID, OPTFIELD=name).delete()
            audit.row(APVENO, VENDORID=vendor.VENDORID, OPTFIELD=name, VALUE=value).save(
                using=alias, force_insert=True)
    return vendor


def find(alias: str, key: Any) -> APVEN:
    if isinstance(key, dict):
        key = key.get("VendorNumber", "")
    vendor = APVEN.objects.using(alias).filter(VENDORID=str(key).upper()).first()
    if vendor is None:
        raise SageError("RecordNotFound", f"Vendor Number {key} does not exist.")
    return vendor
