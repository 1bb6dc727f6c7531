"""Sage's own sample payloads (SDK samples/WebApi_SamplePostPayloads, in
tests/fixtures/sage/) replayed against the stand-in, with the answer Sage would
give each in this company: accepted, or refused for a reason Sage gives."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from sandbox.sage_webapi import invoices as stand_in
from sync.sage.models import APBTA, APIBH, APTCP, APTCR, APVEN, APVGR
from sync.sage.webapi import APInvoice, APInvoiceBatch, APInvoiceDetail, WebApiPermanentError
from tests.sage_webapi.conftest import add_vendor, audit

pytestmark = pytest.mark.django_db(transaction=True)

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "sage"
# The samples of resources the stand-in serves; the others (APDistributionCodes,
# APTerms, APVendorGroups, POPurchaseOrders, POReceipts) are for resources it
# does not implement, and it answers ResourceNotFound for them.
SERVED = {
    "APVendors.json": "AP/APVendors",
    "APInvoiceBatches_Invoice.json": "AP/APInvoiceBatches",
    "APInvoiceBatches_CreditNote.json": "AP/APInvoiceBatches",
    "APInvoiceBatches_DebitNote.json": "AP/APInvoiceBatches",
    "APPaymentAndAdjustmentBatches_Prepayment.json": "AP/APPaymentAndAdjustmentBatches",
    "APPaymentAndAdjustmentBatches_Adjustment.json": "AP/APPaymentAndAdjustmentBatches",
}
NOT_SERVED = {
    "APDistributionCodes.json": "AP/APDistributionCodes", "APTerms.json": "AP/APTerms",
    "APVendorGroups.json": "AP/APVendorGroups", "POPurchaseOrders.json": "PO/POPurchaseOrders",
    "POReceipts.json": "PO/POReceipts",
}


def sample(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


@pytest.fixture
def sample_company(alias):
    """The vendors Sage's samples name: 1200 (invoices, adjustment) and 1500 (a USD prepayment)."""
    add_vendor(alias, "1200", "Chen Industries")
    add_vendor(alias, "1500", "Gould Manufacturing Ltd.", CURNCODE="USD")
    return alias


def test_every_sample_is_replayed_or_named_as_not_served():
    assert set(SERVED) | set(NOT_SERVED) == {path.name for path in SAMPLES.glob("*.json")}


def test_the_vendor_sample_creates_vendor_1401_in_group_inv(webapi, sample_company):
    answer = webapi.post(SERVED["APVendors.json"], sample("APVendors.json"))

    assert (answer["VendorNumber"], answer["GroupCode"], answer["OnHold"], answer["VendorName"]) == (
        "1401", "INV", "NotOnHold", "1401 Name")
    assert APVEN.objects.using(sample_company).get(VENDORID="1401").SHORTNAME == "1401"


def test_the_vendor_sample_is_refused_where_group_inv_does_not_exist(webapi, sample_company):
    APVGR.objects.using(sample_company).all().delete()
    with pytest.raises(WebApiPermanentError) as refused:
        webapi.post(SERVED["APVendors.json"], sample("APVendors.json"))
    assert (refused.value.code, refused.value.status) == ("RecordInvalid", 400)
    assert "Group Code INV does not exist" in refused.value.message


@pytest.mark.parametrize("name, document_type", [
    ("APInvoiceBatches_Invoice.json", 1), ("APInvoiceBatches_CreditNote.json", 3),
    ("APInvoiceBatches_DebitNote.json", 2),
])
def test_the_invoice_samples_are_accepted_and_balance(webapi, sample_company, name, document_type):
    answer = webapi.post(SERVED[name], sample(name))

    entry = answer["Invoices"][0]
    # Sage numbers the batch itself (Developer Reference §7): the sample's 109 is not kept.
    assert (answer["BatchNumber"], entry["EntryNumber"], entry["VendorNumber"]) == (1, 1, "1200")
    assert (entry["DocumentTotalIncludingTax"], entry["TaxTotal"], entry["UndistributedAmount"]) == (86.6, 6.6, 0)
    assert APIBH.objects.using(sample_company).get().TEXTTRX == document_type


def test_the_invoice_sample_is_refused_for_a_vendor_sage_does_not_have(webapi, alias):
    with pytest.raises(WebApiPermanentError) as refused:
        webapi.post(SERVED["APInvoiceBatches_Invoice.json"], sample("APInvoiceBatches_Invoice.json"))
    assert refused.value.code == "RecordInvalid"
    assert "Entry 1" in refused.value.message and "Vendor Number 1200 does not exist" in refused.value.message


def test_the_prepayment_sample_is_accepted(webapi, sample_company):
    answer = webapi.post(SERVED["APPaymentAndAdjustmentBatches_Prepayment.json"],
                         sample("APPaymentAndAdjustmentBatches_Prepayment.json"))

    assert (answer["BatchSelector"], answer["BatchNumber"], answer["BatchStatus"], answer["BankCode"]) == (
        "PY", 1, "Open", "SEATAC")
    entry = answer["PaymentsAdjustments"][0]
    assert (entry["PaymentTransactionType"], entry["CheckAmountInVendorCurrency"], entry["VendorNumber"]) == (
        "Prepayment", 35, "1500")
    assert entry["AppliedPayments"][0]["PaymentAmount"] == 35
    alias = sample_company
    assert APBTA.objects.using(alias).get().PAYMTYPE == "PY"
    assert (APTCR.objects.using(alias).get().AMTRMITTC, APTCP.objects.using(alias).count()) == (Decimal("35.000"), 1)


def test_the_adjustment_sample_is_refused_until_its_document_is_posted(webapi, sample_company):
    body = sample("APPaymentAndAdjustmentBatches_Adjustment.json")
    with pytest.raises(WebApiPermanentError) as refused:
        webapi.post(SERVED["APPaymentAndAdjustmentBatches_Adjustment.json"], body)
    assert refused.value.code == "RecordInvalid"
    assert "12345" in refused.value.message and "1200" in refused.value.message

    # Once vendor 1200's document 12345 is a posted invoice, Sage takes the adjustment.
    posted = webapi.create_invoice_batch(APInvoiceBatch(Description="x", Invoices=[APInvoice(
        VendorNumber="1200", DocumentNumber="12345",
        InvoiceDetails=[APInvoiceDetail(DistributionCode="INV", DistributedAmount=Decimal(100))])]))
    stand_in.post_batch(sample_company, posted.BatchNumber, audit())
    answer = webapi.post(SERVED["APPaymentAndAdjustmentBatches_Adjustment.json"], body)
    assert (answer["BatchSelector"], answer["PaymentsAdjustments"][0]["AppliedPayments"][0]["DocumentNumber"]) == (
        "AD", "12345")


@pytest.mark.parametrize("name", sorted(NOT_SERVED))
def test_the_stand_in_says_which_sample_resources_it_does_not_serve(webapi, alias, name):
    with pytest.raises(WebApiPermanentError) as refused:
        webapi.post(NOT_SERVED[name], sample(name))
    assert (refused.value.code, refused.value.status) == ("ResourceNotFound", 404)
