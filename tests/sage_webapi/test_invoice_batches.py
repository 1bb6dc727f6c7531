"""AP invoice batches through the client and the stand-in, checked in the Sage tables."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sandbox.sage_webapi import invoices as stand_in
from sync.sage.models import APIBC, APIBD, APIBH, APIBHO, APOBL, APOBLO, APVEN, TXGRP, TXRATE
from sync.sage.webapi import (
    APInvoice,
    APInvoiceBatch,
    APInvoiceDetail,
    OptionalField,
    WebApiPermanentError,
    odata_eq,
)
from tests.sage_webapi.conftest import add_vendor, audit

pytestmark = pytest.mark.django_db(transaction=True)

UUID_A = "5FB2822E-396D-4725-8521-CDC4BDD20CCF"
UUID_B = "0B5A3A5E-1C3D-4F8E-9A2B-7C6D5E4F3A2B"


def invoice(vendor: str, document: str, cfdi_uuid: str, total: str | None, lines: tuple[str, ...],
            **extra) -> APInvoice:
    return APInvoice(
        VendorNumber=vendor,
        DocumentNumber=document,
        InvoiceDescription=f"CFDI {cfdi_uuid}",
        DocumentDate=dt.date(2026, 1, 18),
        PONumber="PO-000123",
        DocumentTotalIncludingTax=Decimal(total) if total is not None else None,
        InvoiceOptionalFields=[OptionalField(OptionalField="FOLIOCFD", Value=cfdi_uuid)],
        InvoiceDetails=[
            APInvoiceDetail(LineNumber=20 * n, DistributionCode="INV", DistributedAmount=Decimal(amount))
            for n, amount in enumerate(lines, start=1)
        ],
        **extra,
    )


def batch(*invoices: APInvoice) -> APInvoiceBatch:
    return APInvoiceBatch(BatchDate=dt.date(2026, 1, 18), Description="CFDI import", Invoices=list(invoices))


def test_it_writes_the_batch_into_the_sage_tables_and_returns_its_numbers(webapi, alias):
    add_vendor(alias, "1200")
    add_vendor(alias, "1300", "Papelera Peninsular")
    created = webapi.create_invoice_batch(batch(
        invoice("1200", "A-123", UUID_A, "86.60", ("80.00",)),
        invoice("1300", "F-77", UUID_B, "1256.00", ("1000", "160.25")),
    ))

    assert created.BatchNumber == 1
    assert [(i.DocumentNumber, i.EntryNumber, i.BatchNumber) for i in created.Invoices] == [
        ("A-123", 1, 1), ("F-77", 2, 1)]
    header = APIBC.objects.using(alias).get(CNTBTCH=1)
    assert (header.BTCHDESC, header.BTCHSTTS, int(header.DATEBTCH)) == ("CFDI import", 1, 20260118)
    entries = list(APIBH.objects.using(alias).order_by("CNTITEM").values_list(
        "CNTITEM", "IDVEND", "IDINVC", "PONBR", "DATEINVC", "AMTGROSTOT", "AMTTAXTOT", "AMTINVCTOT", "AMTUNDISTR"))
    # Sage's tax from the vendor's tax group: 8.25 % of 80 is 6.60, of 1160.25 it is 95.72.
    assert entries == [
        (1, "1200", "A-123", "PO-000123", 20260118, Decimal("86.600"), Decimal("6.600"), Decimal("80.000"),
         Decimal("0.000")),
        (2, "1300", "F-77", "PO-000123", 20260118, Decimal("1256.000"), Decimal("95.720"), Decimal("1160.280"),
         Decimal("0.030")),
    ]
    folios = dict(APIBHO.objects.using(alias).filter(OPTFIELD="FOLIOCFD").values_list("CNTITEM", "VALUE"))
    assert folios == {1: UUID_A, 2: UUID_B}
    lines = list(APIBD.objects.using(alias).order_by("CNTITEM", "CNTLINE").values_list(
        "CNTITEM", "CNTLINE", "IDDIST", "IDGLACCT", "AMTDIST"))
    assert lines == [(1, 20, "INV", "1300", Decimal("80.000")), (2, 20, "INV", "1300", Decimal("1000.000")),
                     (2, 40, "INV", "1300", Decimal("160.250"))]
    assert [(i.TaxTotal, i.UndistributedAmount) for i in created.Invoices] == [
        (Decimal("6.6"), Decimal(0)), (Decimal("95.72"), Decimal("0.03"))]
    assert webapi.calls == {"writes": 1}


def test_it_numbers_each_new_batch_after_the_last(webapi, alias):
    add_vendor(alias, "1200")
    first = webapi.create_invoice_batch(batch(invoice("1200", "A-1", UUID_A, None, ("10",))))
    second = webapi.create_invoice_batch(batch(invoice("1200", "A-2", UUID_B, None, ("20",))))

    assert (first.BatchNumber, second.BatchNumber) == (1, 2)
    assert second.Invoices[0].EntryNumber == 1


def test_it_reads_a_batch_back_by_number_and_by_filter(webapi, alias):
    add_vendor(alias, "1200")
    created = webapi.create_invoice_batch(batch(invoice("1200", "A-123", UUID_A, "86.6", ("80",))))

    fetched = webapi.invoice_batch(created.BatchNumber)
    assert fetched.Invoices[0].optional_field("FOLIOCFD") == UUID_A
    assert fetched.Invoices[0].DocumentTotalIncludingTax == Decimal("86.6")
    assert fetched.BatchStatus == "Open" and fetched.BatchDate == dt.date(2026, 1, 18)
    listed = list(webapi.invoice_batches(odata_eq(BatchStatus="Open", Description="CFDI import")))
    assert [b.BatchNumber for b in listed] == [created.BatchNumber]
    assert list(webapi.invoice_batches(odata_eq(BatchStatus="Posted"))) == []


def test_it_takes_the_entered_taxes_and_a_withholding_as_given(webapi, alias):
    """TaxAmountControl "Enter": Sage keeps TaxAmount1..5 as sent, a withholding authority's negative."""
    TXGRP.objects.using(alias).filter(GROUPID="CALIF").update(TAXAUTH2="RET")
    add_vendor(alias, "1200")
    created = webapi.create_invoice_batch(batch(invoice(
        "1200", "H-1", UUID_A, "1053.33", ("1000",), TaxAmountControl="Enter", TaxAmount1=Decimal("160"),
        TaxAmount2=Decimal("-106.67"))))

    entry = APIBH.objects.using(alias).get()
    assert (entry.SWCALCTX, entry.AMTTAX1, entry.AMTTAX2, entry.AMTTAXTOT, entry.AMTGROSTOT, entry.AMTUNDISTR) == (
        0, Decimal("160.000"), Decimal("-106.670"), Decimal("53.330"), Decimal("1053.330"), Decimal("0.000"))
    assert (created.Invoices[0].TaxTotal, created.Invoices[0].UndistributedAmount) == (Decimal("53.33"), 0)


