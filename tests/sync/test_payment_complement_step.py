"""Payment complement: the vendor's payment CFDI on the Sage payment it settles
(APTCRO FOLIOCFD / FECHACFD). Sage's Web API cannot edit a posted payment batch,
so the step reads Sage, records what Sage shows, and asks staff to enter what it
lacks — the same code and the same assertions for every tenant, with no write to
a Sage database or the Web API."""
from __future__ import annotations

import pytest

from cfdi.services import store_cfdi
from sandbox.models import FaultRule
from sandbox.portal.models import SandboxCfdi, SandboxPortalTenant
from sync.models import Outbound, OutboundAttempt, StepRun
from sync.sage.models import APTCRO
from tenants.sage_db import sage_alias
from tests.sync.conftest import SAGE_DB
from tests.sync.test_providers_step import cycle, portal_writes, sample_plan, wire

pytestmark = SAGE_DB

STEPS = ("payment_check", "payment_complement")


@pytest.fixture
def plan():
    return sample_plan()


@pytest.fixture
def settled(plan) -> dict[str, tuple[str, str]]:
    """DOCNBR → (complement UUID, stamp date) for every non-reversed payment a P CFDI settles."""
    complement_of = {paid.invoice_uuid: cfdi for cfdi in plan.cfdis if cfdi.kind == "P" for paid in cfdi.pays}
    expected = {}
    for payment in plan.payments:
        for line in payment.lines:
            if line.cfdi_uuid in complement_of and not payment.reversed:
                complement = complement_of[line.cfdi_uuid]
                expected[payment.docnbr] = (complement.uuid, complement.issued.date().isoformat())
    assert len(expected) >= 2, "the sample must hold payments settled by payment CFDIs"
    return expected


@pytest.fixture
def company(sage_tenant, live_server, plan):
    tenant = wire(sage_tenant, live_server, plan, steps=STEPS)
    # The sandbox company starts with complements recorded; these tests start before that.
    APTCRO.objects.using(sage_alias(tenant)).all().delete()
    return tenant


def complements_in_sage(tenant, plan) -> dict[str, tuple[str, str]]:
    alias = sage_alias(tenant)
    entries = {(p.batch, p.entry): p.docnbr for p in plan.payments}
    found: dict[str, dict[str, str]] = {}
    for row in APTCRO.objects.using(alias).all():
        found.setdefault(entries[(int(row.CNTBTCH), int(row.CNTENTR))], {})[row.OPTFIELD] = row.VALUE
    return {docnbr: (fields.get("FOLIOCFD", ""), fields.get("FECHACFD", "")) for docnbr, fields in found.items()}


def aptcro_rows(tenant) -> list[tuple]:
    return sorted((r.CNTBTCH, r.CNTENTR, r.OPTFIELD, r.VALUE, r.AUDTDATE, r.AUDTTIME)
                  for r in APTCRO.objects.using(sage_alias(tenant)).all())


def enter_in_sage(tenant, plan, docnbr: str, values: tuple[str, str]) -> None:
    """What staff do in Sage's A/P screens: the payment's optional fields."""
    payment = next(p for p in plan.payments if p.docnbr == docnbr)
    for name, value in zip(("FOLIOCFD", "FECHACFD"), values):
        APTCRO(BTCHTYPE="PY", CNTBTCH=payment.batch, CNTENTR=payment.entry, OPTFIELD=name, VALUE=value,
               AUDTDATE=0, AUDTTIME=0, AUDTUSER="STAFF", AUDTORG="ACME").save(
            using=sage_alias(tenant), force_insert=True)


def staff_todos(tenant) -> dict[str, str]:
    """What the attention page asks staff to do about complements: DOCNBR → the sentence."""
    rows = Outbound.objects.filter(tenant=tenant, kind="complement", attention=Outbound.Attention.PERSON)
    return dict(rows.values_list("key", "reason"))


def confirmed(tenant):
    return Outbound.objects.filter(tenant=tenant, kind="complement", state=Outbound.State.CONFIRMED)


