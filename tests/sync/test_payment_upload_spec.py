"""Payment upload per Focaltec's spec, over real HTTP to the portal stand-in: each paid CFDI in its own
currency with its exchange rate, and batch results matched whichever way the portal reads `results[].id`."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from cfdi.models import Cfdi
from sandbox.cfdi_factory import build_cfdi_xml
from sandbox.plan import CENT
from sandbox.portal.models import BatchResultId, SandboxCfdi, SandboxPayment, SandboxPortalTenant
from sync.models import Outbound, Payment, PaymentLine
from sync.payment_payload import CfdiMoney, build_payment, wait_reason, waiting
from sync.sage.models import APTCP
from tenants.sage_db import sage_alias
from tests.sync.conftest import SAGE_DB
from tests.sync.test_payment_upload_step import goes_out
from tests.sync.test_providers_step import cycle, sample_plan, wire

pytestmark = SAGE_DB

STEPS = ("cfdi_download", "payment_check", "payment_upload")
RATE = Decimal("17.2500")


@pytest.fixture
def plan():
    return sample_plan()


@pytest.fixture
def company(sage_tenant, live_server, plan):
    return wire(sage_tenant, live_server, plan, steps=STEPS)


def reading(tenant, which: str) -> None:
    SandboxPortalTenant.objects.filter(tenant_id=tenant.portal_tenant_id).update(batch_result_id=which)


def test_it_pays_a_foreign_currency_cfdi_in_its_own_currency_with_its_rate(company, plan):
    expected = next(p for p in plan.payments if goes_out(p))
    invoice = next(c for c in plan.cfdis if c.uuid == expected.lines[0].cfdi_uuid)
    # The supplier invoiced in dollars at 17.25; Sage paid it in pesos.
    dollars = replace(invoice, currency="USD", exchange_rate=RATE)
    SandboxCfdi.objects.filter(uuid=invoice.uuid).update(
        xml=build_cfdi_xml(dollars, receptor_rfc=plan.company_rfc, receptor_name=plan.company_name))
    pesos = (invoice.total * RATE).quantize(CENT)
    APTCP.objects.using(sage_alias(company)).filter(IDINVC=invoice.document_number).update(AMTPAYM=pesos)

    steps = cycle(company)

    assert Cfdi.objects.get(tenant=company, uuid=invoice.uuid).currency == "USD"
    assert steps["payment_upload"].failed_count == 0, steps["payment_upload"].log
    sent = SandboxPayment.objects.get(external_id=expected.docnbr).request
    assert sent["currency"] == "MXN"
    assert sent["cfdis"] == [{"uuid": invoice.uuid, "currency": "USD", "exchange_rate": float(RATE),
                              "amount": float(invoice.total), "payment_amount": float(pesos),
                              "payment_currency": "MXN"}]
    others = [line for p in SandboxPayment.objects.exclude(external_id=expected.docnbr) for line in p.request["cfdis"]]
    assert others and all(line["currency"] == "MXN" and line["exchange_rate"] == 1
                          and line["payment_amount"] == line["amount"] and "payment_currency" not in line
                          for line in others)


def test_it_waits_when_no_rate_between_the_currencies_is_known(company, plan):
    payment = Payment(tenant=company, docnbr="PY1", vendor="P00001", date=plan.today, amount=Decimal("100"),
                      currency="USD", batch=1, entry=1)
    line = PaymentLine(line=1, invoice_number="FA-1", cfdi_uuid="0B8A8D1E-0000-4000-8000-00000000000A",
                       amount=Decimal("100"))
    pesos_cfdi = {line.cfdi_uuid: CfdiMoney("MXN", None)}

    reason = wait_reason(payment, [line], {line.cfdi_uuid}, pesos_cfdi)

    assert "MXN" in reason and "USD" in reason and line.cfdi_uuid in reason
    # Only a person can end this wait (Sage must hold the payment in the CFDI's currency).
    assert waiting(payment, [line], {line.cfdi_uuid}, pesos_cfdi).person
    assert wait_reason(payment, [line], {line.cfdi_uuid}, {line.cfdi_uuid: CfdiMoney("USD", RATE)}) == ""
    request = build_payment(company, payment, [line], {line.cfdi_uuid: CfdiMoney("USD", RATE)})
    assert (request.cfdis[0].currency, request.cfdis[0].exchange_rate) == ("USD", Decimal(1))


@pytest.mark.parametrize("which", [BatchResultId.EXTERNAL, BatchResultId.PORTAL])
def test_it_records_every_payment_the_portal_took_under_either_reading(company, plan, which):
    reading(company, which)

    step = cycle(company)["payment_upload"]

    ready = {p.docnbr for p in plan.payments if goes_out(p)}
    assert (step.created_count, step.failed_count) == (len(ready), 0), step.log
    records = {r.key: r for r in Outbound.objects.filter(tenant=company, kind=Outbound.Kind.PAYMENT)
               .exclude(state=Outbound.State.WAITING)}
    on_portal = {p.external_id: p.portal_id for p in SandboxPayment.objects.all()}
    assert on_portal.keys() == ready
    assert {key: (r.state, r.outside_id) for key, r in records.items()} == {
        key: (Outbound.State.CONFIRMED, portal_id) for key, portal_id in on_portal.items()}


@pytest.mark.parametrize("which", [BatchResultId.EXTERNAL, BatchResultId.PORTAL])
def test_a_refusal_is_recorded_with_its_code_under_either_reading(company, plan, which):
    reading(company, which)
    victim = next(p for p in plan.payments if goes_out(p))
    SandboxCfdi.objects.filter(uuid=victim.lines[0].cfdi_uuid).delete()  # the portal no longer knows the CFDI

    step = cycle(company)["payment_upload"]

    row = Payment.objects.get(tenant=company, docnbr=victim.docnbr)
    record = Outbound.objects.get(tenant=company, kind=Outbound.Kind.PAYMENT, key=victim.docnbr)
    assert row.state == Payment.State.FAILED and "(1800)" in record.last_error
    assert step.failed_count == 1
    assert (record.state, record.attention) == (Outbound.State.FAILED, Outbound.Attention.PERMANENT)
    ready = {p.docnbr for p in plan.payments if goes_out(p)} - {victim.docnbr}
    assert {p.external_id for p in SandboxPayment.objects.all()} == ready
    if which == BatchResultId.PORTAL:
        # Its batch result carried no id of ours: the step said so, then asked about it on its own.
        assert any("names no result" in line for line in step.log), step.log
