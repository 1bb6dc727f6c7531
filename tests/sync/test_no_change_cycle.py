"""A cycle with nothing to do writes nothing anywhere and costs a bounded number
of SQL queries — on our database and the Sage company together — that does not
grow with the size of the company (issue 7: ≤ 50 queries whatever the size); and
the first cycle, which does all the work, costs at most 2 queries per record (issue 17)."""
from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest
from django.db import connections

from cfdi.models import Cfdi
from sandbox.plan import build_plan
from sandbox.portal.models import SandboxPortalTenant, SandboxPurchaseOrder
from sync import po_reads
from sync.engine.pipeline import STEP_THREAD_PREFIX, run_tenant, step_names
from sync.models import Outbound, StepRun, SyncRun
from sync.sage.models import APIBC, APIBH, APTCRO, APVEN, APVENO
from tenants.models import Tenant
from tenants.sage_db import sage_alias
from tests.faults.support import COMPANY_RFC, TODAY, buyer_changed, buyer_changes, wire
from tests.sync.conftest import SAGE_DB

pytestmark = SAGE_DB

MAX_QUERIES = 50
MAX_FIRST_CYCLE_QUERIES_PER_RECORD = 2
FIXED_COST_OF_FAILURES = 6


def plan_of(scale: int):
    # The fault suite's small plan (every kind of record every step writes), times `scale`.
    return build_plan(seed=11, vendors=12 * scale, pos=14 * scale, lines_per_po=2, cfdis=30 * scale,
                      payments=12 * scale, company_rfc=COMPANY_RFC, today=TODAY)


@contextmanager
def counted_queries(aliases: list[str], statements: list[str] | None = None) -> Iterator[Counter]:
    """Queries per alias sent from this thread and the pipeline's step threads (which it hands
    this thread's query wrappers): live_server's request threads share the in-memory test
    database's connection, and the stand-ins' own queries are not ours. Their SQL is added to
    `statements` when one is given."""
    counts: Counter[str] = Counter()
    ours = threading.get_ident()

    def wrapper(alias: str):
        def count(execute, sql, params, many, context):
            if threading.get_ident() == ours or threading.current_thread().name.startswith(STEP_THREAD_PREFIX):
                counts[alias] += 1
                if statements is not None:
                    statements.append(sql)
            return execute(sql, params, many, context)
        return count

    with ExitStack() as stack:
        for alias in aliases:
            stack.enter_context(connections[alias].execute_wrapper(wrapper(alias)))
        yield counts


def sage_rows(alias: str) -> dict[str, int]:
    return {model.__name__: model.objects.using(alias).count() for model in (APIBC, APIBH, APVEN, APVENO, APTCRO)}


def portal_writes(tenant) -> int:
    return SandboxPortalTenant.objects.get(tenant_id=tenant.portal_tenant_id).writes


def no_change_cycle(tenant) -> tuple[Counter, SyncRun, float]:
    """Two cycles that do the work, then a third with nothing left to do, counted; and the first cycle's
    queries per record it made (issue 17: at most 2)."""
    alias = sage_alias(tenant)
    with counted_queries(["default", alias]) as first:
        run_tenant(tenant.pk)
    # A record: an object the cycle keeps for one outside thing (an outbound record) and each CFDI it stored.
    records = Outbound.objects.filter(tenant=tenant).count() + Cfdi.objects.filter(tenant=tenant).count()
    per_record = sum(first.values()) / max(1, records)
    run_tenant(tenant.pk)
    writes, rows = portal_writes(tenant), sage_rows(alias)
    with counted_queries(["default", alias]) as counts:
        run = run_tenant(tenant.pk)
    assert portal_writes(tenant) == writes, "the no-change cycle wrote to the portal"
    assert sage_rows(alias) == rows, "the no-change cycle wrote to Sage"
    return counts, run, per_record


@pytest.fixture
def company(sage_tenant, live_server, settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "cfdi": {
        "BACKEND": "cfdi.storage.AtomicFileSystemStorage", "OPTIONS": {"location": str(tmp_path / "cfdi")}}}

    current = [sage_tenant]

    def build(scale: int):
        current[0] = wire(fresh(current[0]), live_server, plan_of(scale), tmp_path)
        return current[0]
    return build