def test_it_asks_staff_for_each_complement_sage_lacks_and_writes_nothing_to_sage(company, plan, settled):
    step = cycle(company)["payment_complement"]

    assert step.status == StepRun.Status.SUCCEEDED, (step.message, step.log)
    assert aptcro_rows(company) == []  # no write to Sage, through any door
    todos = staff_todos(company)
    assert set(todos) == set(settled)
    for docnbr, (uuid, stamped) in settled.items():
        assert uuid in todos[docnbr] and stamped in todos[docnbr] and "FOLIOCFD" in todos[docnbr]
    assert not confirmed(company).exists()
    # A to-do waits for a person: no failure, no attempt, nothing marked in flight.
    assert set(Outbound.objects.filter(kind="complement").values_list("state", "attempts")) == {("waiting", 0)}


def test_it_records_a_complement_once_staff_entered_it_in_sage(company, plan, settled):
    cycle(company)
    docnbr, values = next(iter(settled.items()))
    enter_in_sage(company, plan, docnbr, values)

    step = cycle(company)["payment_complement"]

    assert step.updated_count == 1
    assert dict(confirmed(company).values_list("key", "outside_id")) == {docnbr: values[0]}
    assert confirmed(company).get().attention == ""
    assert docnbr not in staff_todos(company)
    assert set(staff_todos(company)) == set(settled) - {docnbr}


def test_it_shows_the_todo_on_the_payments_page(company, plan, settled, client, django_user_model):
    client.force_login(django_user_model.objects.create_user("staffer", password="x", is_staff=True))
    cycle(company)
    docnbr, (uuid, _stamped) = next(iter(settled.items()))
    page = client.get("/payments/").content.decode()
    assert uuid in page and docnbr in page


def test_it_asks_once_and_writes_nothing_the_second_time(company, settled):
    cycle(company)
    before_records = list(Outbound.objects.filter(kind="complement").values_list("pk", "updated", "attempts"))
    before_history = OutboundAttempt.objects.count()
    before_portal = portal_writes(company)
    step = cycle(company)["payment_complement"]
    assert (step.updated_count, step.failed_count) == (0, 0)
    assert list(Outbound.objects.filter(kind="complement").values_list("pk", "updated", "attempts")) == before_records
    assert OutboundAttempt.objects.count() == before_history
    assert aptcro_rows(company) == []
    assert portal_writes(company) == before_portal


def test_it_only_records_what_sage_already_holds(sage_tenant, live_server, plan, settled):
    tenant = wire(sage_tenant, live_server, plan, steps=STEPS)  # complements already in APTCRO
    before = aptcro_rows(tenant)
    step = cycle(tenant)["payment_complement"]
    assert step.failed_count == 0 and staff_todos(tenant) == {}
    assert aptcro_rows(tenant) == before
    assert confirmed(tenant).count() == len(settled)


def test_it_never_overwrites_another_uuid_on_the_sage_payment(company, plan, settled):
    cycle(company, "payment_check")
    docnbr = next(iter(settled))
    other = "11111111-2222-4333-8444-555555555555"
    enter_in_sage(company, plan, docnbr, (other, ""))
    step = cycle(company)["payment_complement"]
    assert complements_in_sage(company, plan)[docnbr][0] == other
    assert step.failed_count == 1 and any(other in line for line in step.log)
    assert other in staff_todos(company)[docnbr]


def test_it_prefers_the_stored_payment_cfdis_to_the_portal(company, plan, settled):
    for cfdi in SandboxCfdi.objects.filter(cfdi_type="PAYMENT_CFDI"):
        store_cfdi(company, bytes(cfdi.xml), cfdi.item["metadata"])
    portal = SandboxPortalTenant.objects.get(tenant_id=company.portal_tenant_id)
    portal.reset_counts()
    cycle(company)
    portal.refresh_from_db()
    assert portal.reads == 0
    assert set(staff_todos(company)) == set(settled)


def test_it_makes_no_web_api_call(company, settled):
    """Nothing to write means nothing to send: a Web API that refuses everything changes nothing."""
    FaultRule.objects.create(target=f"sage:{company.webapi_company}", error_rate=1.0, error_statuses=[500])
    step = cycle(company)["payment_complement"]
    assert step.status == StepRun.Status.SUCCEEDED and set(staff_todos(company)) == set(settled)
