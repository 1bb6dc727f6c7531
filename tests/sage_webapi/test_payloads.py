"""The AP invoice batch body: Sage's field names, in Sage's order, amounts as JSON numbers."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from sync.sage.webapi import APInvoice, APInvoiceBatch, APInvoiceDetail, APVendor, OptionalField


def test_it_builds_the_batch_body_in_the_order_sage_expects():
    body = APInvoiceBatch(
        BatchDate=dt.date(2026, 1, 18), Description="CFDI", Invoices=[APInvoice(
            VendorNumber="1200", DocumentNumber="A-123", DocumentType="CreditNote", InvoiceDescription="x",
            DocumentDate=dt.date(2026, 1, 17), PONumber="PO-1", DocumentTotalIncludingTax=Decimal("86.60"),
            InvoiceOptionalFields=[OptionalField(OptionalField="FOLIOCFD", Value="5FB2822E")],
            InvoiceDetails=[APInvoiceDetail(LineNumber=20, DistributionCode="INV", DistributedAmount=Decimal("80"))],
        )],
    ).payload()

    assert list(body) == ["BatchDate", "Description", "Invoices"]
    invoice = body["Invoices"][0]
    assert list(invoice) == ["VendorNumber", "DocumentNumber", "DocumentType", "InvoiceDescription", "DocumentDate",
                             "PONumber", "DocumentTotalIncludingTax", "InvoiceOptionalFields", "InvoiceDetails"]
    assert json.dumps(invoice["DocumentTotalIncludingTax"]) == "86.6"
    assert invoice["InvoiceDetails"] == [{"LineNumber": 20, "DistributionCode": "INV", "DistributedAmount": 80}]
    assert (body["BatchDate"], invoice["DocumentDate"]) == ("2026-01-18", "2026-01-17")


def test_it_sends_ready_to_post_only_when_asked():
    ready = APInvoiceBatch(Description="x", BatchStatus="ReadyToPost").payload()
    assert ready["BatchStatus"] == "ReadyToPost"
    assert "BatchStatus" not in APInvoiceBatch(Description="x").payload()


def test_it_leaves_unset_vendor_fields_out():
    body = APVendor(VendorNumber="P1", VendorName="Uno", TaxRegistrationNumber1="AAA010101AAA").payload()
    assert body == {"VendorNumber": "P1", "VendorName": "Uno", "Status": "Active",
                    "TaxRegistrationNumber1": "AAA010101AAA", "OptionalFields": []}