def test_it_refuses_a_tax_amount_for_an_authority_the_group_lacks(webapi, alias):
    add_vendor(alias, "1200")
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.create_invoice_batch(batch(invoice("1200", "H-1", UUID_A, "1160", ("1000",),
                                                  TaxAmountControl="Enter", TaxAmount3=Decimal("160"))))
    assert raised.value.code == "RecordInvalid" and "Entry 1" in raised.value.message
    assert "TaxAmount3" in raised.value.message


def test_it_computes_each_line_with_its_own_tax_class(webapi, alias):
    TXRATE.objects.using(alias).filter(AUTHORITY="CA").update(ITEMRATE2=Decimal("4"))
    add_vendor(alias, "1200")
    body = batch(invoice("1200", "M-1", UUID_A, "1186.50", ("1000", "100"))).payload()
    body["Invoices"][0]["InvoiceDetails"][1]["TaxClass1"] = 2

    webapi.post("AP/APInvoiceBatches", body)

    entry = APIBH.objects.using(alias).get()
    assert (entry.AMTTAXTOT, entry.AMTUNDISTR) == (Decimal("86.500"), Decimal("0.000"))  # 82.50 + 4.00
    assert list(APIBD.objects.using(alias).order_by("CNTLINE").values_list("AMTTOTTAX", flat=True)) == [
        Decimal("82.500"), Decimal("4.000")]


