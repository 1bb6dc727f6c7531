"""A tenant whose portal and Sage 300 Web API are the stand-ins, over real HTTP (live_server),
filled from one sandbox plan: the Sage company database and the portal agree."""
from __future__ import annotations

import pytest

from sandbox.company import write_company
from sandbox.faults import clear_faults
from sandbox.plan import Plan, build_plan
from sandbox.portal.seed import seed_portal
from sync.engine.pipeline import run_tenant
from tenants.sage_db import sage_alias

# The sage_tenant fixture's RFC: the plan's CFDIs are issued to it.
COMPANY_RFC = "AIN8001011A1"


def make_plan(seed: int = 7, cfdis: int = 14, payments: int = 0) -> Plan:
    return build_plan(seed=seed, vendors=8, pos=4, cfdis=cfdis, payments=payments, company_rfc=COMPANY_RFC)


@pytest.fixture
def plan() -> Plan:
    return make_plan()


@pytest.fixture
def cfdi_dir(settings, tmp_path):
    location = tmp_path / "cfdi"
    settings.STORAGES = {**settings.STORAGES, "cfdi": {
        "BACKEND": "cfdi.storage.AtomicFileSystemStorage", "OPTIONS": {"location": str(location)}}}
    return location


@pytest.fixture
def world(sage_tenant, live_server, plan, cfdi_dir, settings):
    tenant = sage_tenant
    tenant.portal_url = f"{live_server.url}/sandbox/portal"
    tenant.webapi_url = f"{live_server.url}/sandbox/sage"
    tenant.sat_status_url = f"{live_server.url}/sandbox/sat/ConsultaCFDIService.svc"
    tenant.invoice_distribution_code = "INV"
    tenant.save()
    write_company(sage_alias(tenant), plan)
    seed_portal(tenant, plan)
    yield tenant
    clear_faults()


def run_step(tenant, step: str):
    run = run_tenant(tenant.pk, only_step=step)
    return run.steps.get()


def vendor_in_sage(plan: Plan, cfdi) -> bool:
    return plan.vendor(cfdi.vendor_id).in_sage


def to_import(plan: Plan) -> set[str]:
    """I/E CFDIs that are not in Sage yet and whose issuer is a Sage vendor."""
    return {c.uuid for c in plan.cfdis if c.kind in "IE" and not c.in_sage and vendor_in_sage(plan, c)}


def import_history(cfdi):
    """The history of a CFDI's import record (sync.models.OutboundAttempt), newest first."""
    from sync.models import Outbound, OutboundAttempt

    return OutboundAttempt.objects.filter(record__tenant_id=cfdi.tenant_id, record__kind=Outbound.Kind.CFDI_IMPORT,
                                          record__key=cfdi.uuid)


def import_record(cfdi):
    from sync.models import Outbound

    return Outbound.objects.get(tenant_id=cfdi.tenant_id, kind=Outbound.Kind.CFDI_IMPORT, key=cfdi.uuid)
