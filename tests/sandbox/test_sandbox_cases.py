"""`manage.py sandbox company` builds tenants side by side; `manage.py sandbox cfdi` adds one CFDI
(or marks one) on a tenant's sandbox portal and prints its UUID."""
from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from cfdi.validation import check_cfdi
from sandbox.portal.models import SandboxCfdi, SandboxProvider
from sandbox.sat.register import register_of
from sync.sage.models import APVENO
from tenants.models import Tenant
from tenants.sage_db import sage_alias

SIZES = ["--vendors", "6", "--pos", "4", "--cfdis", "8", "--payments", "2", "--today", "2026-11-01"]


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


def sandbox(*args: str) -> str:
    out = io.StringIO()
    call_command("sandbox", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def demo(sage_db_allowed, var_dir) -> Tenant:
    sandbox("company", "--tenant", "demo", *SIZES)
    return Tenant.objects.get(code="demo")


def test_it_builds_a_second_tenant_beside_the_first(demo):
    sandbox("company", "--tenant", "demo2", "--seed", "2", *SIZES)
    sandbox("company", "--tenant", "demo3", *SIZES)  # even the same seed

    ids = {code: set(SandboxProvider.objects.filter(portal_tenant__tenant_id=code).values_list("portal_id", flat=True))
           for code in ("demo", "demo2", "demo3")}
    assert all(len(found) == 6 for found in ids.values())
    assert not (ids["demo"] & ids["demo2"]) and not (ids["demo"] & ids["demo3"])
    # Each Sage company names its own tenant's provider ids.
    for code in ("demo", "demo3"):
        named = set(APVENO.objects.using(sage_alias(Tenant.objects.get(code=code)))
                    .filter(OPTFIELD="PROVIDERID").values_list("VALUE", flat=True))
        assert named and {value.strip() for value in named} <= ids[code]


def test_it_adds_one_late_cfdi_and_prints_its_uuid(demo):
    before = SandboxCfdi.objects.filter(portal_tenant__tenant_id="demo").count()

    printed = sandbox("cfdi", "--tenant", "demo", "--issued-days-ago", "10").strip()

    row = SandboxCfdi.objects.get(uuid=printed)
    assert SandboxCfdi.objects.filter(portal_tenant__tenant_id="demo").count() == before + 1
    assert row.issued == timezone.localdate() - dt.timedelta(days=10)
    assert timezone.now() - row.uploaded < dt.timedelta(minutes=1)
    provider = SandboxProvider.objects.get(portal_tenant=row.portal_tenant, external_id=row.provider_external_id)
    assert provider.expedient_status == "ACCEPTED"
    assert check_cfdi(bytes(row.xml), tenant_rfc=demo.rfc).ok
    assert (row.status, row.cancelled_by_sat, row.cancelled_in_tenant) == ("PENDING_PAYMENT", False, False)


def test_it_adds_a_rejected_or_cancelled_cfdi(demo):
    rejected = SandboxCfdi.objects.get(uuid=sandbox("cfdi", "--tenant", "demo", "--portal-status", "rejected").strip())
    by_sat = SandboxCfdi.objects.get(uuid=sandbox("cfdi", "--tenant", "demo", "--cancelled-by-sat").strip())
    in_tenant = SandboxCfdi.objects.get(uuid=sandbox("cfdi", "--tenant", "demo", "--cancelled-in-tenant").strip())

    assert (rejected.status, rejected.stage) == ("REJECTED", "FINISHED")
    assert by_sat.cancelled_by_sat and not by_sat.cancelled_in_tenant and by_sat.stage == "FINISHED"
    assert in_tenant.cancelled_in_tenant
    # SAT's status service answers for what the portal says SAT cancelled, and only that.
    assert register_of(by_sat.uuid).state == "Cancelado"
    assert register_of(in_tenant.uuid).state == "Vigente"


def test_it_marks_a_cfdi_the_portal_already_has(demo):
    existing = SandboxCfdi.objects.filter(portal_tenant__tenant_id="demo", cfdi_type="INVOICE").first()

    printed = sandbox("cfdi", "--tenant", "demo", "--uuid", existing.uuid.lower(), "--cancelled-by-sat").strip()

    existing.refresh_from_db()
    assert printed == existing.uuid and existing.cancelled_by_sat
    assert register_of(existing.uuid).state == "Cancelado"


@pytest.mark.parametrize("args, says", [
    (("--tenant", "nosuch"), "nosuch"),
    (("--tenant", "demo", "--portal-status", "ARCHIVED"), "ARCHIVED"),
    (("--tenant", "demo", "--provider", "P99999"), "P99999"),
    (("--tenant", "demo", "--uuid", "0B8A8D1E-0000-4000-8000-00000000000A"), "0B8A8D1E"),
])
def test_it_refuses_with_one_sentence(demo, args, says):
    before = SandboxCfdi.objects.count()

    with pytest.raises(CommandError, match=says):
        sandbox("cfdi", *args)

    assert SandboxCfdi.objects.count() == before
