"""The SAT status stand-in answers and refuses as SAT's service does, over real HTTP."""
from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from sandbox.plan import build_plan
from sandbox.portal.seed import seed_portal
from sandbox.sat.models import SandboxSatCfdi
from sandbox.sat.register import NotStamped, mark_cancelled_at_sat, register_of
from sync.sat.client import SOAP_ACTION, SatStatusClient, envelope, expression
from tests.sync.sat.support import consultas, fresh_rate_limit, service_url  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)
COMPANY_RFC = "AIN8001011A1"


@pytest.fixture
def stamped(make_tenant):
    """A portal tenant holding the sandbox's stamped CFDIs: the ones SAT knows."""
    tenant = make_tenant(rfc=COMPANY_RFC)
    plan = build_plan(seed=3, vendors=3, pos=1, cfdis=4, payments=0, company_rfc=COMPANY_RFC)
    seed_portal(tenant, plan)
    return [c for c in plan.cfdis if c.kind == "I"][0]


def ask(live_server, planned, **changes) -> object:
    values = dict(uuid=planned.uuid, issuer_rfc=planned.issuer_rfc, receptor_rfc=COMPANY_RFC, total=planned.total,
                  seal="U0FOREJPWA==")
    values.update(changes)
    with SatStatusClient(service_url(live_server)) as client:
        return client.consult(expression(**values))


def post(live_server, body: bytes, **headers):
    sent = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{SOAP_ACTION}"', **headers}
    return requests.post(service_url(live_server), data=body, headers=sent, timeout=10)


def test_it_answers_vigente_for_a_cfdi_the_sandbox_stamped(live_server, stamped):
    acuse = ask(live_server, stamped)

    assert (acuse.code, acuse.state) == ("S - Comprobante obtenido satisfactoriamente.", "Vigente")
    assert acuse.active and not acuse.cancelled
    assert (acuse.cancelable, acuse.cancellation_status, acuse.efos) == ("Cancelable con aceptación", "", "200")
    assert consultas(stamped.uuid) == 1


def test_it_keeps_no_log_of_the_questions_when_its_records_are_off(live_server, stamped, settings):
    settings.SANDBOX_RECORD_REQUESTS = False

    assert ask(live_server, stamped).state == "Vigente"
    assert consultas() == 0


def test_it_answers_cancelado_once_sat_cancelled_it(live_server, stamped):
    mark_cancelled_at_sat(stamped.uuid.lower(), cancellation_status="Plazo vencido")

    acuse = ask(live_server, stamped)

    assert (acuse.state, acuse.cancellation_status) == ("Cancelado", "Plazo vencido")
    assert acuse.cancelled and not acuse.active


def test_it_does_not_find_a_cfdi_whose_total_issuer_or_seal_differ(live_server, stamped):
    for change in ({"total": stamped.total + Decimal("0.01")}, {"issuer_rfc": "XAXX010101000"},
                   {"seal": "AAAAAAAAAAAA"}, {"uuid": "00000000-0000-4000-8000-000000000000"}):
        acuse = ask(live_server, stamped, **change)
        assert (acuse.code, acuse.state) == ("N - 602: Comprobante no encontrado.", "No Encontrado"), change
        assert not acuse.found


def test_it_takes_the_expression_satcfdi_sends_too(live_server, stamped):
    # satcfdi's SAT.status(): "?re=…&rr=…&tt=…&id=…", the total as written, no fe.
    text = f"?re={stamped.issuer_rfc}&rr={COMPANY_RFC}&tt={stamped.total}&id={stamped.uuid}"
    with SatStatusClient(service_url(live_server)) as client:
        assert client.consult(text).state == "Vigente"


@pytest.mark.parametrize("text", [
    "", "hello", "?re=AAA010101AAA&rr=AIN8001011A1&tt=10.0",                   # no id
    "?re=AAA010101AAA&rr=AIN8001011A1&tt=10.0&id=not-a-uuid",
    "?re=AAA010101AAA&rr=AIN8001011A1&tt=1,000.00&id=00000000-0000-4000-8000-000000000000",
    "?re=AAA010101AAA&rr=AIN8001011A1&tt=10.1234567&id=00000000-0000-4000-8000-000000000000",
    "?re=AAA010101AAA&rr=AIN8001011A1&tt=10.0&id=00000000-0000-4000-8000-000000000000&xx=1",
    "?re=AAA010101AAA&rr=AIN8001011A1&tt=10.0&id=00000000-0000-4000-8000-000000000000&fe=short",
])
def test_it_calls_a_malformed_expression_not_valid(live_server, text):
    with SatStatusClient(service_url(live_server)) as client:
        acuse = client.consult(text)

    assert acuse.code == "N - 601: La expresión impresa proporcionada no es válida."
    assert acuse.state == "No Encontrado" and not acuse.found


def test_it_reads_an_rfc_with_an_ampersand_written_as_an_entity(live_server, stamped):
    entry = register_of(stamped.uuid)
    SandboxSatCfdi.objects.filter(pk=entry.pk).update(issuer_rfc="A&B010101AB1")

    assert ask(live_server, stamped, issuer_rfc="A&B010101AB1").state == "Vigente"


def test_it_refuses_what_is_not_a_soap_consulta(live_server):
    good = envelope("?re=AAA010101AAA&rr=AIN8001011A1&tt=1.0&id=00000000-0000-4000-8000-000000000000")

    assert requests.get(service_url(live_server), timeout=10).status_code == 405
    assert post(live_server, good, **{"Content-Type": "application/soap+xml"}).status_code == 415
    wrong_action = post(live_server, good, SOAPAction='"http://tempuri.org/IConsultaCFDIService/Other"')
    assert wrong_action.status_code == 500 and b"ActionNotSupported" in wrong_action.content
    assert post(live_server, b"<not-xml").status_code == 400
    assert post(live_server, b"<Envelope/>").status_code == 400


def test_it_refuses_to_cancel_what_the_sandbox_never_stamped(db):
    with pytest.raises(NotStamped, match="00000000-0000-4000-8000-000000000000"):
        mark_cancelled_at_sat("00000000-0000-4000-8000-000000000000")
    with pytest.raises(ValueError, match="En proceso"):
        mark_cancelled_at_sat("00000000-0000-4000-8000-000000000000", cancellation_status="En proceso")


def test_the_sandbox_command_marks_a_cfdi_cancelled_at_sat(live_server, stamped, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    call_command("sandbox", "sat-cancel", "--uuid", stamped.uuid.lower(), "--cancellation-status", "Plazo vencido")

    assert f"SAT now reports CFDI {stamped.uuid} as Cancelado (Plazo vencido)" in capsys.readouterr().out
    assert (ask(live_server, stamped).state, ask(live_server, stamped).cancellation_status) == (
        "Cancelado", "Plazo vencido")
    with pytest.raises(CommandError, match="no stamped CFDI with UUID 00000000-0000-4000-8000-000000000000"):
        call_command("sandbox", "sat-cancel", "--uuid", "00000000-0000-4000-8000-000000000000")
