"""Step 3 asks SAT before importing, over real HTTP to the SAT stand-in, beside the portal and
Sage Web API stand-ins: vigente imports, cancelled does not (and says why), an unreachable SAT
follows the tenant's setting, imported unpaid invoices are asked again daily."""
from __future__ import annotations

import datetime as dt
import socket
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from cfdi.models import CfdiStatus, SatStatus
from sandbox.faults import clear_faults, set_faults
from sandbox.sat.models import SandboxSatCfdi
from sandbox.sat.register import mark_cancelled_at_sat, register_of
from sync.engine.pipeline import run_tenant
from sync.models import Outbound, Payment, PaymentLine, StepRun
from sync.retry import retry_import
from sync.sat.status import NOT_FOUND, SAT_CANCELLED
from tenants.models import SatUnreachable
from tests.sync.cfdi.world import cfdi_dir, plan, run_step, to_import, world  # noqa: F401 (fixtures)
from tests.sync.conftest import SAGE_DB
from tests.sync.sat.support import consultas, fresh_rate_limit, stored  # noqa: F401 (fixture)
from tests.sync.test_cfdi_import_step import downloaded, folio_rows

pytestmark = SAGE_DB

A_DAY_AND_AN_HOUR = dt.timedelta(hours=25)


def statuses(tenant, uuids) -> dict[str, str]:
    return {uuid: stored(tenant, uuid).status for uuid in uuids}


def sat_down():
    set_faults("sat", error_rate=1.0, error_statuses=[503])


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/ConsultaCFDIService.svc"


def test_it_imports_what_sat_reports_vigente_and_keeps_the_answer_with_its_date(world, plan):
    downloaded(world)
    before = timezone.now()

    step = run_step(world, "cfdi_import")

    expected = to_import(plan)
    assert step.created_count == len(expected) > 2
    assert set(statuses(world, expected).values()) == {CfdiStatus.IMPORTED}
    for uuid in expected:
        answer = SatStatus.objects.get(uuid=uuid)
        assert (answer.state, answer.code) == ("Vigente", "S - Comprobante obtenido satisfactoriamente.")
        assert answer.cancelable == "Cancelable con aceptación"
        assert before <= answer.checked_at <= stored(world, uuid).imported_at, "SAT is asked before the import"
        assert consultas(uuid) == 1


def test_it_does_not_import_a_cfdi_sat_cancelled_and_shows_why(world, plan, client):
    downloaded(world)
    cancelled, *others = sorted(to_import(plan))
    mark_cancelled_at_sat(cancelled)

    step = run_step(world, "cfdi_import")

    cfdi = stored(world, cancelled)
    assert cfdi.status == CfdiStatus.INVALID and cfdi.sage_batch is None
    assert [p["code"] for p in cfdi.problems] == [SAT_CANCELLED]
    assert "SAT reports this CFDI cancelled (Cancelado, Cancelado con aceptación" in cfdi.problems[0]["message"]
    assert cancelled not in folio_rows(world)
    assert set(statuses(world, others).values()) == {CfdiStatus.IMPORTED}
    assert any(cancelled in line and "not imported" in line for line in step.log)

    client.force_login(User.objects.create_user("clerk", password="x-Long-pass-4-tests", is_staff=True))
    page = client.get(f"/cfdis/{cfdi.pk}/").content.decode()
    assert cfdi.problems[0]["message"] in page
    assert 'id="sat-state">Cancelado<' in page and 'id="sat-cancellation">Cancelado con aceptación<' in page
    with pytest.raises(ValueError, match="SAT reports this CFDI cancelled"):
        retry_import(world.pk, cancelled)

    run_step(world, "cfdi_import")
    assert consultas(cancelled) == 1, "a cancellation is final: SAT is not asked again"


def test_it_holds_the_import_while_sat_does_not_answer_when_the_tenant_waits(world, plan):
    downloaded(world)
    expected = to_import(plan)
    sat_down()

    step = run_step(world, "cfdi_import")

    assert step.created_count == 0
    assert set(statuses(world, expected).values()) == {CfdiStatus.VALID}
    assert consultas() == 3, "one Consulta, three attempts; the other CFDIs do not knock again once SAT failed"
    for uuid in expected:
        answer = SatStatus.objects.get(uuid=uuid)
        assert answer.checked_at is None and answer.unreachable_since is not None and "HTTP 503" in answer.last_error
    assert any(f"{len(expected)} CFDI(s) wait for SAT's status" in line for line in step.log)

    clear_faults("sat")
    step = run_step(world, "cfdi_import")

    assert set(statuses(world, expected).values()) == {CfdiStatus.IMPORTED}
    assert not SatStatus.objects.filter(uuid__in=expected, unreachable_since__isnull=False).exists()


