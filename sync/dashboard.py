"""The queries behind the staff pages and the JSON status.

Views stay thin: each page calls one function here, and every function runs a
fixed number of queries whatever the number of rows (tests/ui/test_query_counts.py).
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from django.contrib.auth.models import Group
from django.core.paginator import Page, Paginator
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone
from django_q.models import Schedule

from cfdi.models import Cfdi, CfdiStatus
from sync.models import Payment, PaymentLine, RecordOutcome, StepRun, SyncLink, SyncRun
from sync.scheduling import schedule_name
from tenants.models import STEP_NAMES, Tenant

ADMINS_GROUP = "SageConnect admins"
STAFF_GROUP = "SageConnect staff"
PAGE_SIZE = 50
# A CFDI in one of these states may be worth a re-import (see can_retry); an imported one is not.
RETRYABLE_CFDI_STATUSES = (CfdiStatus.FAILED, CfdiStatus.NEEDS_ATTENTION, CfdiStatus.VALID, CfdiStatus.INVALID)
IMPORTED_KINDS = ("I", "E")
# The one problem a re-import can cure: the providers step may have created the vendor since.
CURABLE_PROBLEMS = frozenset({"vendor_unknown"})
BULK_RETRY_LIMIT = 500
PROBLEM_STEP_STATUSES = (StepRun.Status.FAILED,)


# --- who may do what ---------------------------------------------------------

def _in_group(user, name: str) -> bool:
    # Cached per request object: templates and views ask more than once.
    cache = user.__dict__.setdefault("_sageconnect_groups", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True)) if user.is_authenticated else set()
        user.__dict__["_sageconnect_groups"] = cache
    return name in cache


def is_admin(user) -> bool:
    return bool(user.is_authenticated and user.is_active and (user.is_superuser or _in_group(user, ADMINS_GROUP)))


def is_staff_member(user) -> bool:
    return bool(user.is_authenticated and user.is_active
                and (user.is_staff or is_admin(user) or _in_group(user, STAFF_GROUP)))


def ensure_access_groups() -> None:
    """Create the two groups people are put in; cheap and safe to call again."""
    for name in (ADMINS_GROUP, STAFF_GROUP):
        Group.objects.get_or_create(name=name)


# --- overview ----------------------------------------------------------------

@dataclass
class StepCell:
    step: str
    last: StepRun | None

    @property
    def problem(self) -> bool:
        return self.last is not None and self.last.status in PROBLEM_STEP_STATUSES


@dataclass
class TenantRow:
    tenant: Tenant
    next_run: dt.datetime | None
    last_run: SyncRun | None
    cells: list[StepCell] = field(default_factory=list)

    @property
    def problem(self) -> bool:
        failed_run = self.last_run is not None and self.last_run.status in (SyncRun.Status.FAILED,
                                                                              SyncRun.Status.PARTIAL)
        return failed_run or any(cell.problem for cell in self.cells)


def _latest_step_runs(tenant_ids: list[int]) -> dict[tuple[int, str], StepRun]:
    latest_ids = (StepRun.objects.filter(run__tenant_id__in=tenant_ids, run__dry_run=False)
                  .values("run__tenant_id", "step").annotate(last_id=Max("id")).values_list("last_id", flat=True))
    step_runs = StepRun.objects.filter(id__in=list(latest_ids)).select_related("run")
    return {(s.run.tenant_id, s.step): s for s in step_runs}


def _latest_runs(tenant_ids: list[int]) -> dict[int, SyncRun]:
    latest_ids = (SyncRun.objects.filter(tenant_id__in=tenant_ids, dry_run=False)
                  .values("tenant_id").annotate(last_id=Max("id")).values_list("last_id", flat=True))
    return {run.tenant_id: run for run in SyncRun.objects.filter(id__in=list(latest_ids))}


def _next_runs(tenants: Iterable[Tenant]) -> dict[int, dt.datetime | None]:
    names = {schedule_name(t): t.pk for t in tenants}
    schedules = Schedule.objects.filter(name__in=list(names)).values_list("name", "next_run")
    return {names[name]: next_run for name, next_run in schedules}


def overview_rows() -> list[TenantRow]:
    """One row per tenant, problems first; four queries whatever the count."""
    tenants = list(Tenant.objects.all())
    ids = [t.pk for t in tenants]
    step_runs, runs, next_runs = _latest_step_runs(ids), _latest_runs(ids), _next_runs(tenants)
    rows = [
        TenantRow(tenant=t, next_run=next_runs.get(t.pk), last_run=runs.get(t.pk),
                  cells=[StepCell(step, step_runs.get((t.pk, step))) for step in STEP_NAMES])
        for t in tenants
    ]
    rows.sort(key=lambda row: (not row.problem, row.tenant.code))
    return rows


def tenant_status(rows: list[TenantRow]) -> list[dict[str, Any]]:
    """/api/status: the overview as JSON."""
    return [{
        "tenant": row.tenant.code,
        "active": row.tenant.active,
        "paused": row.tenant.paused,
        "problem": row.problem,
        "next_run": _iso(row.next_run),
        "last_run": None if row.last_run is None else {
            "id": row.last_run.pk, "status": row.last_run.status, "started": _iso(row.last_run.started),
            "finished": _iso(row.last_run.finished),
        },
        "steps": {cell.step: None if cell.last is None else {
            "status": cell.last.status, "started": _iso(cell.last.started), "duration": cell.last.duration,
            "created": cell.last.created_count, "updated": cell.last.updated_count,
            "skipped": cell.last.skipped_count, "failed": cell.last.failed_count,
        } for cell in row.cells},
    } for row in rows]


def stats(now: dt.datetime | None = None) -> dict[str, Any]:
    """/api/stats: counts people watch."""
    now = now or timezone.now()
    cfdis = dict(Cfdi.objects.values_list("status").annotate(n=Count("id")).order_by())
    payments = dict(Payment.objects.values_list("state").annotate(n=Count("id")).order_by())
    runs = dict(SyncRun.objects.filter(started__gte=now - dt.timedelta(hours=24))
                .values_list("status").annotate(n=Count("id")).order_by())
    return {"cfdis_by_status": cfdis, "payments_by_state": payments, "runs_last_24h_by_status": runs}


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# --- filters -----------------------------------------------------------------

def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, start + dt.timedelta(days=1)


def page_of(queryset: QuerySet, number: str | None) -> Page:
    return Paginator(queryset, PAGE_SIZE).get_page(number)


def filtered_runs(params: Mapping[str, str]) -> QuerySet[SyncRun]:
    runs = SyncRun.objects.select_related("tenant")
    if params.get("tenant"):
        runs = runs.filter(tenant__code=params["tenant"])
    if params.get("status"):
        runs = runs.filter(status=params["status"])
    if params.get("step"):
        runs = runs.filter(steps__step=params["step"]).distinct()
    day = _date(params.get("date"))
    if day:
        start, end = _day_bounds(day)
        runs = runs.filter(started__gte=start, started__lt=end)
    return runs.order_by("-started", "-id")


def with_seconds(runs: Iterable[SyncRun]) -> list[SyncRun]:
    """The runs, each with `seconds` it took (None while running)."""
    runs = list(runs)
    for run in runs:
        run.seconds = (run.finished - run.started).total_seconds() if run.finished else None
    return runs


def run_detail(run_id: int) -> tuple[SyncRun, list[StepRun], list[RecordOutcome]]:
    run = SyncRun.objects.select_related("tenant").get(pk=run_id)
    steps = list(run.steps.order_by("id"))
    failed = list(run.outcomes.filter(status=RecordOutcome.Status.FAILED).order_by("step", "kind", "sage_key"))
    return run, steps, failed


def filtered_cfdis(params: Mapping[str, str]) -> QuerySet[Cfdi]:
    cfdis = Cfdi.objects.select_related("tenant").defer("portal_metadata", "problems")
    if params.get("tenant"):
        cfdis = cfdis.filter(tenant__code=params["tenant"])
    if params.get("kind"):
        cfdis = cfdis.filter(kind=params["kind"])
    if params.get("status"):
        cfdis = cfdis.filter(status=params["status"])
    if params.get("issuer"):
        cfdis = cfdis.filter(issuer_rfc__iexact=params["issuer"].strip())
    if params.get("uuid"):
        cfdis = cfdis.filter(uuid__icontains=params["uuid"].strip())
    date_from, date_to = _date(params.get("from")), _date(params.get("to"))
    if date_from:
        cfdis = cfdis.filter(issued__gte=_day_bounds(date_from)[0])
    if date_to:
        cfdis = cfdis.filter(issued__lt=_day_bounds(date_to)[1])
    return cfdis.order_by("-issued", "-id")


def can_retry(cfdi: Cfdi) -> bool:
    """Whether a re-import can help: an invoice or credit note, not imported, no problem but a missing vendor."""
    return (cfdi.kind in IMPORTED_KINDS and cfdi.status in RETRYABLE_CFDI_STATUSES
            and all(problem.get("code") in CURABLE_PROBLEMS for problem in cfdi.problems))


def retryable(cfdis: QuerySet[Cfdi]) -> list[tuple[int, str]]:
    """(tenant id, UUID) of the CFDIs of a selection a re-import can help, at most BULK_RETRY_LIMIT."""
    chosen = cfdis.filter(status__in=RETRYABLE_CFDI_STATUSES, kind__in=IMPORTED_KINDS).defer(None)
    found: list[tuple[int, str]] = []
    for cfdi in chosen.only("tenant_id", "uuid", "kind", "status", "problems").iterator(chunk_size=500):
        if can_retry(cfdi):
            found.append((cfdi.tenant_id, cfdi.uuid))
            if len(found) == BULK_RETRY_LIMIT:
                break
    return found


@dataclass
class CfdiDetail:
    cfdi: Cfdi
    attempts: list
    payments: list[Payment]


def cfdi_detail(cfdi_id: int) -> CfdiDetail:
    cfdi = Cfdi.objects.select_related("tenant").get(pk=cfdi_id)
    attempts = list(cfdi.import_attempts.order_by("-attempted_at", "-id"))
    payment_ids = PaymentLine.objects.filter(payment__tenant_id=cfdi.tenant_id, cfdi_uuid__iexact=cfdi.uuid)
    payments = list(Payment.objects.filter(id__in=payment_ids.values("payment_id")).order_by("-date"))
    return CfdiDetail(cfdi=cfdi, attempts=attempts, payments=payments)


# --- payments and purchase orders --------------------------------------------

def filtered_payments(params: Mapping[str, str]) -> QuerySet[Payment]:
    payments = Payment.objects.select_related("tenant")
    if params.get("tenant"):
        payments = payments.filter(tenant__code=params["tenant"])
    if params.get("state"):
        payments = payments.filter(state=params["state"])
    return payments.order_by("-date", "docnbr")


@dataclass
class PaymentRow:
    payment: Payment
    lines: list[PaymentLine]
    waiting_for: list[str]
    complement_todo: str = ""  # what staff are to enter in Sage (sync.steps.payment_complement)


def payment_rows(payments: Iterable[Payment]) -> list[PaymentRow]:
    """The page's payments with their lines and, when waiting, the UUIDs not yet in Sage."""
    payments = list(payments)
    lines_by_payment: dict[int, list[PaymentLine]] = defaultdict(list)
    for line in PaymentLine.objects.filter(payment__in=payments).order_by("payment_id", "line"):
        lines_by_payment[line.payment_id].append(line)
    waiting = [p for p in payments if p.state == Payment.State.WAITING]
    wanted = {(p.tenant_id, line.cfdi_uuid.upper()) for p in waiting for line in lines_by_payment[p.pk]
              if line.cfdi_uuid}
    imported = _imported_uuids(wanted)
    todo = _complement_todos(payments)
    rows = []
    for payment in payments:
        lines = lines_by_payment[payment.pk]
        waiting_for = [] if payment.state != Payment.State.WAITING else sorted({
            line.cfdi_uuid.upper() for line in lines
            if not line.cfdi_uuid or (payment.tenant_id, line.cfdi_uuid.upper()) not in imported})
        rows.append(PaymentRow(payment, lines, waiting_for, todo.get((payment.tenant_id, payment.docnbr), "")))
    return rows


