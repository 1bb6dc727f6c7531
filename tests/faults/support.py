"""The fault suite's world: one tenant whose Sage company and portal are the
test's stand-ins (live_server, real HTTP), and throw-away SageConnect
installations that run real `manage.py sync` processes against them.

Moved here from the approach of tests/sync/test_providers_step.py: the
subprocess keeps our records in its own SQLite file; the outside systems it
talks to are the test's, so the test reads what the portal and Sage hold.
"""
from __future__ import annotations

import datetime as dt
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from sandbox.company import create_sage_tables, write_company
from sandbox.faults import clear_faults
from sandbox.plan import Plan, build_plan
from sandbox.portal.models import (
    SandboxCfdi,
    SandboxPayment,
    SandboxPortalTenant,
    SandboxProvider,
    SandboxPurchaseOrder,
)
from sandbox.portal.seed import seed_portal
from sync.engine.crashpoints import CRASH_AT_VARIABLE
from sync.sage.models import APIBH, APIBHO, APVEN, APVENO, POPORH1, POPORL
from tenants.sage_db import sage_alias
from tests.sync.processes import Installation

ROOT = Path(settings.BASE_DIR)
TODAY = dt.date.today()
# The sage_tenant fixture's RFC: the plan's CFDIs are issued to it.
COMPANY_RFC = "AIN8001011A1"
TENANT_FIELDS = (
    "rfc", "sage_db_engine", "sage_db_host", "sage_db_port", "sage_db_name", "sage_db_user", "webapi_url",
    "webapi_company", "webapi_user", "webapi_password", "portal_url", "portal_tenant_id", "portal_key",
    "portal_secret", "invoice_distribution_code", "vendor_group_code", "start_date", "sat_status_url",
)
SITE_CODE = "faults"


def small_plan() -> Plan:
    # Every kind of record every step writes: new vendors, POs in each state,
    # invoices to import, PPD invoices with payments and payment CFDIs.
    return build_plan(seed=11, vendors=12, pos=14, lines_per_po=2, cfdis=30, payments=12,
                      company_rfc=COMPANY_RFC, today=TODAY)


def wire(tenant, live_server, plan: Plan, session_dir: Path):
    """Point the tenant at both stand-ins, every step on, and fill both from `plan`.

    The Sage file sits at one path for the whole session so every test's
    subprocess installation can be copied from one template.
    """
    if tenant.sage_db_engine == "sqlite":
        tenant.sage_db_name = str(session_dir / "faults-sage.sqlite3")
    tenant.rfc = plan.company_rfc
    tenant.portal_url = f"{live_server.url}/sandbox/portal"
    tenant.webapi_url = f"{live_server.url}/sandbox/sage"
    tenant.sat_status_url = f"{live_server.url}/sandbox/sat/ConsultaCFDIService.svc"
    tenant.invoice_distribution_code = "INV"
    tenant.vendor_group_code = "NAC"  # sandbox.company.VENDOR_GROUPS: Sage requires a vendor's group
    tenant.start_date = TODAY - dt.timedelta(days=120)
    tenant.save()
    reset_outside(tenant, plan)
    return tenant


def reset_outside(tenant, plan: Plan) -> None:
    """Sage and the portal exactly as the plan describes them: the starting line of every run compared."""
    alias = sage_alias(tenant)
    create_sage_tables(alias, drop=True)
    write_company(alias, plan)
    seed_portal(tenant, plan)
    clear_faults()


# --- what the outside systems hold ---------------------------------------------

def outside_state(tenant) -> dict[str, Counter]:
    """Everything the portal and Sage hold that a cycle writes, as multisets of
    business facts: a duplicate shows as a count of 2, a loss as a missing key.
    Numbering the systems assign (batch numbers, portal ids, audit stamps) is left out."""
    portal = SandboxPortalTenant.objects.get(tenant_id=tenant.portal_tenant_id)
    alias = sage_alias(tenant)
    folios = {(int(o.CNTBTCH), int(o.CNTITEM)): o.VALUE
              for o in APIBHO.objects.using(alias).filter(OPTFIELD="FOLIOCFD")}
    return {
        "portal providers": Counter((p.rfc, p.external_id, p.expedient_status)
                                    for p in SandboxProvider.objects.filter(portal_tenant=portal)),
        "portal purchase orders": Counter(_order(o) for o in SandboxPurchaseOrder.objects.filter(portal_tenant=portal)),
        "portal payments": Counter(_payment(p) for p in SandboxPayment.objects.filter(portal_tenant=portal)),
        "portal cfdi statuses": Counter(
            (c.uuid, c.erp_status) for c in SandboxCfdi.objects.filter(portal_tenant=portal)),
        "sage vendors": Counter((v.VENDORID, v.VENDNAME, v.IDTAXREGI1) for v in APVEN.objects.using(alias)),
        "sage vendor fields": Counter((f.VENDORID, f.OPTFIELD, f.VALUE) for f in APVENO.objects.using(alias)),
        "sage invoices": Counter((i.IDVEND, i.IDINVC, i.CODECURN, str(i.AMTGROSTOT), str(i.AMTTAXTOT),
                                  i.INVCAPPLTO, folios.get((int(i.CNTBTCH), int(i.CNTITEM)), ""))
                                 for i in APIBH.objects.using(alias)),
    }


def portal_requests(tenant) -> int:
    """Requests the portal stand-in received for the tenant, refused and injected failures included."""
    portal = SandboxPortalTenant.objects.get(tenant_id=tenant.portal_tenant_id)
    return portal.reads + portal.writes