def test_it_stops_waiting_after_the_tenants_hours_imports_and_checks_again_when_sat_is_back(world, plan):
    downloaded(world)
    expected = sorted(to_import(plan))
    sat_down()
    run_step(world, "cfdi_import")
    SatStatus.objects.update(unreachable_since=timezone.now() - A_DAY_AND_AN_HOUR)  # sat_wait_hours is 24

    step = run_step(world, "cfdi_import")

    assert set(statuses(world, expected).values()) == {CfdiStatus.IMPORTED}
    assert any("has not answered for 24 hours; imported" in line for line in step.log)
    assert not SatStatus.objects.filter(uuid__in=expected, checked_at__isnull=False).exists()

    clear_faults("sat")
    mark_cancelled_at_sat(expected[0])
    run_step(world, "cfdi_import")

    assert stored(world, expected[0]).status == CfdiStatus.NEEDS_ATTENTION
    assert set(statuses(world, expected[1:]).values()) == {CfdiStatus.IMPORTED}
    assert SatStatus.objects.filter(uuid__in=expected, state="Vigente").count() == len(expected) - 1


def test_it_imports_at_once_when_the_tenant_says_so_and_checks_again_when_sat_is_back(world, plan, live_server):
    world.sat_unreachable = SatUnreachable.IMPORT
    world.sat_status_url = closed_port_url()
    world.save()
    downloaded(world)
    expected = sorted(to_import(plan))

    step = run_step(world, "cfdi_import")

    assert step.created_count == len(expected)
    assert set(statuses(world, expected).values()) == {CfdiStatus.IMPORTED}
    assert any("SAT did not answer; imported as the tenant's setting says" in line for line in step.log)

    world.sat_status_url = f"{live_server.url}/sandbox/sat/ConsultaCFDIService.svc"
    world.save()
    mark_cancelled_at_sat(expected[-1])
    step = run_step(world, "cfdi_import")

    assert stored(world, expected[-1]).status == CfdiStatus.NEEDS_ATTENTION
    assert step.failed_count == 1 and step.status == StepRun.Status.FAILED
    assert set(statuses(world, expected[:-1]).values()) == {CfdiStatus.IMPORTED}


def test_it_asks_again_daily_about_imported_unpaid_invoices_and_hands_a_later_cancellation_to_a_person(world, plan):
    downloaded(world)
    run_step(world, "cfdi_import")
    later, paid, *others = sorted(to_import(plan))
    mark_cancelled_at_sat(later)
    mark_cancelled_at_sat(paid)
    pay(world, paid)
    asked = {uuid: consultas(uuid) for uuid in (later, paid, *others)}

    run_step(world, "cfdi_import")  # within the day: the answers are fresh, nobody is asked

    assert {uuid: consultas(uuid) for uuid in asked} == asked
    assert stored(world, later).status == CfdiStatus.IMPORTED

    SatStatus.objects.update(checked_at=timezone.now() - A_DAY_AND_AN_HOUR)
    step = run_step(world, "cfdi_import")

    cfdi = stored(world, later)
    assert cfdi.status == CfdiStatus.NEEDS_ATTENTION and cfdi.sage_batch is not None
    problem = cfdi.problems[-1]
    assert problem["code"] == SAT_CANCELLED
    assert f"batch {cfdi.sage_batch}, entry {cfdi.sage_entry}" in problem["message"]
    assert step.failed_count == 1 and any(f"CFDI {later} needs a person" in line for line in step.log)
    record = Outbound.objects.get(kind=Outbound.Kind.CFDI_IMPORT, key=later)  # on the attention page
    assert (record.state, record.attention, record.reason_code) == ("confirmed", "person", SAT_CANCELLED)
    assert "hold or reverse that invoice in Sage" in record.reason
    assert consultas(paid) == asked[paid], "a paid invoice is not asked about again"
    assert stored(world, paid).status == CfdiStatus.IMPORTED
    assert all(consultas(uuid) == asked[uuid] + 1 for uuid in others)
    assert set(statuses(world, others).values()) == {CfdiStatus.IMPORTED}

    run_step(world, "cfdi_import")
    assert consultas(later) == asked[later] + 1, "a CFDI a person must look at is not asked about every cycle"