def test_it_keeps_the_vendors_currency_and_the_rate_given(webapi, alias):
    add_vendor(alias, "1500", "Gould Manufacturing Ltd.", CURNCODE="USD")
    webapi.create_invoice_batch(batch(invoice("1500", "U-1", UUID_A, None, ("100",), CurrencyCode="USD",
                                              RateOverridden="Yes", ExchangeRate=Decimal("17.25"))))
    entry = APIBH.objects.using(alias).get()
    assert (entry.CODECURN, entry.EXCHRATEHC, entry.SWMANRTE) == ("USD", Decimal("17.2500000"), 1)


def test_it_refuses_another_currency_than_the_vendors(webapi, alias):
    add_vendor(alias, "1200")
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.create_invoice_batch(batch(invoice("1200", "U-1", UUID_A, None, ("100",), CurrencyCode="USD",
                                                  ExchangeRate=Decimal("17.25"))))
    assert raised.value.code == "RecordInvalid" and "USD" in raised.value.message and "MXP" in raised.value.message


def test_it_refuses_a_foreign_invoice_without_a_rate(webapi, alias):
    add_vendor(alias, "1500", CURNCODE="USD")
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.create_invoice_batch(batch(invoice("1500", "U-1", UUID_A, None, ("100",), CurrencyCode="USD")))
    assert raised.value.code == "RecordInvalid" and "ExchangeRate" in raised.value.message


def test_it_refuses_an_unknown_distribution_code_naming_the_entry(webapi, alias):
    add_vendor(alias, "1200")
    body = batch(invoice("1200", "A-1", UUID_A, None, ("10",)), invoice("1200", "A-2", UUID_B, None, ("10",))).payload()
    body["Invoices"][1]["InvoiceDetails"][0]["DistributionCode"] = "NOPE"
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.post("AP/APInvoiceBatches", body)
    assert raised.value.code == "RecordInvalid"
    assert "Entry 2" in raised.value.message and "NOPE" in raised.value.message
    assert not APIBC.objects.using(alias).exists()


def test_it_rejects_an_unknown_vendor_and_writes_nothing(webapi, alias):
    add_vendor(alias, "1200")
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.create_invoice_batch(batch(
            invoice("1200", "A-1", UUID_A, None, ("10",)),
            invoice("9999", "Z-9", UUID_B, None, ("20",)),
        ))

    assert raised.value.code == "RecordInvalid"
    assert "9999" in raised.value.message and "Entry 2" in raised.value.message
    assert not APIBC.objects.using(alias).exists()
    assert not APIBH.objects.using(alias).exists()


def test_it_rejects_a_repeated_document_number_for_the_vendor(webapi, alias):
    add_vendor(alias, "1200")
    webapi.create_invoice_batch(batch(invoice("1200", "A-123", UUID_A, None, ("10",))))

    with pytest.raises(WebApiPermanentError) as raised:
        webapi.create_invoice_batch(batch(invoice("1200", "a-123", UUID_B, None, ("10",))))

    assert raised.value.code == "RecordDuplicate"
    assert "A-123" in raised.value.message.upper() and "1200" in raised.value.message
    assert APIBC.objects.using(alias).count() == 1


