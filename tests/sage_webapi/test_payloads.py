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


def test_it_leaves_unset_vendor_fields_out_and_keeps_sages_order():
    body = APVendor(VendorNumber="P1", VendorName="Uno", GroupCode="NAC", Status="Active",
                    TaxRegistrationCode1="AAA010101AAA").payload()
    assert body == {"VendorNumber": "P1", "GroupCode": "NAC", "Status": "Active", "VendorName": "Uno",
                    "TaxRegistrationCode1": "AAA010101AAA", "VendorOptionalFieldValues": []}
    assert list(body)[:3] == ["VendorNumber", "GroupCode", "Status"]  # SDK sample APVendors.json: group first


def test_it_sends_currency_rate_taxes_and_apply_to_with_sages_names():
    invoice = APInvoice(
        VendorNumber="1200", DocumentNumber="NC-1", DocumentType="CreditNote", ApplytoDocument="A-1",
        CurrencyCode="USD", RateOverridden="Yes", ExchangeRate=Decimal("17.2500"), TaxAmountControl="Enter",
        TaxAmount1=Decimal("16"), TaxAmount2=Decimal("-10.67"), DocumentTotalIncludingTax=Decimal("105.33"),
        InvoiceDetails=[APInvoiceDetail(DistributionCode="INV", DistributedAmount=Decimal("100"))],
    ).payload()
    assert list(invoice) == ["VendorNumber", "DocumentNumber", "DocumentType", "ApplytoDocument", "CurrencyCode",
                             "RateOverridden", "ExchangeRate", "TaxAmountControl", "TaxAmount1", "TaxAmount2",
                             "DocumentTotalIncludingTax", "InvoiceOptionalFields", "InvoiceDetails"]
    assert (invoice["ExchangeRate"], invoice["TaxAmount2"]) == (17.25, -10.67)