def pay(tenant, uuid: str) -> None:
    """A posted Sage payment that pays `uuid`, as the payment check records it."""
    cfdi = stored(tenant, uuid)
    payment = Payment.objects.create(tenant=tenant, docnbr="PY-SAT-1", vendor="V1", date=dt.date.today(),
                                     amount=cfdi.total, currency="MXN", batch=1, entry=1, sage_hash="x",
                                     state=Payment.State.UPLOADED)
    PaymentLine.objects.create(payment=payment, line=1, invoice_number=cfdi.document_number,
                               cfdi_uuid=uuid.lower(), amount=Decimal(cfdi.total))


def test_it_asks_sat_once_per_cfdi_while_its_answer_is_fresh(world, plan):
    downloaded(world)
    expected = to_import(plan)
    sage = f"sage:{world.webapi_company.upper()}"
    set_faults(sage, error_rate=1.0, error_statuses=[503])  # Sage busy: the invoices stay in line

    first = run_step(world, "cfdi_import")
    asked_first = {uuid: consultas(uuid) for uuid in expected}
    clear_faults(sage)
    Outbound.objects.update(not_before=timezone.now())  # the backoff has passed
    second = run_step(world, "cfdi_import")

    assert first.created_count == 0 and second.created_count == len(expected)
    assert asked_first == {uuid: 1 for uuid in expected}
    assert {uuid: consultas(uuid) for uuid in expected} == asked_first


def test_it_asks_sat_no_more_often_than_the_process_limit_and_leaves_the_rest_for_later(world, plan, settings):
    settings.SAT_CALLS_PER_MINUTE = 2
    downloaded(world)
    expected = to_import(plan)

    step = run_step(world, "cfdi_import")

    assert consultas() == 2
    imported = {uuid for uuid, status in statuses(world, expected).items() if status == CfdiStatus.IMPORTED}
    assert len(imported) == 2 and step.created_count == 2
    assert set(statuses(world, expected - imported).values()) == {CfdiStatus.VALID}
    assert any("SAT call limit reached (2 a minute in this process)" in line for line in step.log)


def test_a_dry_run_asks_sat_but_writes_nothing(world, plan):
    downloaded(world)
    cancelled = sorted(to_import(plan))[0]
    mark_cancelled_at_sat(cancelled)

    run = run_tenant(world.pk, only_step="cfdi_import", dry_run=True)

    assert run.steps.get().created_count == 0
    assert not SatStatus.objects.exists()
    cfdi = stored(world, cancelled)
    assert (cfdi.status, cfdi.problems) == (CfdiStatus.VALID, [])
    assert any(cancelled in line and "not imported" in line for line in run.steps.get().log)


def test_a_cfdi_sat_does_not_know_waits_then_needs_a_person_after_72_hours(world, plan):
    downloaded(world)
    unknown = sorted(to_import(plan))[0]
    entry = register_of(unknown)
    SandboxSatCfdi.objects.filter(pk=entry.pk).update(total=entry.total + 1)  # SAT answers "No Encontrado"

    step = run_step(world, "cfdi_import")

    record = Outbound.objects.get(kind=Outbound.Kind.CFDI_IMPORT, key=unknown)
    assert (record.state, record.reason_code, record.attention, record.attempts) == ("waiting", NOT_FOUND, "", 0)
    assert stored(world, unknown).status == CfdiStatus.VALID and step.failed_count == 0
    # Three days on, SAT still does not know it: longer than a PAC may take. A person is asked.
    Outbound.objects.filter(pk=record.pk).update(since=timezone.now() - dt.timedelta(hours=73))
    SatStatus.objects.filter(uuid=unknown).update(checked_at=timezone.now() - dt.timedelta(hours=2))
    run_step(world, "cfdi_import")
    record.refresh_from_db()
    assert (record.state, record.attention) == ("waiting", Outbound.Attention.PERSON)
    assert "72 hours" in record.reason and "ask the supplier" in record.reason

    SandboxSatCfdi.objects.filter(pk=entry.pk).update(total=entry.total)  # SAT knows it now
    SatStatus.objects.filter(uuid=unknown).update(checked_at=timezone.now() - dt.timedelta(hours=2))
    run_step(world, "cfdi_import")
    record.refresh_from_db()
    assert (record.state, record.attention, stored(world, unknown).status) == ("confirmed", "", CfdiStatus.IMPORTED)
