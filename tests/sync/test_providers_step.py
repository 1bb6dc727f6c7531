"""Providers step: accepted portal providers become Sage vendors through the
Web API stand-in, over real HTTP, through the real pipeline."""
from __future__ import annotations

import datetime as dt
import json
import signal

import pytest

from sandbox.company import portal_provider_id, write_company
from sandbox.plan import build_plan
from sandbox.portal.models import SandboxPortalTenant, SandboxProvider
from sandbox.portal.seed import seed_portal
from sync.engine.pipeline import run_tenant
from sync.models import Outbound, StepRun
from sync.sage.models import APVEN, APVENO
from tenants.sage_db import sage_alias
from tests.sync.conftest import SAGE_DB
from tests.sync.processes import Installation

pytestmark = SAGE_DB

TODAY = dt.date(2026, 11, 20)
# The steps these files are about, and payment_check which feeds two of them.
OUR_STEPS = ("providers", "payment_check", "payment_upload", "payment_complement")
OTHER_STEPS = ("cfdi_download", "cfdi_import", "po_upsert", "po_close", "po_cancel")


def sample_plan():
    return build_plan(seed=11, vendors=12, pos=2, cfdis=30, payments=12, today=TODAY)


def wire(tenant, live_server, plan, *, steps=OUR_STEPS):
    """Point the tenant at both stand-ins, fill its Sage company and its portal from `plan`."""
    tenant.rfc = plan.company_rfc
    tenant.portal_url = f"{live_server.url}/sandbox/portal"
    tenant.webapi_url = f"{live_server.url}/sandbox/sage"
    tenant.vendor_group_code = "NAC"  # the sandbox company's vendor group (sandbox.company.VENDOR_GROUPS)
    tenant.invoice_distribution_code = tenant.invoice_distribution_code or "INV"
    for name in OUR_STEPS + OTHER_STEPS:
        setattr(tenant, f"step_{name}", name in steps)
    tenant.save()
    write_company(sage_alias(tenant), plan)
    seed_portal(tenant, plan)
    return tenant


def portal_writes(tenant) -> int:
    return SandboxPortalTenant.objects.get(tenant_id=tenant.portal_tenant_id).writes


def cycle(tenant, step: str | None = None) -> dict[str, StepRun]:
    run = run_tenant(tenant.pk, only_step=step)
    return {s.step: s for s in run.steps.all()}


def sage_vendors(tenant) -> list[tuple]:
    alias = sage_alias(tenant)
    vendors = [(v.VENDORID, v.VENDNAME, v.IDTAXREGI1, v.AUDTDATE, v.AUDTTIME) for v in
               APVEN.objects.using(alias).order_by("VENDORID")]
    fields = [(f.VENDORID, f.OPTFIELD, f.VALUE) for f in APVENO.objects.using(alias).order_by("VENDORID", "OPTFIELD")]
    return vendors + fields


@pytest.fixture
def plan():
    plan = sample_plan()
    accepted_new = [v for v in plan.vendors if not v.in_sage and v.portal_status == "ACCEPTED"]
    # The cases this file is about must be in the sample.
    assert accepted_new and any(not v.in_sage and v.portal_status != "ACCEPTED" for v in plan.vendors)
    assert any(v.in_sage and not v.external_id_on_portal for v in plan.vendors)
    return plan


@pytest.fixture
def company(sage_tenant, live_server, plan):
    return wire(sage_tenant, live_server, plan, steps=("providers",))


def test_it_creates_a_vendor_for_every_accepted_provider_sage_lacks(company, plan):
    step = cycle(company)["providers"]
    assert step.status == StepRun.Status.SUCCEEDED, (step.message, step.log)
    alias = sage_alias(company)
    for vendor in plan.vendors:
        provider = SandboxProvider.objects.get(portal_id=portal_provider_id(plan, vendor))
        in_sage = APVEN.objects.using(alias).filter(IDTAXREGI1=vendor.rfc)
        if vendor.portal_status != "ACCEPTED":
            assert not in_sage.exists() and provider.external_id == ""
            continue
        assert in_sage.count() == 1, vendor
        vendor_id = in_sage.get().VENDORID
        assert provider.external_id == vendor_id
        if vendor.in_sage:
            assert vendor_id == vendor.vendor_id  # matched by RFC, not created again
        else:
            assert vendor_id.startswith("PP") and len(vendor_id) <= 12
            provider_id = APVENO.objects.using(alias).get(VENDORID=vendor_id, OPTFIELD="PROVIDERID").VALUE
            assert provider_id == provider.portal_id
        record = Outbound.objects.get(tenant=company, kind="vendor", key=provider.portal_id)
        assert (record.outside_id, record.state) == (vendor_id, Outbound.State.CONFIRMED)
    created = [v for v in plan.vendors if not v.in_sage and v.portal_status == "ACCEPTED"]
    assert step.created_count == len(created)


