from decimal import Decimal

import pytest

from cfdi.validation import check_cfdi
from tests.cfdi.samples import SAMPLES, sample


def test_it_knows_every_sample_file():
    from tests.cfdi.samples import FIXTURES

    assert sorted(p.name for p in FIXTURES.glob("*.xml")) == sorted(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_it_parses_each_sample_with_its_facts(name):
    version, kind, uuid, issuer, receptor, subtotal, total, _codes = SAMPLES[name]
    facts = check_cfdi(sample(name)).facts
    assert (facts.version, facts.kind, facts.uuid) == (version, kind, uuid)
    assert (facts.issuer_rfc, facts.receptor_rfc) == (issuer, receptor)
    assert (facts.subtotal, facts.total) == (Decimal(subtotal), Decimal(total))


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_it_validates_each_sample_to_its_expected_problems(name):
    expected_codes = SAMPLES[name][-1]
    receptor = SAMPLES[name][4]
    result = check_cfdi(sample(name), tenant_rfc=receptor)
    assert [p.code for p in result.problems] == expected_codes


def test_it_upper_cases_a_lower_case_stamp_uuid():
    assert b'UUID="6d7434a6-e3f2-47ad-9e4c-08849946afa0"' in sample("satcfdi-invoice-ppd-stamped.xml")
    assert check_cfdi(sample("satcfdi-invoice-ppd-stamped.xml")).facts.uuid == "6D7434A6-E3F2-47AD-9E4C-08849946AFA0"


def test_it_strips_the_leading_space_of_a_messy_rfc():
    assert b'Rfc=" AAA010101AAA"' in sample("satcfdi-cfdv40-pagos20.xml")
    assert check_cfdi(sample("satcfdi-cfdv40-pagos20.xml")).facts.issuer_rfc == "AAA010101AAA"


def test_it_links_a_payment_to_the_invoice_it_pays():
    invoice = check_cfdi(sample("satcfdi-invoice-ppd-stamped.xml")).facts
    payment = check_cfdi(sample("satcfdi-payment-for-ppd.xml")).facts
    assert invoice.payment_method == "PPD"
    [paid] = payment.paid_documents
    assert paid.invoice_uuid == invoice.uuid
    assert paid.amount_paid == invoice.total
    assert paid.previous_balance - paid.amount_paid == paid.remaining


def test_it_reads_every_related_document_of_a_payment():
    payment = check_cfdi(sample("satcfdi-cfdv40-pagos20.xml")).facts
    assert [p.invoice_uuid for p in payment.paid_documents] == [
        "C1DF8D01-8436-4E7D-BECF-20F31624280D", "CB675288-97C8-45C2-9618-27FEF433AD59",
        "CB36554D-AF7B-4EBC-97CB-8C40FDFD9E20"]
    assert [p.amount_paid for p in payment.paid_documents] == [Decimal("6066.66"), Decimal("5055.55"),
                                                               Decimal("4044.44")]
    assert payment.related_uuids == ["F4F09AEF-57F2-4BE0-A828-87D1A80ED61C"]


def test_it_reads_pagos_1_0_related_documents_too():
    pagos10 = sample("satcfdi-cfdv40-pagos20.xml").replace(
        b'xmlns:pago20="http://www.sat.gob.mx/Pagos20"', b'xmlns:pago20="http://www.sat.gob.mx/Pagos"')
    payment = check_cfdi(pagos10).facts
    assert [p.invoice_uuid for p in payment.paid_documents][:1] == ["C1DF8D01-8436-4E7D-BECF-20F31624280D"]
    assert payment.paid_documents[0].instalment == 2
