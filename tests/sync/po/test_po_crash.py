"""`manage.py sync` processes killed (SIGKILL) around a portal write — right
after the portal accepted a PO batch and before the result was recorded, just
before the batch left, right after a status change — then a rerun: no
duplicate on the portal, nothing lost, nothing written twice."""
from __future__ import annotations

import signal
from dataclasses import dataclass

import pytest

from sandbox.company import write_company
from sandbox.plan import Plan, build_plan
from sandbox.portal.models import SandboxPortalTenant, SandboxPurchaseOrder
from sandbox.portal.seed import seed_portal
from sync.engine.crashpoints import CRASH_AT_VARIABLE
from sync.sage.models import POPORL
from tenants.sage_db import sage_alias
from tests.sync.conftest import SAGE_DB
from tests.sync.processes import Installation
from tests.sync.test_po_steps import SKIPPED_LOCATION, TODAY, eligible, known_to_portal

pytestmark = [SAGE_DB, pytest.mark.slow]
SAGE_SETTINGS = ("sage_db_engine", "sage_db_host", "sage_db_port", "sage_db_name", "sage_db_user")
PORTAL_SETTINGS = ("portal_url", "portal_tenant_id", "portal_key", "portal_secret")


@dataclass
class CrashSite:
    installation: Installation
    portal: SandboxPortalTenant
    plan: Plan
    alias: str

    def sync(self, step: str, **env: str):
        saved = self.installation.env
        self.installation.env = {**saved, **env}
        try:
            return self.installation.manage("sync", "--tenant", "crash", "--step", step, timeout=120)
        finally:
            self.installation.env = saved

    def after_a_crash(self) -> None:
        # The killed holder's lease runs out as time passes; pass that time.
        self.installation.query("UPDATE sync_tenantlease SET expires = '2000-01-01 00:00:00'")

    def orders(self) -> dict[str, object]:
        return {order.external_id: (order.status, order.updated)
                for order in SandboxPurchaseOrder.objects.filter(portal_tenant=self.portal)}

    def writes(self) -> int:
        return SandboxPortalTenant.objects.get(pk=self.portal.pk).writes

    def records(self, kind: str) -> dict[str, int]:
        return dict(self.installation.query(
            "SELECT state, COUNT(*) FROM sync_outbound WHERE kind = ? GROUP BY state", kind))


@pytest.fixture
def crash_site(sage_tenant, live_server, tmp_path) -> CrashSite:
    tenant = sage_tenant
    tenant.portal_url = f"{live_server.url}/sandbox/portal"
    tenant.po_required_optfield, tenant.po_required_value = "AUTORIZADA", "SI"
    tenant.skip_location_codes = [SKIPPED_LOCATION]
    tenant.save()
    plan = build_plan(seed=5, vendors=9, pos=30, cfdis=2, payments=0, today=TODAY)
    write_company(sage_alias(tenant), plan)
    portal = seed_portal(tenant, plan)
    installation = Installation(tmp_path / "site")
    # The subprocess reaches the same Sage company and this test's live_server through its tenant row.
    installation.add_tenant("crash", **{name: getattr(tenant, name) for name in SAGE_SETTINGS + PORTAL_SETTINGS},
                            sage_db_password="", po_required_optfield="AUTORIZADA", po_required_value="SI",
                            skip_location_codes=[SKIPPED_LOCATION])
    return CrashSite(installation, portal, plan, sage_alias(tenant))


@pytest.mark.parametrize("point, reached_portal", [("po:after_send", True), ("po:before_send", False)])
def test_it_creates_no_duplicate_and_loses_nothing_when_killed_around_the_batch(crash_site, point, reached_portal):
    due = eligible(crash_site.plan)
    expected = sorted(po.po_number for po in known_to_portal(crash_site.plan, due))

    killed = crash_site.sync("po_upsert", **{CRASH_AT_VARIABLE: point})

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    after_crash = crash_site.orders()
    assert sorted(after_crash) == (expected if reached_portal else [])
    # Either way we never recorded an answer: every PO of the batch is left unconfirmed (pending, or sent
    # when the portal queued the batch), to be asked for before anything is written again.
    left = crash_site.records("po")
    assert set(left) <= {"pending", "sent"} and sum(left.values()) == len(due)

    crash_site.after_a_crash()
    rerun = crash_site.sync("po_upsert")

    assert "Traceback" not in rerun.stderr, rerun.stderr
    if reached_portal:
        assert crash_site.orders() == after_crash  # looked up, not sent again: nothing rewritten
    assert sorted(crash_site.orders()) == expected  # nothing twice, nothing missing
    assert crash_site.records("po") == {"confirmed": len(expected), "failed": len(due) - len(expected)}
    confirmed = crash_site.installation.query(
        "SELECT \"key\" FROM sync_outbound WHERE kind = 'po' AND state = 'confirmed' AND outside_id != '' "
        "ORDER BY \"key\"")
    assert [key for (key,) in confirmed] == expected
    writes = crash_site.writes()
    assert crash_site.sync("po_upsert").returncode in (0, 1)
    assert crash_site.writes() == writes


def test_it_changes_a_status_once_when_killed_right_after_the_portal_changed_it(crash_site):
    crash_site.sync("po_upsert")
    po = next(po for po in known_to_portal(crash_site.plan, eligible(crash_site.plan)) if po.state == "open")
    for line in po.lines:
        POPORL.objects.using(crash_site.alias).filter(PORHSEQ=po.porhseq, PORLREV=line.line_number).update(
            OQCANCELED=line.ordered)
    writes = crash_site.writes()

    killed = crash_site.sync("po_cancel", **{CRASH_AT_VARIABLE: "po_status:after_send"})

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert crash_site.orders()[po.po_number][0] == "CANCELLED" and crash_site.writes() == writes + 1
    assert crash_site.records("po_status") == {"pending": 1}
    crash_site.after_a_crash()
    rerun = crash_site.sync("po_cancel")
    assert rerun.returncode == 0, rerun.stderr
    assert crash_site.writes() == writes + 1  # looked up on the portal, not changed again
    assert crash_site.records("po_status") == {"confirmed": 1}
