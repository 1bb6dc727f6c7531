"""Hostile and broken files: each gets a named reason, nothing else breaks."""
from decimal import Decimal

import pytest

from cfdi.validation import check_cfdi
from tests.cfdi.samples import sample

GOOD = "satcfdi-invoice-pue-stamped.xml"
TENANT_RFC = "KIJ0906199R1"


def codes(xml_bytes: bytes, **context) -> list[str]:
    return [p.code for p in check_cfdi(xml_bytes, **context).problems]


def test_it_refuses_a_truncated_file():
    result = check_cfdi(sample(GOOD)[:3000])
    assert [p.code for p in result.problems] == ["not_well_formed"]
    assert "not well-formed" in result.problems[0].message


def test_it_refuses_an_xxe_entity_without_reading_the_file(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    hostile = (f'<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM "file://{secret}">]>'
               '<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4" Version="&x;"/>').encode()
    result = check_cfdi(hostile)
    assert [p.code for p in result.problems] == ["doctype"]
    assert "TOP-SECRET" not in result.problems[0].message


def test_it_refuses_billion_laughs():
    entities = '<!ENTITY a0 "lol">' + "".join(f'<!ENTITY a{i} "{"&a%d;" % (i - 1) * 10}">' for i in range(1, 10))
    hostile = f'<?xml version="1.0"?><!DOCTYPE c [{entities}]><c>&a9;</c>'.encode()
    assert codes(hostile) == ["doctype"]


def test_it_refuses_a_dtd():
    document = sample(GOOD).replace(b"?>", b'?><!DOCTYPE cfdi:Comprobante SYSTEM "http://127.0.0.1:9/x.dtd">', 1)
    assert codes(document) == ["doctype"]


def test_it_refuses_a_50_mb_file_before_parsing_it():
    document = sample(GOOD).replace(b"</cfdi:Comprobante>", b"<!--" + b"x" * 50_000_000 + b"--></cfdi:Comprobante>")
    result = check_cfdi(document)
    assert [p.code for p in result.problems] == ["too_large"]
    assert "CFDI_MAX_BYTES" in result.problems[0].message


def test_it_refuses_something_that_is_not_a_cfdi():
    assert codes(b"<invoice/>") == ["not_cfdi"]
    assert codes(b"") == ["empty"]


def test_it_reports_a_missing_stamp():
    start = sample(GOOD).index(b"<tfd:TimbreFiscalDigital")
    end = sample(GOOD).index(b"/>", start) + 2
    assert codes(sample(GOOD)[:start] + sample(GOOD)[end:], tenant_rfc=TENANT_RFC) == ["not_stamped"]


def test_it_reports_a_receptor_that_is_not_the_tenant():
    result = check_cfdi(sample(GOOD), tenant_rfc="AIN8001011A1")
    assert [p.code for p in result.problems] == ["receptor_mismatch"]
    assert "KIJ0906199R1" in result.problems[0].message and "AIN8001011A1" in result.problems[0].message


def test_it_reports_totals_that_do_not_add_up():
    document = sample(GOOD).replace(b'Total="17852.75"', b'Total="17952.75"')
    result = check_cfdi(document, tenant_rfc=TENANT_RFC)
    assert [p.code for p in result.problems] == ["totals_inconsistent"]
    assert "17852.75" in result.problems[0].message


def test_it_tolerates_a_cent_of_rounding():
    document = sample(GOOD).replace(b'Total="17852.75"', b'Total="17852.76"')
    assert codes(document, tenant_rfc=TENANT_RFC) == []


def test_it_reports_an_empty_addenda():
    document = sample(GOOD).replace(b"</cfdi:Comprobante>", b"<cfdi:Addenda/></cfdi:Comprobante>")
    assert codes(document, tenant_rfc=TENANT_RFC) == ["addenda_empty"]


def test_it_ignores_a_custom_addenda_for_the_schema():
    addenda = b'<cfdi:Addenda><x:Any xmlns:x="urn:custom" a="1"/></cfdi:Addenda>'
    document = sample(GOOD).replace(b"</cfdi:Comprobante>", addenda + b"</cfdi:Comprobante>")
    assert codes(document, tenant_rfc=TENANT_RFC) == []


def test_it_reports_schema_errors_with_their_line():
    document = sample(GOOD).replace(b'Exportacion="01"', b'Exportacion="77"')
    result = check_cfdi(document, tenant_rfc=TENANT_RFC)
    assert [p.code for p in result.problems] == ["schema_invalid"]
    assert "Exportacion" in result.problems[0].message


def test_it_checks_large_catalogs_too():
    document = sample(GOOD).replace(b'ClaveProdServ="', b'ClaveProdServ="9', 1)
    result = check_cfdi(document, tenant_rfc=TENANT_RFC)
    assert "schema_invalid" in [p.code for p in result.problems]
    assert "c_ClaveProdServ" in " ".join(p.message for p in result.problems)


@pytest.mark.parametrize("moneda, expected", [
    ('Moneda="MXN" TipoCambio="1"', []),
    ('Moneda="MXN" TipoCambio="17.5"', ["exchange_rate_mxn"]),
])
def test_it_checks_the_exchange_rate_of_pesos(moneda, expected):
    document = sample(GOOD).replace(b'Moneda="MXN"', moneda.encode())
    assert codes(document, tenant_rfc=TENANT_RFC) == expected


def test_it_wants_an_exchange_rate_for_a_foreign_currency():
    document = sample(GOOD).replace(b'Moneda="MXN"', b'Moneda="USD"')
    assert "exchange_rate_missing" in codes(document, tenant_rfc=TENANT_RFC)
    document = sample(GOOD).replace(b'Moneda="MXN"', b'Moneda="USD" TipoCambio="17.25"')
    assert codes(document, tenant_rfc=TENANT_RFC) == []


def test_it_asks_the_caller_whether_the_issuer_is_a_vendor():
    assert codes(sample(GOOD), is_vendor={"H&E951128469"}) == []
    assert codes(sample(GOOD), is_vendor=lambda rfc: False) == ["vendor_unknown"]


def test_it_reports_a_uuid_already_imported():
    assert codes(sample(GOOD), imported_uuids={"6E546729-960A-4505-8E81-2D2952145BD9"}) == ["already_imported"]


def test_it_reports_every_problem_not_only_the_first():
    document = sample(GOOD).replace(b'Total="17852.75"', b'Total="1"')
    found = codes(document, tenant_rfc="AIN8001011A1", is_vendor=set(),
                  imported_uuids={"6E546729-960A-4505-8E81-2D2952145BD9"})
    assert found == ["receptor_mismatch", "totals_inconsistent", "vendor_unknown", "already_imported"]
    assert check_cfdi(document).facts.total == Decimal(1)


def test_it_reports_a_complement_whose_schema_we_do_not_carry():
    document = sample(GOOD).replace(b"<cfdi:Complemento>", b'<cfdi:Complemento><x:Raro xmlns:x="urn:desconocido"/>')
    result = check_cfdi(document, tenant_rfc=TENANT_RFC)
    assert [p.code for p in result.problems] == ["schema_invalid"]
    assert "Raro" in result.problems[0].message