def _order(order: SandboxPurchaseOrder) -> tuple:
    request = order.request or {}
    lines = tuple(sorted(json.dumps(line, sort_keys=True) for line in request.get("lines", [])))
    return (order.external_id, order.status, str(request.get("total")), lines)


def _payment(payment: SandboxPayment) -> tuple:
    request = payment.request or {}
    cfdis = tuple(sorted((c.get("uuid"), str(c.get("amount"))) for c in request.get("cfdis", [])))
    return (payment.external_id, str(request.get("total_amount")), cfdis)


def differences(expected: dict[str, Counter], actual: dict[str, Counter]) -> dict[str, dict]:
    """Per kind: what is missing and what is extra (a duplicate counts as extra)."""
    found = {}
    for kind in expected:
        missing, extra = expected[kind] - actual[kind], actual[kind] - expected[kind]
        if missing or extra:
            found[kind] = {"missing": sorted(missing.elements())[:5], "extra": sorted(extra.elements())[:5]}
    return found


# --- the Sage side of a second cycle ---------------------------------------------

def buyer_changed(plan: Plan) -> tuple[str, str]:
    """The POs `buyer_changes` changes: (one more unit, cancelled)."""
    more, cancelled = [po for po in plan.pos if po.state == "open"][:2]
    return more.po_number, cancelled.po_number


def buyer_changes(tenant, plan: Plan) -> None:
    """Between two cycles, as a buyer would: one open PO gets one more unit, another is cancelled."""
    alias = sage_alias(tenant)
    stamp_date, stamp_time = int(TODAY.strftime("%Y%m%d")) + 0, 23595999
    by_number = {po.po_number: po for po in plan.pos}
    more, cancelled = (by_number[number] for number in buyer_changed(plan))
    first = more.lines[0]
    POPORL.objects.using(alias).filter(PORHSEQ=more.porhseq, PORLREV=first.line_number).update(
        OQORDERED=first.ordered + 1)
    for line in cancelled.lines:
        POPORL.objects.using(alias).filter(PORHSEQ=cancelled.porhseq, PORLREV=line.line_number).update(
            OQCANCELED=line.ordered)
    POPORH1.objects.using(alias).filter(PORHSEQ__in=[more.porhseq, cancelled.porhseq]).update(
        AUDTDATE=stamp_date, AUDTTIME=stamp_time)


# --- installations that run real `manage.py sync` processes -------------------

_TEMPLATES: dict[str, Path] = {}


@dataclass
class Site:
    """A SageConnect installation in its own folder; its database copied from a
    migrated template that already holds the tenant (a migrate per crash would
    cost seconds each)."""

    var_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def sync(self, *, crash_at: str = "", timeout: float = 120) -> subprocess.CompletedProcess:
        env = {**self.env, CRASH_AT_VARIABLE: crash_at} if crash_at else self.env
        return subprocess.run([sys.executable, "manage.py", "sync", "--tenant", SITE_CODE], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout)

    def query(self, sql: str, *params) -> list[tuple]:
        with sqlite3.connect(self.var_dir / "sageconnect.sqlite3", timeout=30) as db:
            return db.execute(sql, params).fetchall()

    def lease_runs_out(self) -> None:
        # The killed holder's lease expires as time passes (SYNC_LEASE_SECONDS); pass that time.
        self.query("UPDATE sync_tenantlease SET expires = '2000-01-01 00:00:00'")


def new_site(tenant, tmp_path: Path) -> Site:
    fields = {name: getattr(tenant, name) for name in TENANT_FIELDS}
    fields["sage_db_password"] = ""
    key = json.dumps(fields, sort_keys=True, default=str)
    template = _TEMPLATES.get(key)
    if template is None or not template.exists():
        template_dir = tmp_path.parent / f"site-template-{len(_TEMPLATES)}"
        shutil.rmtree(template_dir, ignore_errors=True)
        installation = Installation(template_dir)
        installation.add_tenant(SITE_CODE, **json.loads(json.dumps(fields, default=str)))
        template = _TEMPLATES[key] = template_dir
        _ENVS[template_dir] = installation.env
    var_dir = tmp_path / "site"
    shutil.copytree(template, var_dir)
    env = {**_ENVS[template], "SAGECONNECT_VAR_DIR": str(var_dir)}
    env.pop(CRASH_AT_VARIABLE, None)
    return Site(var_dir, env)


_ENVS: dict[Path, dict[str, str]] = {}


def killed(result: subprocess.CompletedProcess) -> bool:
    return result.returncode == -signal.SIGKILL


def finished(result: subprocess.CompletedProcess) -> bool:
    """The cycle ran to its end: succeeded, or some records failed (exit 1) — never a crash."""
    return result.returncode in (0, 1) and "Traceback" not in result.stderr


def cycle(site: Site, number: int) -> None:
    result = site.sync()
    assert finished(result), (
        f"cycle {number}: exit {result.returncode}\n{result.stdout[-1500:]}\n{result.stderr[-3000:]}")


def three_cycles(site: Site, tenant, plan: Plan, *, crash_at: str = "") -> list[str]:
    """Cycle 1; the buyer's changes; cycles 2 and 3. Armed with `crash_at` until
    the process dies there once; then the cycle is run again at once. Returns
    the crash point's kills ([] or [crash_at])."""
    kills = []
    for number in (1, 2, 3):
        if number == 2:
            buyer_changes(tenant, plan)
        result = site.sync(crash_at="" if kills else crash_at)
        if killed(result):
            kills.append(crash_at)
            # No waiting for the lease to run out: the killed holder's process is gone, the rerun takes over.
            result = site.sync()
        assert finished(result), (
        f"cycle {number}: exit {result.returncode}\n{result.stdout[-1500:]}\n{result.stderr[-3000:]}")
    return kills
