"""AP vendors: create, read by key, read by filter, page through many."""
from __future__ import annotations

import pytest

from sync.sage.models import APVEN, APVENO
from sync.sage.webapi import (
    APVendor,
    OptionalField,
    WebApiPermanentError,
    odata_any_of,
    odata_compare,
    odata_eq,
)
from tests.sage_webapi.conftest import add_vendor

pytestmark = pytest.mark.django_db(transaction=True)


def new_vendor(number: str = "P0042") -> APVendor:
    return APVendor(
        VendorNumber=number,
        VendorName="Transportes del Bajío SA de CV",
        AddressLine1="Av. Juárez 120",
        City="León",
        StateProvince="GTO",
        ZipPostalCode="37000",
        Country="MEX",
        Email="cobranza@transportes.example",
        ContactsEmail="ana@transportes.example",
        GroupCode="INV",
        TaxRegistrationCode1="TBA010101AB1",
        VendorOptionalFieldValues=[OptionalField(OptionalField="PROVIDERID", Value="65a1f0c2e4b0a1b2c3d4e5f6")],
    )


def test_it_creates_a_vendor_with_its_optional_fields(webapi, alias):
    created = webapi.create_vendor(new_vendor())

    assert created.VendorNumber == "P0042" and created.Status == "Active" and created.OnHold == "NotOnHold"
    row = APVEN.objects.using(alias).get(VENDORID="P0042")
    assert (row.VENDNAME, row.NAMECITY, row.IDTAXREGI1, row.SWACTV) == (
        "Transportes del Bajío SA de CV", "León", "TBA010101AB1", 1)
    # FIELDS.md: Email is the vendor's (EMAIL2), ContactsEmail its contact's (EMAIL1).
    assert (row.EMAIL2, row.EMAIL1) == ("cobranza@transportes.example", "ana@transportes.example")
    # What the vendor group gives a new vendor: currency, terms, tax group.
    assert (row.IDGRP, row.CURNCODE, row.TERMSCODE, row.CODETAXGRP) == ("INV", "MXP", "N30", "CALIF")
    assert list(APVENO.objects.using(alias).values_list("VENDORID", "OPTFIELD", "VALUE")) == [
        ("P0042", "PROVIDERID", "65a1f0c2e4b0a1b2c3d4e5f6")]
    assert webapi.vendor("P0042").optional_field("PROVIDERID") == "65a1f0c2e4b0a1b2c3d4e5f6"


def test_it_refuses_a_vendor_of_a_group_sage_does_not_have(webapi, alias):
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.create_vendor(new_vendor().model_copy(update={"GroupCode": "NOPE"}))
    assert raised.value.code == "RecordInvalid" and "NOPE" in raised.value.message
    assert not APVEN.objects.using(alias).exists()


@pytest.mark.parametrize("wrong", [{"TaxRegistrationNumber1": "TBA010101AB1"}, {"TermsCode": "30"},
                                   {"OptionalFields": []}, {"OnHold": "No"}, {"Status": "Enabled"}])
def test_it_refuses_the_names_and_words_sage_does_not_know(webapi, alias, wrong):
    body = {**new_vendor().payload(), **wrong}
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.post("AP/APVendors", body)
    assert raised.value.code == "InvalidPayload" and next(iter(wrong)) in raised.value.message
    assert not APVEN.objects.using(alias).exists()


def test_it_refuses_a_second_vendor_with_the_same_number(webapi, alias):
    add_vendor(alias, "P0042")
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.create_vendor(new_vendor("p0042"))
    assert raised.value.code == "RecordDuplicate" and "P0042" in raised.value.message
    assert APVEN.objects.using(alias).count() == 1


def test_it_patches_a_vendor_keeping_what_is_not_named(webapi, alias):
    webapi.create_vendor(new_vendor())
    APVENO(VENDORID="P0042", OPTFIELD="METODOPAGO", VALUE="03").save(using=alias, force_insert=True)

    answer = webapi.patch("AP/APVendors", "P0042", {"Email": "pagos@transportes.example", "VendorOptionalFieldValues": [
        {"VendorNumber": "P0042", "OptionalField": "PROVIDERID", "Value": "65a1f0c2e4b0a1b2c3d4e5ff"}]})

    assert answer["Email"] == "pagos@transportes.example"
    row = APVEN.objects.using(alias).get(VENDORID="P0042")
    assert (row.EMAIL2, row.VENDNAME) == ("pagos@transportes.example", "Transportes del Bajío SA de CV")
    assert dict(APVENO.objects.using(alias).values_list("OPTFIELD", "VALUE")) == {
        "PROVIDERID": "65a1f0c2e4b0a1b2c3d4e5ff", "METODOPAGO": "03"}


def test_it_answers_record_not_found_when_patching_an_unknown_vendor(webapi, alias):
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.patch("AP/APVendors", "NOPE", {"Email": "x@example.com"})
    assert raised.value.code == "RecordNotFound"


def test_it_answers_none_for_an_unknown_vendor(webapi, alias):
    assert webapi.vendor("NOPE") is None


def test_it_finds_vendors_by_rfc_and_by_a_name_with_a_quote(webapi, alias):
    add_vendor(alias, "1200", IDTAXREGI1="AIN8001011A1")
    add_vendor(alias, "1300", "Ferretería O'Brien", IDTAXREGI1="FOB9002023B2")

    either = list(webapi.vendors(odata_any_of("VendorNumber", ["1300", "1200", "9999"]) + " and Status eq 'Active'"))
    by_rfc = list(webapi.vendors(odata_eq(TaxRegistrationCode1="FOB9002023B2")))
    by_name = list(webapi.vendors(odata_eq(VendorName="Ferretería O'Brien")))

    assert [v.VendorNumber for v in either] == ["1200", "1300"]
    assert [v.VendorNumber for v in by_rfc] == ["1300"]
    assert [v.VendorNumber for v in by_name] == ["1300"]
    assert "'Ferretería O''Brien'" in webapi.snapshot()["params"]["$filter"]
    assert [v.VendorNumber for v in webapi.vendors_by_tax_id("IDTAXREGI1", "AIN8001011A1")] == ["1200"]


def test_it_pages_through_every_vendor(webapi, alias):
    for number in range(1, 262):
        add_vendor(alias, f"V{number:04d}", f"Proveedor {number}")

    numbers = [vendor.VendorNumber for vendor in webapi.vendors()]

    assert numbers == [f"V{number:04d}" for number in range(1, 262)]
    assert webapi.calls["reads"] == 3
    filtered = [v.VendorNumber for v in webapi.vendors(odata_compare("VendorNumber", "gt", "V0250"))]
    assert filtered == [f"V{number:04d}" for number in range(251, 262)]


def test_it_counts_and_selects(webapi, alias):
    for number in range(1, 6):
        add_vendor(alias, f"V{number:04d}", f"Proveedor {number}")

    page = webapi.query("AP/APVendors", top=2, skip=1, count=True, select=["VendorNumber", "VendorName"])

    assert page["odata.count"] == 5
    assert page["value"] == [{"VendorNumber": "V0002", "VendorName": "Proveedor 2"},
                             {"VendorNumber": "V0003", "VendorName": "Proveedor 3"}]
    assert "odata.context" in page


def test_it_answers_invalid_parameters_for_a_filter_it_cannot_read(webapi, alias):
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.query("AP/APVendors", filter="Colour eq 'red'")
    assert (raised.value.code, raised.value.status) == ("InvalidParameters", 400)