def fresh(tenant: Tenant) -> Tenant:
    """The same tenant settings with none of its history: deleting it takes its records along."""
    values = {f.attname: getattr(tenant, f.attname) for f in Tenant._meta.concrete_fields if not f.primary_key}
    Cfdi.objects.filter(tenant=tenant).delete()  # kept from a tenant's deletion on purpose (PROTECT)
    Tenant.objects.filter(pk=tenant.pk).delete()
    return Tenant.objects.create(**values)


def test_it_writes_nothing_and_stays_under_the_query_budget_whatever_the_size(company):
    figures = {}
    for scale in (1, 3):
        tenant = company(scale)
        counts, run, per_record = no_change_cycle(tenant)
        assert per_record <= MAX_FIRST_CYCLE_QUERIES_PER_RECORD, (scale, per_record)
        # A cycle cut short would be cheap for the wrong reason: every step must have run.
        statuses = {s.step: s.status for s in run.steps.all()}
        # Every step, each once (rows are written in the order the steps ended: the branches run side by side).
        assert sorted(statuses) == sorted(step_names()) and len(run.steps.all()) == len(step_names()), run.note
        assert StepRun.Status.SKIPPED not in statuses.values(), statuses
        figures[scale] = sum(counts.values())
        assert figures[scale] <= MAX_QUERIES, (scale, dict(counts))
    # The larger plan also holds records that fail every cycle (an invoice Sage refuses, so an
    # import retried and a failure alert read): a fixed cost, where a query per record would
    # add dozens (three times the vendors, POs, CFDIs and payments).
    assert figures[3] <= figures[1] + FIXED_COST_OF_FAILURES, f"queries grow with the company: {figures}"


def cycle_reading_po_lines(tenant) -> tuple[int, dict[str, StepRun]]:
    """One cycle; how many times it read PO lines from Sage, and its steps."""
    statements: list[str] = []
    with counted_queries([sage_alias(tenant)], statements):
        run = run_tenant(tenant.pk)
    return sum('FROM "POPORL"' in sql for sql in statements), {s.step: s for s in run.steps.all()}


def portal_orders(tenant) -> dict[str, str]:
    return dict(SandboxPurchaseOrder.objects.filter(portal_tenant__tenant_id=tenant.portal_tenant_id)
                .values_list("external_id", "status"))


def test_the_three_po_steps_read_each_page_of_sage_pos_once_a_run(company):
    # po_upsert, po_close and po_cancel start from the same watermark whenever they kept up with each
    # other: one reading of the POs and their lines serves all three (sync.po_reads).
    tenant = company(1)
    plan = plan_of(1)
    # The first cycle: the plan's 14 POs in one page, and the empty page that ends each step's reading.
    reads, steps = cycle_reading_po_lines(tenant)
    assert reads == 1
    assert steps["po_upsert"].created_count == 10  # the open ones; the closed and cancelled never go
    # A buyer adds a unit to one PO and cancels another: the page of those two serves all three steps,
    # and each still does its own part with it.
    more, cancelled = buyer_changed(plan)
    buyer_changes(tenant, plan)
    reads, steps = cycle_reading_po_lines(tenant)
    assert reads == 1
    assert (steps["po_upsert"].updated_count, steps["po_cancel"].updated_count) == (1, 1)
    orders = portal_orders(tenant)
    assert orders[cancelled] == "CANCELLED" and orders[more] != "CANCELLED", orders


def test_past_the_pages_a_run_keeps_each_po_step_reads_for_itself(company, monkeypatch):
    # Pages of 3 and at most 2 kept: the 14 POs are 5 pages; the later steps find the first 2 kept and read
    # the other 3 themselves, and every step still handles every PO.
    monkeypatch.setattr(po_reads, "PAGE_SIZE", 3)
    monkeypatch.setattr(po_reads, "KEPT_PAGES_MAX", 2)
    tenant = company(1)
    reads, steps = cycle_reading_po_lines(tenant)
    assert reads == 5 + 3 + 3
    assert steps["po_upsert"].created_count == 10 and len(portal_orders(tenant)) == 10
