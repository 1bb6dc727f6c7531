"""Sandbox CFDIs pass every check for the tenant they are addressed to."""
import datetime as dt

from cfdi.validation import check_cfdi
from sandbox.cfdi_factory import build_cfdi_xml
from sandbox.plan import build_plan

PLAN = build_plan(seed=7, cfdis=60, today=dt.date(2026, 1, 15))


def test_it_builds_documents_that_pass_every_check():
    kinds = set()
    for planned in PLAN.cfdis:
        result = check_cfdi(build_cfdi_xml(planned, PLAN.company_rfc, PLAN.company_name), tenant_rfc=PLAN.company_rfc,
                            is_vendor={v.rfc for v in PLAN.vendors})
        assert result.problems == [], planned
        assert (result.facts.uuid, result.facts.kind, result.facts.total) == (planned.uuid, planned.kind, planned.total)
        assert result.facts.issuer_rfc == planned.issuer_rfc
        kinds.add(planned.kind)
    assert kinds == {"I", "E", "P"}


def test_it_links_payments_to_the_planned_invoices():
    payments = [c for c in PLAN.cfdis if c.kind == "P"]
    assert payments
    for planned in payments:
        facts = check_cfdi(build_cfdi_xml(planned, PLAN.company_rfc, PLAN.company_name)).facts
        assert [(p.invoice_uuid, p.amount_paid, p.remaining) for p in facts.paid_documents] == [
            (paid.invoice_uuid, paid.amount_paid, paid.remaining) for paid in planned.pays]


def test_it_is_deterministic():
    planned = PLAN.cfdis[0]
    assert build_cfdi_xml(planned, PLAN.company_rfc, PLAN.company_name) == build_cfdi_xml(
        planned, PLAN.company_rfc, PLAN.company_name)


def test_it_addresses_the_document_to_the_given_receptor():
    xml_bytes = build_cfdi_xml(PLAN.cfdis[0], "AIN8001011A1", "ACME Industrial SA de CV")
    assert [p.code for p in check_cfdi(xml_bytes, tenant_rfc=PLAN.company_rfc).problems] == ["receptor_mismatch"]
