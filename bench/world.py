"""The benchmark's company: a sandbox Sage company and its portal tenant, of a named size."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import F

from sandbox.access import generated_secret
from sandbox.company import create_sage_tables, write_company
from sandbox.faults import set_faults
from sandbox.plan import Plan, build_plan
from sandbox.portal.models import SandboxPortalTenant
from sandbox.portal.seed import seed_portal
from sync.portal.schemas import PAGE_SIZE_MAX
from sync.sage.models import POPORH1, POPORL
from tenants.models import Tenant
from tenants.sage_db import sage_alias


@dataclass(frozen=True)
class Size:
    vendors: int
    pos: int
    lines_per_po: int
    cfdis: int
    payments: int


# large is the figure; small is a tenth of it; tiny and mini for quick runs and many tenants.
SIZES = {
    "large": Size(vendors=2000, pos=10000, lines_per_po=5, cfdis=3000, payments=3000),
    "small": Size(vendors=200, pos=1000, lines_per_po=5, cfdis=300, payments=300),
    "tiny": Size(vendors=20, pos=100, lines_per_po=5, cfdis=30, payments=30),
    # One of the many small companies `bench tenants` runs side by side.
    "mini": Size(vendors=10, pos=20, lines_per_po=3, cfdis=12, payments=6),
}
COMPANY_RFC = "DEM8801152E9"


def plan_of(size: Size, *, today: dt.date, seed: int = 1, company_rfc: str = COMPANY_RFC) -> Plan:
    return build_plan(seed=seed, vendors=size.vendors, pos=size.pos, lines_per_po=size.lines_per_po,
                      cfdis=size.cfdis, payments=size.payments, company_rfc=company_rfc, today=today)


def make_tenant(code: str, *, base_url: str, sage_file: str, webapi_company: str) -> Tenant:
    tenant, _ = Tenant.objects.update_or_create(code=code, defaults=dict(
        name=f"{code} SA de CV", rfc=COMPANY_RFC, sandbox=True, sage_db_engine="sqlite", sage_db_name=sage_file,
        webapi_url=f"{base_url}/sandbox/sage", webapi_company=webapi_company, webapi_user="ADMIN",
        webapi_password=generated_secret(), portal_url=f"{base_url}/sandbox/portal", portal_tenant_id=code,
        portal_key=generated_secret(), portal_secret=generated_secret(), active=True, paused=False,
        sat_status_url=f"{base_url}/sandbox/sat/ConsultaCFDIService.svc",
        invoice_distribution_code="INV"))
    return tenant


def fill(tenant: Tenant, plan: Plan, *, company: bool = True) -> None:
    """The Sage company (unless shared with another tenant) and the portal tenant, from `plan`."""
    if company:
        alias = sage_alias(tenant)
        create_sage_tables(alias, drop=True)
        write_company(alias, plan)
    portal = seed_portal(tenant, plan)
    # Pages as large as the real portal serves (EXTERNAL.md: 200), which is what bench.minimum counts.
    SandboxPortalTenant.objects.filter(pk=portal.pk).update(page_size_max=PAGE_SIZE_MAX)


def add_latency(tenant: Tenant, latency_ms: int) -> None:
    set_faults(f"portal:{tenant.portal_tenant_id}", latency_ms=latency_ms, error_rate=0, drop_rate=0,
               malformed_rate=0)
    set_faults(f"sage:{tenant.webapi_company.upper()}", latency_ms=latency_ms, error_rate=0, drop_rate=0,
               malformed_rate=0)


def change_pos(tenant: Tenant, share: float = 0.01) -> list[str]:
    """Change `share` of the POs in Sage as a buyer would: one more unit on the first line, a new audit stamp."""
    alias = sage_alias(tenant)
    headers = list(POPORH1.objects.using(alias).order_by("PORHSEQ").values_list("PORHSEQ", "PONUMBER"))
    step = max(1, round(1 / share))
    chosen = headers[::step]
    now = dt.datetime.now()
    stamp_date, stamp_time = int(now.strftime("%Y%m%d")), int(now.strftime("%H%M%S00"))
    seqs = [seq for seq, _ in chosen]
    first_lines = (POPORL.objects.using(alias).filter(PORHSEQ__in=seqs)
                   .order_by("PORHSEQ", "PORLREV").values_list("PORHSEQ", "PORLREV"))
    firsts: dict[int, int] = {}
    for seq, rev in first_lines:
        firsts.setdefault(int(seq), int(rev))
    for seq, rev in firsts.items():
        POPORL.objects.using(alias).filter(PORHSEQ=seq, PORLREV=rev).update(
            OQORDERED=F("OQORDERED") + 1, EXTENDED=F("EXTENDED") + F("UNITCOST"))
    POPORH1.objects.using(alias).filter(PORHSEQ__in=seqs).update(AUDTDATE=stamp_date, AUDTTIME=stamp_time)
    return [str(number).strip() for _, number in chosen]