def _complement_todos(payments: list[Payment]) -> dict[tuple[int, str], str]:
    """(tenant, DOCNBR) → the payment complement staff are asked to enter in Sage, in one query."""
    if not payments:
        return {}
    query = Q()
    for tenant_id in {p.tenant_id for p in payments}:
        query |= Q(tenant_id=tenant_id, sage_key__in=[p.docnbr for p in payments if p.tenant_id == tenant_id])
    outcomes = RecordOutcome.objects.filter(query, kind=SyncLink.Kind.COMPLEMENT, action="record",
                                            status=RecordOutcome.Status.FAILED)
    return {(o.tenant_id, o.sage_key): o.last_error for o in outcomes.only("tenant_id", "sage_key", "last_error")}


def _imported_uuids(wanted: set[tuple[int, str]]) -> set[tuple[int, str]]:
    if not wanted:
        return set()
    query = Q()
    for tenant_id in {tenant_id for tenant_id, _ in wanted}:
        query |= Q(tenant_id=tenant_id, uuid__in=[u for t, u in wanted if t == tenant_id])
    return set(Cfdi.objects.filter(query, status=CfdiStatus.IMPORTED).values_list("tenant_id", "uuid"))


def filtered_po_links(params: Mapping[str, str]) -> QuerySet[SyncLink]:
    links = SyncLink.objects.filter(kind__in=[SyncLink.Kind.PO, SyncLink.Kind.PO_STATUS]).select_related("tenant")
    if params.get("tenant"):
        links = links.filter(tenant__code=params["tenant"])
    if params.get("state"):
        links = links.filter(state=params["state"])
    if params.get("po"):
        links = links.filter(sage_key__icontains=params["po"].strip())
    return links.order_by("tenant__code", "sage_key", "kind")


def po_rows(links: Iterable[SyncLink]) -> list[tuple[SyncLink, str]]:
    """The page's PO links, each with the error of its last failed outcome ('' when none)."""
    links = list(links)
    failed = RecordOutcome.objects.filter(kind__in=[SyncLink.Kind.PO, SyncLink.Kind.PO_STATUS],
                                          sage_key__in={link.sage_key for link in links},
                                          status=RecordOutcome.Status.FAILED).order_by("updated")
    errors = {(o.tenant_id, o.kind, o.sage_key): o.last_error for o in failed}
    return [(link, errors.get((link.tenant_id, link.kind, link.sage_key), "")) for link in links]
