"""The stand-in refuses what real Sage refuses, in Sage's own error shape:
`{"error": {"code", "message": {"lang", "value"}}}` (Developer Reference §12)."""
from __future__ import annotations

import pytest
import requests

from sandbox.sage_webapi import schema
from tests.sage_webapi.conftest import PASSWORD, add_vendor

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def send(webapi_tenant, alias):
    base = f"{webapi_tenant.webapi_url}/Sage300WebApi/v1.0/-/{webapi_tenant.webapi_company}"
    session = requests.Session()
    session.auth = (webapi_tenant.webapi_user, PASSWORD)

    def call(method: str, path: str, body=None, content_type: str = "application/json") -> requests.Response:
        return session.request(method, f"{base}/{path}", json=body, timeout=10,
                               headers={"Content-Type": content_type})

    yield call
    session.close()


def sage_error(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert set(body["error"]["message"]) == {"lang", "value"} and body["error"]["message"]["lang"] == "en-US"
    return response.status_code, body["error"]["code"], body["error"]["message"]["value"]


VENDOR = {"VendorNumber": "P1", "GroupCode": "INV", "VendorName": "Uno"}
INVOICE = {"VendorNumber": "1200", "DocumentNumber": "A-1",
           "InvoiceDetails": [{"DistributionCode": "INV", "DistributedAmount": 10}]}
PAYMENT = {"BatchSelector": "PY", "BankCode": "SEATAC",
           "PaymentsAdjustments": [{"VendorNumber": "1200", "PaymentTransactionType": "Prepayment",
                                    "AppliedPayments": [{"PaymentType": "Prepayment", "PaymentAmount": 10}]}]}


def invoice_batch(**changes) -> dict:
    return {"Description": "x", "Invoices": [{**INVOICE, **changes}]}


@pytest.mark.parametrize("path, body, name", [
    ("AP/APVendors", {**VENDOR, "TermsCode": "30"}, "TermsCode"),
    ("AP/APVendors", {**VENDOR, "VendorOptionalFieldValues": [{"OptionalField": "X", "Value": "1", "Kind": 1}]},
     "Kind"),
    ("AP/APInvoiceBatches", {**invoice_batch(), "Batch": 1}, "Batch"),
    ("AP/APInvoiceBatches", invoice_batch(Currency="MXP"), "Currency"),
    ("AP/APInvoiceBatches", invoice_batch(InvoiceDetails=[{"DistributedAmount": 1, "Account": "1"}]), "Account"),
    ("AP/APInvoiceBatches", invoice_batch(InvoiceOptionalFields=[{"OptionalField": "X", "Valor": "1"}]), "Valor"),
    ("AP/APPaymentAndAdjustmentBatches", {**PAYMENT, "BatchType": "PY"}, "BatchType"),
    ("AP/APPaymentAndAdjustmentBatches", {**PAYMENT, "Payments": []}, "Payments"),
    ("AP/APPaymentAndAdjustmentBatches",
     {**PAYMENT, "PaymentsAdjustments": [{**PAYMENT["PaymentsAdjustments"][0], "Amount": 1}]}, "Amount"),
])
def test_an_unknown_property_is_refused_with_invalid_payload(send, alias, path, body, name):
    add_vendor(alias, "1200")
    status, code, message = sage_error(send("POST", path, body))
    assert (status, code) == (400, "InvalidPayload")
    assert f"'{name}'" in message


@pytest.mark.parametrize("path, body, name", [
    ("AP/APVendors", {**VENDOR, "OnHold": "Yes"}, "OnHold"),
    ("AP/APVendors", {**VENDOR, "Status": "1"}, "Status"),
    ("AP/APInvoiceBatches", invoice_batch(DocumentType="Factura"), "DocumentType"),
    ("AP/APInvoiceBatches", invoice_batch(RateOverridden="True"), "RateOverridden"),
    ("AP/APInvoiceBatches", {**invoice_batch(), "BatchStatus": "Listo"}, "BatchStatus"),
    ("AP/APPaymentAndAdjustmentBatches", {**PAYMENT, "BatchSelector": "CA"}, "BatchSelector"),
    ("AP/APPaymentAndAdjustmentBatches",
     {**PAYMENT, "PaymentsAdjustments": [{**PAYMENT["PaymentsAdjustments"][0], "PaymentTransactionType": "Pago"}]},
     "PaymentTransactionType"),
])
def test_a_wrong_enum_word_is_refused_with_invalid_payload(send, alias, path, body, name):
    add_vendor(alias, "1200")
    status, code, message = sage_error(send("POST", path, body))
    assert (status, code) == (400, "InvalidPayload") and name in message


def test_the_vendor_shape_holds_every_property_fields_md_names(send, alias):
    named = ("VendorNumber ShortName GroupCode Status InactiveDate DateLastMaintained OnHold StartDate ParticipantID "
             "VendorName AddressLine1 AddressLine2 AddressLine3 AddressLine4 City StateProvince ZipPostalCode Country "
             "ContactName PhoneNumber FaxNumber PrimaryRemitToLocation AccountSet CurrencyCode RateType BankCode "
             "PrintSeparateChecks DistributionSet DistributionCode GLAccount Terms DuplicateAmountCode "
             "DuplicateDateCode TaxGroup TaxReportingType TaxType CreditLimit PaymentCode DistributionType "
             "CheckLanguage ContactsEmail Email WebSite ContactsPhone ContactsFax DeliveryMethod "
             "NumberOfOptionalFields ProcessCommandCode LegalName BusinessRegistrationNumber FirstName LastName "
             "VendorOptionalFieldValues VendorContactSelection UpdateOperation").split()
    named += [f"{stem}{n}" for stem in ("TaxClassCode", "TaxRegistrationCode", "TaxIncluded") for n in range(1, 6)]
    accepted = schema.VENDOR.properties | set(schema.VENDOR.children)
    assert set(named) == accepted


def test_the_payment_batch_shape_is_fields_md(send, alias):
    assert schema.PAYMENT_BATCH.properties | set(schema.PAYMENT_BATCH.children) == {
        "BatchSelector", "BatchNumber", "BatchDate", "BatchStatus", "Description", "BankCode", "BankCurrencyCode",
        "ProcessCommandCode", "PaymentsAdjustments"}
    assert {"BatchType", "BatchNumber", "EntryNumber", "CheckNumber", "VendorNumber", "PaymentDateAdjustmentDate",
            "EntryDescription", "VendorPayeeName", "CheckAmountInBankCurrency", "CheckAmountInVendorCurrency",
            "PaymentTransactionType", "CheckPrintRequired", "EntryReference"} <= schema.PAYMENT_ENTRY.properties
    assert {"BatchType", "BatchNumber", "EntryNumber", "LineNumber", "VendorNumber", "DocumentNumber",
            "PaymentType", "PaymentAmount", "DocumentDate"} <= schema.APPLIED_PAYMENT.properties


def test_the_url_errors_are_sages(send, alias):
    assert sage_error(send("GET", "AP/APNothing"))[:2] == (404, "ResourceNotFound")
    assert sage_error(send("DELETE", "AP/APInvoiceBatches(1)"))[:2] == (405, "MethodNotAllowed")
    assert sage_error(send("GET", "AP/APInvoiceBatches('x' 'y')"))[:2] == (400, "InvalidEntityKey")
    assert sage_error(send("POST", "AP/APInvoiceBatches(5)", invoice_batch()))[:2] == (400, "InvalidAction")
    assert sage_error(send("POST", "AP/APVendors", VENDOR, content_type="text/plain"))[:2] == (400, "InvalidPayload")
