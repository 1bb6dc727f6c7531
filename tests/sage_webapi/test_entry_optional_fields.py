"""PATCH of an entry's optional field (a hand-keyed invoice's FOLIOCFD) through the client and the stand-in,
under the Developer Reference's UpdateOperation rules; refused where Sage refuses it."""
from __future__ import annotations

import pytest

from sandbox.sage_webapi import invoices as stand_in
from sync.sage.models import APIBH, APIBHO, APOBLO
from sync.sage.webapi import APInvoice, OptionalField, WebApiPermanentError
from tests.sage_webapi.conftest import add_vendor, audit
from tests.sage_webapi.test_invoice_batches import UUID_A, UUID_B, batch, invoice

pytestmark = pytest.mark.django_db(transaction=True)


def keyed_by_hand(webapi, alias, *entries: str) -> int:
    """A batch entered as a person does in A/P Invoice Entry: no FOLIOCFD."""
    add_vendor(alias, "1200")
    bare = [APInvoice(**{**invoice("1200", number, UUID_A, None, ("10",)).model_dump(),
                         "InvoiceOptionalFields": []}) for number in entries]
    return webapi.create_invoice_batch(batch(*bare)).BatchNumber


def folio(alias, batch_number: int, entry: int) -> list[str]:
    return list(APIBHO.objects.using(alias).filter(CNTBTCH=batch_number, CNTITEM=entry, OPTFIELD="FOLIOCFD")
                .values_list("VALUE", flat=True))


def test_it_inserts_the_optional_field_of_one_entry_and_leaves_the_others(webapi, alias):
    number = keyed_by_hand(webapi, alias, "A-1", "A-2")
    answer = webapi.set_invoice_optional_field(number, 2, OptionalField(OptionalField="FOLIOCFD", Value=UUID_A),
                                               operation="Insert")
    assert [i.optional_field("FOLIOCFD") for i in answer.Invoices] == [None, UUID_A]
    assert folio(alias, number, 1) == [] and folio(alias, number, 2) == [UUID_A]
    assert APIBH.objects.using(alias).get(CNTBTCH=number, CNTITEM=2).IDINVC.strip() == "A-2"


def test_an_insert_of_a_field_the_entry_has_is_a_duplicate_and_an_update_changes_it(webapi, alias):
    number = keyed_by_hand(webapi, alias, "A-1")
    field = OptionalField(OptionalField="FOLIOCFD", Value=UUID_A)
    webapi.set_invoice_optional_field(number, 1, field, operation="Insert")
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.set_invoice_optional_field(number, 1, field, operation="Insert")
    assert raised.value.code == "RecordDuplicate"
    webapi.set_invoice_optional_field(number, 1, OptionalField(OptionalField="FOLIOCFD", Value=UUID_B),
                                      operation="Update")
    assert folio(alias, number, 1) == [UUID_B]


def test_an_update_of_a_field_the_entry_lacks_is_not_found(webapi, alias):
    number = keyed_by_hand(webapi, alias, "A-1")
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.set_invoice_optional_field(number, 1, OptionalField(OptionalField="FOLIOCFD", Value=UUID_A),
                                          operation="Update")
    assert raised.value.code == "RecordNotFound"
    assert folio(alias, number, 1) == []


def test_it_refuses_an_entry_of_a_posted_batch_and_writes_nothing(webapi, alias):
    number = keyed_by_hand(webapi, alias, "A-1")
    stand_in.post_batch(alias, number, audit())
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.set_invoice_optional_field(number, 1, OptionalField(OptionalField="FOLIOCFD", Value=UUID_A),
                                          operation="Insert")
    assert raised.value.code == "RecordInvalid" and "posted" in raised.value.message
    assert folio(alias, number, 1) == [] and not APOBLO.objects.using(alias).exists()


def test_posted_documents_take_no_write_at_all(webapi, alias):
    # Endpoint Reference: APPostedDocuments is a "GET only" endpoint.
    keyed_by_hand(webapi, alias, "A-1")
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.patch("AP/APPostedDocuments", {"VendorNumber": "1200", "DocumentNumber": "A-1"},
                     {"OptionalFields": [{"OptionalField": "FOLIOCFD", "Value": UUID_A}]})
    assert raised.value.code == "MethodNotAllowed"


def test_it_refuses_an_unknown_entry_and_a_property_it_does_not_edit(webapi, alias):
    number = keyed_by_hand(webapi, alias, "A-1")
    field = {"OptionalField": "FOLIOCFD", "Value": UUID_A}
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.patch("AP/APInvoiceBatches", number, {"BatchNumber": number, "Invoices": [
            {"BatchNumber": number, "EntryNumber": 7, "UpdateOperation": "Update", "InvoiceOptionalFields": [field]}]})
    assert raised.value.code == "RecordNotFound"
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.patch("AP/APInvoiceBatches", number, {"BatchNumber": number, "Invoices": [
            {"BatchNumber": number, "EntryNumber": 1, "DocumentNumber": "B-1", "InvoiceOptionalFields": [field]}]})
    assert "DocumentNumber" in raised.value.message
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.patch("AP/APInvoiceBatches", number, {"Invoices": [
            {"EntryNumber": 1, "InvoiceOptionalFields": [{**field, "Valeu": "x"}]}]})
    assert raised.value.code == "InvalidPayload" and "Valeu" in raised.value.message
    assert folio(alias, number, 1) == []
