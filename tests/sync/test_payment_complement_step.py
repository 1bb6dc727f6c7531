"""Payment complement: the vendor's payment CFDI is recorded on the Sage payment
(APTCRO FOLIOCFD / FECHACFD), once, read back from Sage first."""
from __future__ import annotations

import signal

import pytest

from cfdi.services import store_cfdi
from sandbox.portal.models import SandboxCfdi, SandboxPortalTenant
from sync.models import Payment, StepRun, SyncLink
from sync.sage.models import APTCRO
from tenants.sage_db import sage_alias
from tests.sync.conftest import SAGE_DB
from tests.sync.processes import Installation
from tests.sync.test_providers_step import cycle, portal_writes, rerun_after_crash, sample_plan, subprocess_tenant, wire

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


def test_it_records_each_complement_on_the_payment_it_settles(company, plan, settled):
    step = cycle(company)["payment_complement"]
    assert step.status == StepRun.Status.SUCCEEDED, (step.message, step.log)
    assert complements_in_sage(company, plan) == settled
    assert step.updated_count == len(settled)
    links = SyncLink.objects.filter(tenant=company, kind="complement", state=SyncLink.State.CONFIRMED)
    assert dict(links.values_list("sage_key", "portal_id")) == {k: v[0] for k, v in settled.items()}


def test_it_writes_nothing_the_second_time(company, settled):
    cycle(company)
    before_sage, before_portal = aptcro_rows(company), portal_writes(company)
    step = cycle(company)["payment_complement"]
    assert (step.updated_count, step.failed_count) == (0, 0)
    assert aptcro_rows(company) == before_sage
    assert portal_writes(company) == before_portal


def test_it_only_records_what_sage_already_holds(sage_tenant, live_server, plan, settled):
    tenant = wire(sage_tenant, live_server, plan, steps=STEPS)  # complements already in APTCRO
    before = aptcro_rows(tenant)
    step = cycle(tenant)["payment_complement"]
    assert step.updated_count == 0 and step.failed_count == 0
    assert aptcro_rows(tenant) == before
    assert SyncLink.objects.filter(tenant=tenant, kind="complement", state="confirmed").count() == len(settled)


def test_it_never_overwrites_another_uuid_on_the_sage_payment(company, plan, settled):
    cycle(company, "payment_check")
    docnbr = next(iter(settled))
    payment = Payment.objects.get(tenant=company, docnbr=docnbr)
    other = "11111111-2222-4333-8444-555555555555"
    APTCRO(BTCHTYPE="PY", CNTBTCH=payment.batch, CNTENTR=payment.entry, OPTFIELD="FOLIOCFD", VALUE=other,
           AUDTDATE=0, AUDTTIME=0, AUDTUSER="ADMIN", AUDTORG="ACME").save(using=sage_alias(company), force_insert=True)
    step = cycle(company)["payment_complement"]
    assert complements_in_sage(company, plan)[docnbr][0] == other
    assert step.failed_count == 1 and any(other in line for line in step.log)


def test_it_prefers_the_stored_payment_cfdis_to_the_portal(company, plan, settled):
    for cfdi in SandboxCfdi.objects.filter(cfdi_type="PAYMENT_CFDI"):
        store_cfdi(company, bytes(cfdi.xml), cfdi.item["metadata"])
    portal = SandboxPortalTenant.objects.get(tenant_id=company.portal_tenant_id)
    portal.reset_counts()
    cycle(company)
    portal.refresh_from_db()
    assert portal.reads == 0
    assert complements_in_sage(company, plan) == settled


def test_it_writes_a_complement_once_when_killed_after_writing_it(company, plan, settled, tmp_path):
    install = Installation(tmp_path / "install", steps={
        "payment_check": "sync.steps.payment_check", "payment_complement": "sync.steps.payment_complement"})
    install.add_tenant("crashy", **subprocess_tenant(company))
    install.env["SAGECONNECT_CRASH_AT"] = "payment_complement:written"
    killed = install.manage("sync", "--tenant", "crashy", timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    written = aptcro_rows(company)
    assert len(written) == 2  # FOLIOCFD and FECHACFD of the first payment, nothing recorded on our side
    assert install.query("SELECT state FROM sync_synclink WHERE kind='complement'") == [("pending",)]

    rerun = rerun_after_crash(install)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    after = aptcro_rows(company)
    assert set(written) <= set(after)  # the killed run's rows were found, not written again
    states = install.query("SELECT state, COUNT(*) FROM sync_synclink WHERE kind='complement' GROUP BY state")
    assert dict(states) == {"confirmed": len(settled)}
    assert complements_in_sage(company, plan) == settled