def test_it_writes_nothing_anywhere_the_second_time(company):
    cycle(company)
    before_sage, before_portal = sage_vendors(company), portal_writes(company)
    step = cycle(company)["providers"]
    assert step.status == StepRun.Status.SUCCEEDED, step.message
    assert (step.created_count, step.updated_count) == (0, 0)
    assert portal_writes(company) == before_portal
    assert sage_vendors(company) == before_sage


def test_it_matches_by_the_rfc_where_the_tenant_keeps_it(company, plan):
    alias = sage_alias(company)
    vendor = next(v for v in plan.vendors if v.in_sage and v.portal_status == "ACCEPTED")
    # The site keeps the RFC in BRN, not IDTAXREGI1.
    APVEN.objects.using(alias).update(BRN="")
    APVEN.objects.using(alias).filter(VENDORID=vendor.vendor_id).update(BRN=vendor.rfc, IDTAXREGI1="")
    company.vendor_rfc_source = "BRN"
    company.save()
    SandboxProvider.objects.filter(rfc=vendor.rfc).update(external_id="")
    cycle(company)
    assert APVEN.objects.using(alias).filter(BRN=vendor.rfc).count() == 1
    assert SandboxProvider.objects.get(rfc=vendor.rfc).external_id == vendor.vendor_id