def test_it_rejects_a_batch_that_repeats_a_document_within_itself(webapi, alias):
    add_vendor(alias, "1200")
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.create_invoice_batch(batch(
            invoice("1200", "A-5", UUID_A, None, ("10",)), invoice("1200", "A-5", UUID_B, None, ("10",))))

    assert raised.value.code == "RecordDuplicate"
    assert not APIBC.objects.using(alias).exists()


@pytest.mark.parametrize("broken, field", [
    ({"VendorNumber": ""}, "VendorNumber"),
    ({"DocumentNumber": None}, "DocumentNumber"),
    ({"InvoiceDetails": [{"LineNumber": 20, "DistributionCode": "INV"}]}, "DistributedAmount"),
    ({"DocumentType": "Receipt"}, "DocumentType"),
    ({"TaxAmountControl": "Guess"}, "TaxAmountControl"),
    ({"Vendor": "1200"}, "Vendor"),
    ({"CurrencyCod": "MXP"}, "CurrencyCod"),
])
def test_it_answers_invalid_payload_naming_the_field(webapi, alias, broken, field):
    add_vendor(alias, "1200")
    body = batch(invoice("1200", "A-1", UUID_A, None, ("10",))).payload()
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


def test_posting_writes_the_open_documents_with_their_optional_fields(webapi, alias):
    add_vendor(alias, "1200")
    created = webapi.create_invoice_batch(batch(
        invoice("1200", "A-1", UUID_A, "108.25", ("100",)), invoice("1200", "A-2", UUID_B, None, ("58",))))

    stand_in.post_batch(alias, created.BatchNumber, audit())

    assert webapi.invoice_batch(created.BatchNumber).BatchStatus == "Posted"
    rows = list(APOBL.objects.using(alias).order_by("IDINVC").values_list(
        "IDVEND", "IDINVC", "TXTTRXTYPE", "AMTINVCHC", "AMTDUETC", "SWPAID", "CNTBTCH", "CNTITEM"))
    assert rows == [("1200", "A-1", 1, Decimal("108.250"), Decimal("108.250"), 0, 1, 1),
                    ("1200", "A-2", 1, Decimal("62.790"), Decimal("62.790"), 0, 1, 2)]
    assert dict(APOBLO.objects.using(alias).values_list("IDINVC", "VALUE")) == {"A-1": UUID_A, "A-2": UUID_B}
    documents = list(webapi.posted_documents(odata_eq(VendorNumber="1200", DocumentNumber="A-2")))
    assert [(d.DocumentNumber, d.BatchNumber, d.EntryNumber, d.FullyPaid) for d in documents] == [
        ("A-2", 1, 2, "No")]


def test_an_entry_out_of_balance_is_saved_but_not_posted(webapi, alias):
    add_vendor(alias, "1200")
    created = webapi.create_invoice_batch(batch(invoice("1200", "A-1", UUID_A, "100", ("100",))))
    assert created.Invoices[0].UndistributedAmount == Decimal("-8.25")

    with pytest.raises(Exception) as raised:
        stand_in.post_batch(alias, created.BatchNumber, audit())
    assert "Entry 1" in str(raised.value) and "undistributed" in str(raised.value)
    assert not APOBL.objects.using(alias).exists()
    assert APIBC.objects.using(alias).get().BTCHSTTS == 1


def test_a_credit_note_applies_only_to_an_open_posted_invoice_of_its_vendor(webapi, alias):
    add_vendor(alias, "1200")
    add_vendor(alias, "1300")
    first = webapi.create_invoice_batch(batch(invoice("1200", "A-1", UUID_A, "216.50", ("200",))))
    credit = invoice("1200", "NC-1", UUID_B, "21.65", ("20",), DocumentType="CreditNote", ApplytoDocument="A-1")
    with pytest.raises(WebApiPermanentError) as unposted:
        webapi.create_invoice_batch(batch(credit))
    assert unposted.value.code == "RecordInvalid" and "A-1" in unposted.value.message

    stand_in.post_batch(alias, first.BatchNumber, audit())
    other_vendor = credit.model_copy(update={"VendorNumber": "1300"})
    with pytest.raises(WebApiPermanentError):
        webapi.create_invoice_batch(batch(other_vendor))
    applied = webapi.create_invoice_batch(batch(credit))
    stand_in.post_batch(alias, applied.BatchNumber, audit())

    assert APIBH.objects.using(alias).get(IDINVC="NC-1").INVCAPPLTO == "A-1"
    assert APOBL.objects.using(alias).get(IDINVC="A-1").AMTDUETC == Decimal("194.850")


