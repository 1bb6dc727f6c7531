"""AP/APPostedDocuments in the stand-in: a read-only view of APOBL.

The Endpoint Reference lists APPostedDocuments (AP0025 APOBL) among the GET
only endpoints. Its property names are not in FIELDS.md or any Sage sample:
the names below are on the README's "Unverified against a real Sage 300"
list; the columns behind them are AOM APOBL's.
"""
from __future__ import annotations

from typing import Any

from sandbox.sage_webapi.common import date_column, number, sage_datetime
from sandbox.sage_webapi.odata import Column
from sync.sage.models import APOBL

# AOM APOBL TXTTRXTYPE.
DOCUMENT_TYPE_NAME = {1: "Invoice", 2: "DebitNote", 3: "CreditNote", 4: "Interest", 10: "Prepayment", 11: "Payment"}
DOCUMENT_TYPE = {name: code for code, name in DOCUMENT_TYPE_NAME.items()}
YES_NO = {"No": 0, "Yes": 1}


def _upper(value: Any) -> str:
    return str(value).upper()


COLUMNS: dict[str, Column] = {
    "VendorNumber": Column("IDVEND", _upper),
    "DocumentNumber": Column("IDINVC"),
    "DocumentType": Column("TXTTRXTYPE", DOCUMENT_TYPE.__getitem__),
    "DocumentDate": Column("DATEINVC", date_column),
    "CurrencyCode": Column("CODECURN"),
    "OriginalDocumentAmount": Column("AMTINVCHC"),
    "CurrentBalance": Column("AMTDUEHC"),
    "FullyPaid": Column("SWPAID", YES_NO.__getitem__),
    "BatchNumber": Column("CNTBTCH"),
    "EntryNumber": Column("CNTITEM"),
}


def record(document: APOBL, select: list[str] | None = None) -> dict[str, Any]:
    result = {
        "VendorNumber": document.IDVEND,
        "DocumentNumber": document.IDINVC,
        "DocumentType": DOCUMENT_TYPE_NAME.get(document.TXTTRXTYPE, str(document.TXTTRXTYPE)),
        "DocumentDate": sage_datetime(document.DATEINVC),
        "CurrencyCode": document.CODECURN,
        "OriginalDocumentAmount": number(document.AMTINVCHC),
        "CurrentBalance": number(document.AMTDUEHC),
        "CurrentBalanceInVendorCurrency": number(document.AMTDUETC),
        "FullyPaid": "Yes" if document.SWPAID == 1 else "No",
        "BatchNumber": int(document.CNTBTCH),
        "EntryNumber": int(document.CNTITEM),
    }
    return {name: value for name, value in result.items() if not select or name in select}