def test_it_finds_the_vendor_a_killed_run_created_and_creates_no_second_one(company, plan, tmp_path):
    install = Installation(tmp_path / "install", steps={"providers": "sync.steps.providers"})
    install.add_tenant("crashy", **subprocess_tenant(company))
    install.env["SAGECONNECT_CRASH_AT"] = "providers:vendor_created"
    killed = install.manage("sync", "--tenant", "crashy", timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    alias = sage_alias(company)
    first = [v for v in plan.vendors if not v.in_sage and v.portal_status == "ACCEPTED"]
    assert sum(APVEN.objects.using(alias).filter(IDTAXREGI1=v.rfc).count() for v in first) == 1
    rerun = rerun_after_crash(install)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    for vendor in first:
        assert APVEN.objects.using(alias).filter(IDTAXREGI1=vendor.rfc).count() == 1
        vendor_id = APVEN.objects.using(alias).get(IDTAXREGI1=vendor.rfc).VENDORID
        assert SandboxProvider.objects.get(rfc=vendor.rfc).external_id == vendor_id
    states = install.query("SELECT state, COUNT(*) FROM sync_outbound WHERE kind='vendor' GROUP BY state")
    assert dict(states) == {"confirmed": sum(1 for v in plan.vendors if v.portal_status == "ACCEPTED")}


def subprocess_tenant(tenant) -> dict:
    """The same outside systems, seen from another SageConnect installation."""
    fields = {name: getattr(tenant, name) for name in (
        "rfc", "sage_db_engine", "sage_db_host", "sage_db_port", "sage_db_name", "sage_db_user", "sage_db_password",
        "webapi_url", "webapi_company", "webapi_user", "webapi_password", "portal_url", "portal_tenant_id",
        "portal_key", "portal_secret", "vendor_rfc_source", "vendor_group_code", "invoice_distribution_code")}
    for name in OUR_STEPS + OTHER_STEPS:
        fields[f"step_{name}"] = getattr(tenant, f"step_{name}")
    return json.loads(json.dumps(fields, default=str))


def rerun_after_crash(install: Installation):
    """The next cycle, once the killed run's lease has run out (as it would in SYNC_LEASE_SECONDS)."""
    del install.env["SAGECONNECT_CRASH_AT"]
    install.query("UPDATE sync_tenantlease SET expires = '2000-01-01 00:00:00'")
    return install.manage("sync", "--tenant", "crashy", timeout=120)


def test_it_runs_a_whole_cycle_then_a_second_one_that_writes_nowhere(sage_tenant, live_server, plan):
    from sandbox.models import FaultRule
    from sandbox.portal.models import SandboxPayment
    from sync.sage.models import APTCRO

    tenant = wire(sage_tenant, live_server, plan)
    APTCRO.objects.using(sage_alias(tenant)).all().delete()
    first = cycle(tenant)
    assert all(s.status == StepRun.Status.SUCCEEDED for s in first.values() if s.step in OUR_STEPS), \
        {s.step: (s.status, s.message) for s in first.values()}
    accepted_new = [v for v in plan.vendors if not v.in_sage and v.portal_status == "ACCEPTED"]
    assert first["providers"].created_count == len(accepted_new)
    assert first["payment_upload"].created_count == SandboxPayment.objects.count() > 0
    # No complement is in Sage yet and the Web API cannot write one on a posted payment: staff are asked.
    from sync.models import Outbound
    assert Outbound.objects.filter(tenant=tenant, kind="complement", attention="person").count() > 0

    before_sage, before_portal = sage_vendors(tenant), portal_writes(tenant)
    before_complements = sorted((r.CNTBTCH, r.CNTENTR, r.OPTFIELD, r.VALUE, r.AUDTTIME)
                                for r in APTCRO.objects.using(sage_alias(tenant)).all())
    # Any Sage Web API call in the second cycle, read or write, would now fail its step.
    FaultRule.objects.create(target=f"sage:{tenant.webapi_company}", error_rate=1.0, error_statuses=[400])
    second = cycle(tenant)
    for name in OUR_STEPS:
        assert second[name].status == StepRun.Status.SUCCEEDED, (name, second[name].message)
        assert (second[name].created_count, second[name].updated_count, second[name].failed_count) == (0, 0, 0)
    assert portal_writes(tenant) == before_portal
    assert sage_vendors(tenant) == before_sage
    assert sorted((r.CNTBTCH, r.CNTENTR, r.OPTFIELD, r.VALUE, r.AUDTTIME)
                  for r in APTCRO.objects.using(sage_alias(tenant)).all()) == before_complements
    from sync.sage.webapi import SageWebApi, WebApiPermanentError

    with pytest.raises(WebApiPermanentError):  # the rule above does bite
        next(SageWebApi(tenant).vendors())


def test_it_shows_every_vendor_it_would_create_in_a_dry_run_and_writes_nothing(company, plan):
    before_sage, before_portal = sage_vendors(company), portal_writes(company)
    run = run_tenant(company.pk, dry_run=True, only_step="providers")
    step = run.steps.get()
    assert step.status == StepRun.Status.SUCCEEDED, step.message
    shown = [line for line in step.log if line.startswith("would send sage APVendors")]
    accepted_new = [v for v in plan.vendors if not v.in_sage and v.portal_status == "ACCEPTED"]
    assert len(shown) == len(accepted_new)
    assert all(any(v.rfc in line for line in shown) for v in accepted_new)
    assert (sage_vendors(company), portal_writes(company)) == (before_sage, before_portal)
    assert not Outbound.objects.filter(tenant=company).exists()


def test_it_stops_at_a_vendor_sage_refused_until_something_changes(company, plan):
    from sandbox.models import FaultRule

    rule = FaultRule.objects.create(target=f"sage:{company.webapi_company}", error_rate=1.0, error_statuses=[400])
    step = cycle(company)["providers"]
    accepted_new = [v for v in plan.vendors if not v.in_sage and v.portal_status == "ACCEPTED"]
    assert step.failed_count == len(accepted_new)
    failed = Outbound.objects.filter(tenant=company, kind="vendor", state=Outbound.State.FAILED)
    assert failed.count() == len(accepted_new)
    record = failed.first()
    assert record.attention == Outbound.Attention.PERMANENT and "Injected fault" in record.last_error
    assert record.outside_id.startswith("PP")  # the number chosen once, kept for the next try
    rule.delete()
    step = cycle(company)["providers"]
    assert (step.created_count, step.failed_count) == (0, 0)  # not hammered again as it stands
    assert not APVEN.objects.using(sage_alias(company)).filter(IDTAXREGI1__in=[v.rfc for v in accepted_new]).exists()