def test_it_refuses_an_apply_to_document_on_an_invoice(webapi, alias):
    add_vendor(alias, "1200")
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.create_invoice_batch(batch(invoice("1200", "A-1", UUID_A, None, ("10",), ApplytoDocument="X")))
    assert raised.value.code == "RecordInvalid"


def test_it_refuses_to_edit_a_posted_batch(webapi, alias):
    add_vendor(alias, "1200")
    created = webapi.create_invoice_batch(batch(invoice("1200", "A-1", UUID_A, None, ("10",))))
    stand_in.post_batch(alias, created.BatchNumber, audit())

    for change in ({"BatchStatus": "Open"}, {"Description": "edited"}):
        with pytest.raises(WebApiPermanentError) as raised:
            webapi.patch("AP/APInvoiceBatches", created.BatchNumber, change)
        assert raised.value.code == "RecordInvalid" and "posted" in raised.value.message
    assert APIBC.objects.using(alias).get().BTCHDESC == "CFDI import"


def test_it_does_not_post_a_batch_through_a_patch(webapi, alias):
    add_vendor(alias, "1200")
    created = webapi.create_invoice_batch(batch(invoice("1200", "A-1", UUID_A, None, ("10",))))
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.set_batch_status(created.BatchNumber, "Posted")
    assert raised.value.code == "RecordInvalid"
    assert not APOBL.objects.using(alias).exists()


def test_it_marks_a_batch_ready_to_post(webapi, alias):
    add_vendor(alias, "1200")
    created = webapi.create_invoice_batch(batch(invoice("1200", "A-1", UUID_A, None, ("10",))))
    assert webapi.set_batch_status(created.BatchNumber, "ReadyToPost").BatchStatus == "ReadyToPost"
    assert APIBC.objects.using(alias).get(CNTBTCH=created.BatchNumber).BTCHSTTS == 7
    assert not APOBL.objects.using(alias).exists()


def test_clear_history_removes_posted_batches_and_keeps_the_posted_documents(webapi, alias):
    add_vendor(alias, "1200")
    created = webapi.create_invoice_batch(batch(invoice("1200", "A-1", UUID_A, None, ("10",))))
    stand_in.post_batch(alias, created.BatchNumber, audit())
    webapi.create_invoice_batch(batch(invoice("1200", "A-2", UUID_B, None, ("10",))))

    assert stand_in.clear_history(alias) == 1

    assert list(APIBC.objects.using(alias).values_list("CNTBTCH", flat=True)) == [2]
    assert list(APIBH.objects.using(alias).values_list("IDINVC", flat=True)) == ["A-2"]
    assert list(APOBLO.objects.using(alias).values_list("IDINVC", "VALUE")) == [("A-1", UUID_A)]


def test_it_answers_record_not_found_for_an_unknown_batch(webapi, alias):
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.invoice_batch(404)
    assert (raised.value.code, raised.value.status) == ("RecordNotFound", 404)


def test_an_inactive_vendor_is_refused(webapi, alias):
    add_vendor(alias, "1200")
    APVEN.objects.using(alias).filter(VENDORID="1200").update(SWACTV=0)
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.create_invoice_batch(batch(invoice("1200", "A-1", UUID_A, None, ("10",))))
    assert raised.value.code == "RecordInvalid" and "inactive" in raised.value.message
