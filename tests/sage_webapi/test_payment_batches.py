"""AP/APPaymentAndAdjustmentBatches in the stand-in: BatchSelector, PaymentsAdjustments,
AppliedPayments; the composite key (BatchSelector, BatchNumber); no edit of a posted batch."""
from __future__ import annotations

from decimal import Decimal

import pytest

from sandbox.sage_webapi import invoices, payments
from sync.sage.models import APBTA, APOBL, APPYM, APTCP, APTCR
from sync.sage.webapi import APInvoice, APInvoiceBatch, APInvoiceDetail, WebApiPermanentError
from tests.sage_webapi.conftest import add_vendor, audit

pytestmark = pytest.mark.django_db(transaction=True)

RESOURCE = "AP/APPaymentAndAdjustmentBatches"


@pytest.fixture
def posted_invoice(webapi, alias):
    """Vendor 1200's invoice A-1 for 216.50 (200 + 8.25 %), posted."""
    add_vendor(alias, "1200", "Chen Industries")
    created = webapi.create_invoice_batch(APInvoiceBatch(Description="x", Invoices=[APInvoice(
        VendorNumber="1200", DocumentNumber="A-1",
        InvoiceDetails=[APInvoiceDetail(DistributionCode="INV", DistributedAmount=Decimal(200))])]))
    invoices.post_batch(alias, created.BatchNumber, audit())
    return alias


def payment(amount: float = 100, document: str = "A-1") -> dict:
    return {
        "BatchSelector": "PY", "BatchDate": "2026-02-01", "Description": "Pagos", "BankCode": "BANORTE",
        "BankCurrencyCode": "MXP",
        "PaymentsAdjustments": [{
            "BatchType": "PY", "CheckNumber": "9001", "VendorNumber": "1200",
            "PaymentDateAdjustmentDate": "2026-02-01", "EntryDescription": "Pago A-1",
            "CheckAmountInBankCurrency": amount, "CheckAmountInVendorCurrency": amount,
            "PaymentTransactionType": "Payment", "EntryReference": "TRANSF 9001",
            "AppliedPayments": [{"BatchType": "PY", "LineNumber": 20, "VendorNumber": "1200",
                                 "DocumentNumber": document, "PaymentType": "Payment", "PaymentAmount": amount}],
        }],
    }


def test_it_creates_a_payment_batch_and_reads_it_by_its_composite_key(webapi, posted_invoice):
    created = webapi.post(RESOURCE, payment())

    assert (created["BatchSelector"], created["BatchNumber"], created["BatchStatus"]) == ("PY", 1, "Open")
    key = {"BatchSelector": "PY", "BatchNumber": 1}
    read = webapi.get_by_key(RESOURCE, key)
    entry = read["PaymentsAdjustments"][0]
    assert (entry["CheckNumber"], entry["CheckAmountInVendorCurrency"], entry["EntryReference"]) == (
        "9001", 100, "TRANSF 9001")
    assert entry["AppliedPayments"][0]["DocumentNumber"] == "A-1"
    alias = posted_invoice
    assert (APBTA.objects.using(alias).get().IDBANK, APTCR.objects.using(alias).get().RMITTYPE) == ("BANORTE", 1)
    assert APTCP.objects.using(alias).get().AMTPAYM == Decimal("100.000")
    assert webapi.query(RESOURCE, filter="BatchSelector eq 'PY'")["value"][0]["BatchNumber"] == 1


def test_a_post_must_say_which_batch_kind(webapi, posted_invoice):
    body = payment()
    del body["BatchSelector"]
    with pytest.raises(WebApiPermanentError) as refused:
        webapi.post(RESOURCE, body)
    assert refused.value.code == "InvalidPayload" and "BatchSelector" in refused.value.message


def test_it_refuses_a_payment_of_a_document_the_vendor_does_not_owe(webapi, posted_invoice):
    with pytest.raises(WebApiPermanentError) as refused:
        webapi.post(RESOURCE, payment(document="Z-9"))
    assert refused.value.code == "RecordInvalid" and "Z-9" in refused.value.message
    with pytest.raises(WebApiPermanentError) as too_much:
        webapi.post(RESOURCE, payment(amount=500))
    assert too_much.value.code == "RecordInvalid" and "216.5" in too_much.value.message
    assert not APBTA.objects.using(posted_invoice).exists()


def test_an_open_batch_can_be_edited(webapi, posted_invoice):
    webapi.post(RESOURCE, payment())
    key = {"BatchSelector": "PY", "BatchNumber": 1}
    answer = webapi.patch(RESOURCE, key, {"Description": "Pagos febrero", "PaymentsAdjustments": [
        {"BatchType": "PY", "BatchNumber": 1, "EntryNumber": 1, "EntryReference": "SPEI 123"}]})
    assert answer["Description"] == "Pagos febrero"
    assert answer["PaymentsAdjustments"][0]["EntryReference"] == "SPEI 123"


def test_a_posted_batch_cannot_be_edited(webapi, posted_invoice):
    webapi.post(RESOURCE, payment())
    key = {"BatchSelector": "PY", "BatchNumber": 1}
    payments.post_batch(posted_invoice, key, audit())

    for change in ({"Description": "edited"}, {"PaymentsAdjustments": [
            {"BatchType": "PY", "BatchNumber": 1, "EntryNumber": 1, "EntryReference": "X"}]}, {"BatchStatus": "Open"}):
        with pytest.raises(WebApiPermanentError) as refused:
            webapi.patch(RESOURCE, key, change)
        assert refused.value.code == "RecordInvalid" and "posted" in refused.value.message
    alias = posted_invoice
    assert APTCR.objects.using(alias).get().TXTRMITREF == "TRANSF 9001"
    assert APBTA.objects.using(alias).get().BATCHSTAT == 3
    # Posting recorded the check (AOM APPYM) and took it off the invoice.
    check = APPYM.objects.using(alias).get()
    assert (check.IDBANK, check.IDRMIT, check.LONGSERIAL, int(check.CNTBTCH), int(check.CNTITEM)) == (
        "BANORTE", "9001", 9001, 1, 1)
    assert APOBL.objects.using(alias).get(IDINVC="A-1").AMTDUETC == Decimal("116.500")


def test_the_key_is_checked(webapi, posted_invoice):
    webapi.post(RESOURCE, payment())
    with pytest.raises(WebApiPermanentError) as refused:
        webapi.get_by_key(RESOURCE, 1)
    assert refused.value.code == "InvalidEntityKey"
    with pytest.raises(WebApiPermanentError) as missing:
        webapi.get_by_key(RESOURCE, {"BatchSelector": "AD", "BatchNumber": 1})
    assert missing.value.code == "RecordNotFound"
    positional = webapi.session.get(f"{webapi.base_url}/{RESOURCE}('PY',1)", timeout=10,
                                    headers={"Content-Type": "application/json"})
    assert positional.json()["BatchNumber"] == 1
