"""AP invoice batches through the client and the stand-in, checked in the Sage tables."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sync.sage.models import APIBC, APIBD, APIBH, APIBHO, APOBL
from sync.sage.webapi import (
    APInvoice,
    APInvoiceBatch,
    APInvoiceDetail,
    OptionalField,
    WebApiPermanentError,
    odata_eq,
)
from tests.sage_webapi.conftest import add_vendor

pytestmark = pytest.mark.django_db(transaction=True)

UUID_A = "5FB2822E-396D-4725-8521-CDC4BDD20CCF"
UUID_B = "0B5A3A5E-1C3D-4F8E-9A2B-7C6D5E4F3A2B"


def invoice(vendor: str, document: str, cfdi_uuid: str, total: str, lines: tuple[str, ...]) -> APInvoice:
    return APInvoice(
        VendorNumber=vendor,
        DocumentNumber=document,
        DocumentType="Invoice",
        InvoiceDescription=f"CFDI {cfdi_uuid}",
        DocumentDate=dt.date(2026, 1, 18),
        PONumber="PO-000123",
        DocumentTotalIncludingTax=Decimal(total),
        InvoiceOptionalFields=[OptionalField(OptionalField="FOLIOCFD", Value=cfdi_uuid)],
        InvoiceDetails=[
            APInvoiceDetail(LineNumber=20 * n, DistributionCode="INV", DistributedAmount=Decimal(amount))
            for n, amount in enumerate(lines, start=1)
        ],
    )


def batch(*invoices: APInvoice) -> APInvoiceBatch:
    return APInvoiceBatch(BatchDate=dt.date(2026, 1, 18), Description="CFDI import", Invoices=list(invoices))


def test_it_writes_the_batch_into_the_sage_tables_and_returns_its_numbers(webapi, alias):
    add_vendor(alias, "1200")
    add_vendor(alias, "1300", "Papelera Peninsular")
    created = webapi.create_invoice_batch(batch(
        invoice("1200", "A-123", UUID_A, "86.60", ("80.00", "6.60")),
        invoice("1300", "F-77", UUID_B, "1160.25", ("1160.25",)),
    ))

    assert created.BatchNumber == 1
    assert [(i.DocumentNumber, i.EntryNumber, i.BatchNumber) for i in created.Invoices] == [
        ("A-123", 1, 1), ("F-77", 2, 1)]
    header = APIBC.objects.using(alias).get(CNTBTCH=1)
    assert (header.BTCHDESC, header.BTCHSTTS, int(header.DATEBTCH)) == ("CFDI import", 1, 20260118)
    entries = list(APIBH.objects.using(alias).order_by("CNTITEM").values_list(
        "CNTITEM", "IDVEND", "IDINVC", "PONBR", "DATEINVC", "AMTINVCTOT"))
    assert entries == [
        (1, "1200", "A-123", "PO-000123", 20260118, Decimal("86.600")),
        (2, "1300", "F-77", "PO-000123", 20260118, Decimal("1160.250")),
    ]
    folios = dict(APIBHO.objects.using(alias).filter(OPTFIELD="FOLIOCFD").values_list("CNTITEM", "VALUE"))
    assert folios == {1: UUID_A, 2: UUID_B}
    lines = list(APIBD.objects.using(alias).order_by("CNTITEM", "CNTLINE").values_list(
        "CNTITEM", "CNTLINE", "IDDIST", "AMTDIST"))
    assert lines == [(1, 20, "INV", Decimal("80.000")), (1, 40, "INV", Decimal("6.600")),
                     (2, 20, "INV", Decimal("1160.250"))]
    assert webapi.calls == {"writes": 1}


def test_it_numbers_each_new_batch_after_the_last(webapi, alias):
    add_vendor(alias, "1200")
    first = webapi.create_invoice_batch(batch(invoice("1200", "A-1", UUID_A, "10", ("10",))))
    second = webapi.create_invoice_batch(batch(invoice("1200", "A-2", UUID_B, "20", ("20",))))

    assert (first.BatchNumber, second.BatchNumber) == (1, 2)
    assert second.Invoices[0].EntryNumber == 1


def test_it_reads_a_batch_back_by_number_and_by_filter(webapi, alias):
    add_vendor(alias, "1200")
    created = webapi.create_invoice_batch(batch(invoice("1200", "A-123", UUID_A, "86.6", ("80", "6.6"))))

    fetched = webapi.invoice_batch(created.BatchNumber)
    assert fetched.Invoices[0].optional_field("FOLIOCFD") == UUID_A
    assert fetched.Invoices[0].DocumentTotalIncludingTax == Decimal("86.6")
    assert fetched.BatchStatus == "Open" and fetched.BatchDate == dt.date(2026, 1, 18)
    listed = list(webapi.invoice_batches(odata_eq(BatchStatus="Open", Description="CFDI import")))
    assert [b.BatchNumber for b in listed] == [created.BatchNumber]
    assert list(webapi.invoice_batches(odata_eq(BatchStatus="Posted"))) == []


def test_it_rejects_an_unknown_vendor_and_writes_nothing(webapi, alias):
    add_vendor(alias, "1200")
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.create_invoice_batch(batch(
            invoice("1200", "A-1", UUID_A, "10", ("10",)),
            invoice("9999", "Z-9", UUID_B, "20", ("20",)),
        ))

    assert raised.value.code == "RecordInvalid"
    assert "9999" in raised.value.message and "Z-9" in raised.value.message
    assert not APIBC.objects.using(alias).exists()
    assert not APIBH.objects.using(alias).exists()


def test_it_rejects_a_repeated_document_number_for_the_vendor(webapi, alias):
    add_vendor(alias, "1200")
    webapi.create_invoice_batch(batch(invoice("1200", "A-123", UUID_A, "10", ("10",))))

    with pytest.raises(WebApiPermanentError) as raised:
        webapi.create_invoice_batch(batch(invoice("1200", "a-123", UUID_B, "10", ("10",))))

    assert raised.value.code == "RecordDuplicate"
    assert "A-123" in raised.value.message.upper() and "1200" in raised.value.message
    assert APIBC.objects.using(alias).count() == 1


def test_it_rejects_a_batch_that_repeats_a_document_within_itself(webapi, alias):
    add_vendor(alias, "1200")
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.create_invoice_batch(batch(
            invoice("1200", "A-5", UUID_A, "10", ("10",)), invoice("1200", "A-5", UUID_B, "10", ("10",))))

    assert raised.value.code == "RecordDuplicate"
    assert not APIBC.objects.using(alias).exists()


@pytest.mark.parametrize("broken, field", [
    ({"VendorNumber": ""}, "VendorNumber"),
    ({"DocumentNumber": None}, "DocumentNumber"),
    ({"InvoiceDetails": [{"LineNumber": 20, "DistributionCode": "INV"}]}, "DistributedAmount"),
    ({"DocumentType": "Receipt"}, "DocumentType"),
    ({"Vendor": "1200"}, "Vendor"),
])
def test_it_answers_invalid_payload_naming_the_field(webapi, alias, broken, field):
    add_vendor(alias, "1200")
    body = batch(invoice("1200", "A-1", UUID_A, "10", ("10",))).payload()
    body["Invoices"][0].update(broken)

    with pytest.raises(WebApiPermanentError) as raised:
        webapi.post("AP/APInvoiceBatches", body)

    assert raised.value.code == "InvalidPayload"
    assert field in raised.value.message
    assert not APIBC.objects.using(alias).exists()


def test_it_answers_invalid_payload_for_a_batch_without_invoices(webapi, alias):
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.post("AP/APInvoiceBatches", {"BatchDate": "2026-01-18", "Description": "empty"})
    assert (raised.value.code, raised.value.status) == ("InvalidPayload", 400)


def test_it_posts_a_batch_into_the_open_documents(webapi, alias):
    add_vendor(alias, "1200")
    created = webapi.create_invoice_batch(batch(
        invoice("1200", "A-1", UUID_A, "116", ("100", "16")), invoice("1200", "A-2", UUID_B, "58", ("58",))))

    posted = webapi.set_batch_status(created.BatchNumber, "Posted")

    assert posted.BatchStatus == "Posted"
    assert APIBC.objects.using(alias).get(CNTBTCH=created.BatchNumber).BTCHSTTS == 3
    rows = list(APOBL.objects.using(alias).order_by("IDINVC").values_list(
        "IDVEND", "IDINVC", "AMTINVCHC", "AMTDUEHC", "SWPAID", "CNTBTCH", "CNTITEM"))
    assert rows == [("1200", "A-1", Decimal("116.000"), Decimal("116.000"), 0, 1, 1),
                    ("1200", "A-2", Decimal("58.000"), Decimal("58.000"), 0, 1, 2)]
    documents = list(webapi.posted_documents(odata_eq(VendorNumber="1200", DocumentNumber="A-2")))
    assert [(d.DocumentNumber, d.BatchNumber, d.EntryNumber, d.FullyPaid) for d in documents] == [
        ("A-2", 1, 2, "No")]


def test_it_refuses_to_change_a_posted_batch(webapi, alias):
    add_vendor(alias, "1200")
    created = webapi.create_invoice_batch(batch(invoice("1200", "A-1", UUID_A, "10", ("10",))))
    webapi.set_batch_status(created.BatchNumber, "Posted")

    with pytest.raises(WebApiPermanentError) as raised:
        webapi.set_batch_status(created.BatchNumber, "Open")
    assert raised.value.code == "RecordInvalid"
    assert APOBL.objects.using(alias).count() == 1


def test_it_marks_a_batch_ready_to_post(webapi, alias):
    add_vendor(alias, "1200")
    created = webapi.create_invoice_batch(batch(invoice("1200", "A-1", UUID_A, "10", ("10",))))
    assert webapi.set_batch_status(created.BatchNumber, "ReadyToPost").BatchStatus == "ReadyToPost"
    assert APIBC.objects.using(alias).get(CNTBTCH=created.BatchNumber).BTCHSTTS == 7
    assert not APOBL.objects.using(alias).exists()


def test_it_answers_record_not_found_for_an_unknown_batch(webapi, alias):
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.invoice_batch(404)
    assert (raised.value.code, raised.value.status) == ("RecordNotFound", 404)
