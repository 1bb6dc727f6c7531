"""The queries behind the staff pages and the JSON status.

Views stay thin: each page calls one function here, and every function runs a
fixed number of queries whatever the number of rows (tests/ui/test_query_counts.py).
"""
from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.db.models import Avg, Count, Max, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_q.models import Schedule

from cfdi.models import Cfdi, CfdiStatus, InvoiceMatch, PaidDocument
from sync.health import TenantHealth, judge_tenants, latest_runs
from sync.local_time import zone_of
from sync.models import Outbound, OutboundAttempt, Payment, PaymentLine, RetryRequest, StepRun, SyncRun
from sync.scheduling import schedule_name
from tenants.models import SECRET_FIELDS, STEP_NAMES, Tenant

PAGE_SIZE = 50
# A CFDI in one of these states may be worth a re-import (see can_retry); an imported one is not.
RETRYABLE_CFDI_STATUSES = (CfdiStatus.FAILED, CfdiStatus.NEEDS_ATTENTION, CfdiStatus.VALID, CfdiStatus.INVALID)
IMPORTED_KINDS = ("I", "E")
# The one problem a re-import can cure: the providers step may have created the vendor since.
CURABLE_PROBLEMS = frozenset({"vendor_unknown"})
BULK_RETRY_LIMIT = 500
PROBLEM_STEP_STATUSES = (StepRun.Status.FAILED,)
# The charts look this many days back, today included.
CHART_DAYS = 14
# A list shows each row's tenant by code and zone: no need to decrypt its secrets once per row.
TENANT_SECRETS = [f"tenant__{name}" for name in SECRET_FIELDS]
RECORD_TENANT_SECRETS = [f"record__tenant__{name}" for name in SECRET_FIELDS]
# A run's history rows that say something went wrong.
FAILED_OUTCOMES = (OutboundAttempt.Outcome.FAILED, OutboundAttempt.Outcome.REFUSED,
                   OutboundAttempt.Outcome.NEEDS_PERSON, OutboundAttempt.Outcome.UNANSWERED)
ATTEMPTS_SHOWN = 50
MATCHES_SHOWN = 20
TOUCHES_MAX = 500
RETRIES_SHOWN_DAYS = 7
RETRIES_READ = 500


# --- what needs a person ----------------------------------------------------
#
# The one place that says what waits for a person: the overview's counts and
# the "needing a person" chart both come from needing_a_person_counts(), and
# read the outbound records (sync.models.Outbound): per kind, those that need a
# person (attention set) and those that wait for another record or fact.

WAITING_PREFIX = "waiting_"
NEEDING_LABELS = {
    Outbound.Kind.VENDOR: (_("vendor needing a person"), _("vendors needing a person")),
    Outbound.Kind.PO: (_("purchase order needing a person"), _("purchase orders needing a person")),
    Outbound.Kind.PO_STATUS: (_("purchase order status needing a person"),
                              _("purchase order statuses needing a person")),
    Outbound.Kind.PAYMENT: (_("payment needing a person"), _("payments needing a person")),
    Outbound.Kind.CFDI_IMPORT: (_("invoice needing a person"), _("invoices needing a person")),
    Outbound.Kind.CFDI_STATUS: (_("CFDI status needing a person"), _("CFDI statuses needing a person")),
    Outbound.Kind.COMPLEMENT: (_("payment complement to enter"), _("payment complements to enter")),
    WAITING_PREFIX + Outbound.Kind.VENDOR: (_("vendor waiting"), _("vendors waiting")),
    WAITING_PREFIX + Outbound.Kind.PO: (_("purchase order waiting"), _("purchase orders waiting")),
    WAITING_PREFIX + Outbound.Kind.PO_STATUS: (_("purchase order waiting to close"),
                                               _("purchase orders waiting to close")),
    WAITING_PREFIX + Outbound.Kind.PAYMENT: (_("payment waiting"), _("payments waiting")),
    WAITING_PREFIX + Outbound.Kind.CFDI_IMPORT: (_("invoice waiting"), _("invoices waiting")),
    WAITING_PREFIX + Outbound.Kind.CFDI_STATUS: (_("CFDI status waiting"), _("CFDI statuses waiting")),
    WAITING_PREFIX + Outbound.Kind.COMPLEMENT: (_("payment complement waiting"), _("payment complements waiting")),
}


def needing_label(kind: str, count: int = 2) -> str:
    """What `count` records of a kind that needs a person are called: "1 payment waiting", "2 payments waiting"."""
    singular, plural = NEEDING_LABELS.get(kind, (kind, kind))
    return str(singular if count == 1 else plural)


@dataclass
class Needing:
    """What waits for a person: now per tenant, and per day of the window (all tenants asked for)."""

    days: list[dt.date]
    now: dict[int, Counter]
    by_day: list[Counter]

    def total_now(self) -> Counter:
        total: Counter = Counter()
        for counts in self.now.values():
            total.update(counts)
        return total


def _day_window(days: int, zone: dt.tzinfo, today: dt.date | None) -> list[dt.date]:
    today = today or timezone.localdate(timezone=zone)
    return [today - dt.timedelta(days=back) for back in range(days - 1, -1, -1)]


def _needing_rows(tenant_ids: list[int] | None, zone: dt.tzinfo) -> Iterable[tuple[int, str, dt.date, int]]:
    """(tenant id, kind, day it began waiting, how many): one grouped query over the outbound records."""
    records = Outbound.objects.filter(Q(state=Outbound.State.WAITING) | ~Q(attention=""))
    if tenant_ids is not None:
        records = records.filter(tenant_id__in=tenant_ids)
    grouped = (records.annotate(day=TruncDate(Coalesce("since", "updated"), tzinfo=zone))
               .values("tenant_id", "kind", "attention", "day").annotate(n=Count("id"))
               .values_list("tenant_id", "kind", "attention", "day", "n").order_by())
    for tenant_id, kind, attention, day, n in grouped:
        yield tenant_id, kind if attention else WAITING_PREFIX + kind, day, n


def needing_a_person_counts(tenant_ids: list[int] | None = None, *, days: int = CHART_DAYS,
                            zone: dt.tzinfo | None = None, today: dt.date | None = None) -> Needing:
    """The records that need a person, by tenant and kind now, and over the last `days` days.

    The past days count the records open now that were already waiting then
    (by when each last changed): records resolved since are not counted back.
    """
    zone = zone or timezone.get_current_timezone()
    window = _day_window(days, zone, today)
    now: dict[int, Counter] = defaultdict(Counter)
    by_day: list[Counter] = [Counter() for _day in window]
    for tenant_id, kind, began, n in _needing_rows(tenant_ids, zone):
        now[tenant_id][kind] += n
        for index, day in enumerate(window):
            if began <= day:
                by_day[index][kind] += n
    return Needing(days=window, now=now, by_day=by_day)


@dataclass
class NeedItem:
    kind: str
    label: str
    count: int
    url: str


def needing_link(kind: str, tenant_code: str) -> str:
    """The attention page, filtered to the records of one kind that need a person (or wait)."""
    waiting = kind.startswith(WAITING_PREFIX)
    query = {"tenant": tenant_code, "kind": kind.removeprefix(WAITING_PREFIX)}
    if waiting:
        query["show"] = "waiting"
    return f"{reverse('attention-list')}?{urlencode(query)}"


def need_items(counts: Counter, tenant_code: str) -> list[NeedItem]:
    return [NeedItem(kind, needing_label(kind, n), n, needing_link(kind, tenant_code))
            for kind, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])) if n]


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
    health: TenantHealth
    cells: list[StepCell] = field(default_factory=list)
    needs: list[NeedItem] = field(default_factory=list)
    waiting_reasons: list[tuple[str, int]] = field(default_factory=list)
    last_success: dt.datetime | None = None

    @property
    def problem(self) -> bool:
        failed_run = self.last_run is not None and self.last_run.status in (
            SyncRun.Status.FAILED, SyncRun.Status.PARTIAL, SyncRun.Status.INTERRUPTED)
        return self.health.behind or failed_run or bool(self.needs) or any(cell.problem for cell in self.cells)


def _latest_step_runs(tenant_ids: list[int]) -> dict[tuple[int, str], StepRun]:
    latest_ids = (StepRun.objects.filter(run__tenant_id__in=tenant_ids, run__dry_run=False)
                  .values("run__tenant_id", "step").annotate(last_id=Max("id")).values_list("last_id", flat=True))
    step_runs = StepRun.objects.filter(id__in=list(latest_ids)).select_related("run").defer("log")
    return {(s.run.tenant_id, s.step): s for s in step_runs}


def _last_successes(tenant_ids: list[int]) -> dict[int, dt.datetime]:
    return dict(SyncRun.objects.filter(tenant_id__in=tenant_ids, dry_run=False, status=SyncRun.Status.SUCCEEDED)
                .values("tenant_id").annotate(last=Max("finished")).values_list("tenant_id", "last").order_by())


def _waiting_reasons(tenant_ids: list[int]) -> dict[int, list[tuple[str, int]]]:
    """Why each tenant's payments wait (their outbound records' reasons), most frequent first."""
    found: dict[int, list[tuple[str, int]]] = defaultdict(list)
    rows = (Outbound.objects.filter(tenant_id__in=tenant_ids, kind=Outbound.Kind.PAYMENT, state=Outbound.State.WAITING)
            .values("tenant_id", "reason").annotate(n=Count("id"))
            .values_list("tenant_id", "reason", "n").order_by("tenant_id", "-n", "reason"))
    for tenant_id, reason, n in rows:
        found[tenant_id].append((reason, n))
    return found


def _next_runs(tenants: Iterable[Tenant]) -> dict[int, dt.datetime | None]:
    names = {schedule_name(t): t.pk for t in tenants}
    schedules = Schedule.objects.filter(name__in=list(names)).values_list("name", "next_run")
    return {names[name]: next_run for name, next_run in schedules}


def overview_rows(tenants: Iterable[Tenant] | None = None, *, waiting: bool = True) -> list[TenantRow]:
    """One row per tenant, problems first; a fixed number of queries whatever the count.

    `waiting=False` leaves out what waits for a person (the scheduler does not show it).
    """
    tenants = list(Tenant.objects.defer(*SECRET_FIELDS) if tenants is None else tenants)
    ids = [t.pk for t in tenants]
    step_runs, runs, next_runs = _latest_step_runs(ids), latest_runs(ids), _next_runs(tenants)
    health = judge_tenants(tenants, runs)
    needing = needing_a_person_counts(ids, days=1).now if waiting else {}
    successes, reasons = (_last_successes(ids), _waiting_reasons(ids)) if waiting else ({}, {})
    rows = [
        TenantRow(tenant=t, next_run=next_runs.get(t.pk), last_run=runs.get(t.pk),
                  cells=[StepCell(step, step_runs.get((t.pk, step))) for step in STEP_NAMES],
                  health=health[t.pk], needs=need_items(needing.get(t.pk, Counter()), t.code),
                  waiting_reasons=reasons.get(t.pk, []), last_success=successes.get(t.pk))
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
        **row.health.as_json(),
        "waiting_for_a_person": {item.kind: item.count for item in row.needs},
        "last_success": _iso(row.last_success),
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
    originals = Cfdi.objects.aggregate(count=Count("id"), size=Sum("size"))
    needing = dict(Outbound.objects.exclude(attention="").values_list("kind").annotate(n=Count("id")).order_by())
    return {"cfdis_by_status": cfdis, "payments_by_state": payments, "runs_last_24h_by_status": runs,
            "records_needing_a_person_by_kind": needing,
            # Kept five years (SAT's rule, see README "Operations"); never pruned with the run history.
            "cfdi_originals": {"count": originals["count"], "bytes": originals["size"] or 0}}


# --- charts ------------------------------------------------------------------

@dataclass
class ChartData:
    """The last days of runs, of what needs a person, and of step durations; days in `zone`."""

    days: list[dt.date]
    zone: dt.tzinfo
    runs: list[Counter]
    needing: list[Counter]
    durations: dict[str, list[float | None]]
    longest: dict[str, float]


def chart_data(tenant: Tenant | None = None, *, days: int = CHART_DAYS, today: dt.date | None = None) -> ChartData:
    """For one tenant (in its zone) or for all (in the site's); five grouped queries."""
    zone = zone_of(tenant) if tenant is not None else timezone.get_current_timezone()
    window = _day_window(days, zone, today)
    start = dt.datetime.combine(window[0], dt.time.min, tzinfo=zone)
    runs = SyncRun.objects.filter(dry_run=False, started__gte=start)
    steps = StepRun.objects.filter(run__dry_run=False, started__gte=start, duration__isnull=False)
    if tenant is not None:
        runs, steps = runs.filter(tenant=tenant), steps.filter(run__tenant=tenant)
    position = {day: index for index, day in enumerate(window)}

    per_day: list[Counter] = [Counter() for _day in window]
    for day, status, n in (runs.annotate(day=TruncDate("started", tzinfo=zone)).values("day", "status")
                           .annotate(n=Count("id")).values_list("day", "status", "n").order_by()):
        if day in position:
            per_day[position[day]][status] += n

    durations: dict[str, list[float | None]] = {step: [None] * len(window) for step in STEP_NAMES}
    longest: dict[str, float] = {}
    for step, day, mean, top in (steps.annotate(day=TruncDate("started", tzinfo=zone)).values("step", "day")
                                 .annotate(mean=Avg("duration"), top=Max("duration"))
                                 .values_list("step", "day", "mean", "top").order_by()):
        if day in position and step in durations:
            durations[step][position[day]] = mean
            longest[step] = max(longest.get(step, 0.0), top)

    needing = needing_a_person_counts(None if tenant is None else [tenant.pk], days=days, zone=zone,
                                      today=window[-1])
    return ChartData(days=window, zone=zone, runs=per_day, needing=needing.by_day, durations=durations,
                     longest=longest)


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
    runs = SyncRun.objects.select_related("tenant").defer(*TENANT_SECRETS)
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


def run_detail(run_id: int) -> tuple[SyncRun, list[StepRun], list[tuple[OutboundAttempt, str]]]:
    """The run, its steps, and what failed in it (its records' history rows) each with the page of its record."""
    run = SyncRun.objects.select_related("tenant").get(pk=run_id)
    steps = list(run.steps.order_by("id"))
    failed = (OutboundAttempt.objects.filter(run=run, outcome__in=FAILED_OUTCOMES)
              .select_related("record", "record__tenant").defer(*RECORD_TENANT_SECRETS)
              .order_by("step", "record__kind", "record__key", "-at"))
    return run, steps, list(zip(failed, record_urls([attempt.record for attempt in failed])))


def filtered_cfdis(params: Mapping[str, str]) -> QuerySet[Cfdi]:
    cfdis = Cfdi.objects.select_related("tenant").defer("portal_metadata", "problems", *TENANT_SECRETS)
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
    if params.get("batch", "").strip().isdigit():
        cfdis = cfdis.filter(sage_batch=int(params["batch"]))
    if params.get("po"):
        # The portal names a CFDI's POs in its metadata (purchase_orders[].purchase_order_external_id).
        cfdis = cfdis.filter(portal_metadata__icontains=f'"{params["po"].strip()}"')
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


def retryable(cfdis: QuerySet[Cfdi]) -> list[Cfdi]:
    """The CFDIs of a selection a re-import can help, at most BULK_RETRY_LIMIT."""
    chosen = cfdis.filter(status__in=RETRYABLE_CFDI_STATUSES, kind__in=IMPORTED_KINDS).defer(None)
    found: list[Cfdi] = []
    for cfdi in chosen.only("id", "tenant_id", "uuid", "kind", "status", "problems").iterator(chunk_size=500):
        if can_retry(cfdi):
            found.append(cfdi)
            if len(found) == BULK_RETRY_LIMIT:
                break
    return found


@dataclass
class Touch:
    """One step of one run that last did something to a record."""

    run_id: int
    step: str
    kind: str
    action: str
    status: str
    updated: dt.datetime
    portal_id: str = ""


def _touches(tenant_kind_keys: Iterable[tuple[int, str, str]], by_portal_id: Iterable[tuple[int, str, str]] = ()
             ) -> dict[tuple[int, str, str], list[Touch]]:
    """The runs that last touched each (tenant, kind, key) — or (tenant, kind, outside id): one query over the
    records' history."""
    wanted, by_portal = set(tenant_kind_keys), set(by_portal_id)
    if not wanted and not by_portal:
        return {}
    query = Q()
    for field_name, keys in (("record__key", wanted), ("record__outside_id", by_portal)):
        for tenant_id, kind in {(t, k) for t, k, _key in keys}:
            matching = [key for t, k, key in keys if (t, k) == (tenant_id, kind)]
            query |= Q(record__tenant_id=tenant_id, record__kind=kind, **{f"{field_name}__in": matching})
    found: dict[tuple[int, str, str], list[Touch]] = defaultdict(list)
    rows = (OutboundAttempt.objects.filter(query, run__isnull=False).order_by("-at", "-id")
            .values_list("record__tenant_id", "record__kind", "record__key", "record__outside_id", "run_id", "step",
                         "action", "outcome", "at")[:TOUCHES_MAX])
    for tenant_id, kind, key, outside_id, run_id, step, action, outcome, at in rows:
        touch = Touch(run_id, step, kind, action, outcome, at, outside_id)
        if (tenant_id, kind, key) in wanted:
            found[(tenant_id, kind, key)].append(touch)
        if (tenant_id, kind, outside_id) in by_portal:
            found[(tenant_id, kind, outside_id)].append(touch)
    return found


def _document_numbers(invoice_number: str) -> Q:
    """The CFDIs whose series-folio (or folio alone) is this Sage invoice number (sync.cfdi_import.document_number)."""
    query = Q(series="", folio=invoice_number)
    series, dash, folio = invoice_number.rpartition("-")
    if dash and series and folio:
        query |= Q(series=series, folio=folio)
    return query


def _same_vendor(cfdi: Cfdi, vendor: str) -> bool:
    known = str((cfdi.portal_metadata or {}).get("provider_external_id") or "").strip()
    return not known or known == vendor.strip()


def po_numbers(cfdi: Cfdi) -> list[str]:
    """The POs the portal says a CFDI belongs to."""
    numbers = []
    for order in (cfdi.portal_metadata or {}).get("purchase_orders") or []:
        if isinstance(order, dict):
            number = str(order.get("purchase_order_external_id") or order.get("external_id") or "").strip()
            if number and number not in numbers:
                numbers.append(number)
    return numbers


@dataclass
class Related:
    """A CFDI linked from another record's page: its id, UUID and status."""

    cfdi_id: int
    uuid: str
    status: str
    label: str = ""


@dataclass
class CfdiDetail:
    cfdi: Cfdi
    attempts: list[OutboundAttempt]
    payments: list[Payment]
    complements: list[Related] = field(default_factory=list)
    pays: list[Related] = field(default_factory=list)
    pos: list[str] = field(default_factory=list)
    touches: list[Touch] = field(default_factory=list)
    record: Outbound | None = None            # its import record: what became of it, what a person is to do
    retry: RetryRequest | None = None         # the last Retry asked for it, and what became of that
    matches: list[InvoiceMatch] = field(default_factory=list)  # Sage documents keyed by hand that may be it


def cfdi_detail(cfdi_id: int) -> CfdiDetail:
    """The CFDI with every record it is linked to: payments, complements, invoices it pays, POs, runs."""
    cfdi = Cfdi.objects.select_related("tenant").get(pk=cfdi_id)
    record = Outbound.objects.filter(tenant_id=cfdi.tenant_id, kind=Outbound.Kind.CFDI_IMPORT, key=cfdi.uuid).first()
    attempts = list(OutboundAttempt.objects.filter(
        record__tenant_id=cfdi.tenant_id, record__kind__in=(Outbound.Kind.CFDI_IMPORT, Outbound.Kind.CFDI_STATUS),
        record__key=cfdi.uuid).select_related("record").order_by("-at", "-id")[:ATTEMPTS_SHOWN])
    payments = _payments_of(cfdi)
    reasons = _records_of({(cfdi.tenant_id, Outbound.Kind.PAYMENT, p.docnbr) for p in payments})
    for payment in payments:
        # What a waiting payment waits for lives on its outbound record; the page shows it beside the state.
        own = reasons.get((cfdi.tenant_id, Outbound.Kind.PAYMENT, payment.docnbr))
        setattr(payment, "wait_reason", own.reason if own and payment.state == Payment.State.WAITING else "")
    settled_by = PaidDocument.objects.filter(payment__tenant_id=cfdi.tenant_id, invoice_uuid__iexact=cfdi.uuid)
    complements = [Related(d.payment_id, d.payment.uuid, d.payment.status) for d in settled_by
                   .select_related("payment").only("payment_id", "payment__uuid", "payment__status")]
    pays = _paid_invoices(cfdi) if cfdi.kind == "P" else []
    own_kinds = (Outbound.Kind.CFDI_IMPORT, Outbound.Kind.CFDI_STATUS)
    touched = _touches({(cfdi.tenant_id, kind, cfdi.uuid) for kind in own_kinds},
                       {(cfdi.tenant_id, Outbound.Kind.COMPLEMENT, cfdi.uuid)})
    touches = sorted((t for found in touched.values() for t in found), key=lambda t: t.updated, reverse=True)
    retry = latest_retries([(cfdi.tenant_id, Outbound.Kind.CFDI_IMPORT, cfdi.uuid)]).get(
        (cfdi.tenant_id, Outbound.Kind.CFDI_IMPORT, cfdi.uuid))
    matches = list(InvoiceMatch.objects.filter(cfdi=cfdi).order_by("-score", "id")
                   .only("id", "cfdi_id", "state", "vendor", "document_number", "score")[:MATCHES_SHOWN])
    return CfdiDetail(cfdi=cfdi, attempts=attempts, payments=payments, complements=complements, pays=pays,
                      pos=po_numbers(cfdi), touches=touches, record=record, retry=retry, matches=matches)


def _payments_of(cfdi: Cfdi) -> list[Payment]:
    """Sage payments that pay this CFDI: by its UUID, or by its document number where Sage has no UUID."""
    lines = PaymentLine.objects.filter(payment__tenant_id=cfdi.tenant_id)
    matches = Q(cfdi_uuid__iexact=cfdi.uuid)
    if cfdi.document_number:
        matches |= Q(cfdi_uuid="", invoice_number=cfdi.document_number)
    payments = (Payment.objects.filter(id__in=lines.filter(matches).values("payment_id"))
                .prefetch_related("lines").order_by("-date"))

    def pays_by_uuid(payment: Payment) -> bool:
        return any(line.cfdi_uuid.upper() == cfdi.uuid for line in payment.lines.all())

    # A match by number alone must be the same supplier's invoice.
    return [payment for payment in payments if pays_by_uuid(payment) or _same_vendor(cfdi, payment.vendor)]


def _paid_invoices(cfdi: Cfdi) -> list[Related]:
    """The invoices a payment complement settles, each linked when we hold it."""
    wanted = [d.invoice_uuid.upper() for d in cfdi.paid_documents.order_by("id")]
    held = {uuid.upper(): (pk, status) for pk, uuid, status in Cfdi.objects.filter(
        tenant_id=cfdi.tenant_id, uuid__in=wanted).values_list("id", "uuid", "status")}
    return [Related(held[uuid][0], uuid, held[uuid][1]) if uuid in held else Related(0, uuid, "")
            for uuid in dict.fromkeys(wanted)]


# --- payments and purchase orders --------------------------------------------

def filtered_payments(params: Mapping[str, str]) -> QuerySet[Payment]:
    payments = Payment.objects.select_related("tenant").defer(*TENANT_SECRETS)
    if params.get("tenant"):
        payments = payments.filter(tenant__code=params["tenant"])
    if params.get("state"):
        payments = payments.filter(state=params["state"])
    if params.get("docnbr"):
        payments = payments.filter(docnbr__icontains=params["docnbr"].strip())
    return payments.order_by("-date", "docnbr")


@dataclass
class Waiting:
    """An invoice a waiting payment waits for, and the CFDI we hold for it (whose status says why)."""

    uuid: str
    invoice_number: str
    cfdi: Related | None


@dataclass
class PaidLine:
    """A payment line as the page shows it: what Sage says the payment paid, and the CFDI we hold for it."""

    invoice_number: str
    cfdi_uuid: str
    amount: Decimal
    cfdi: Related | None


@dataclass
class PaymentRow:
    payment: Payment
    lines: list[PaidLine]
    waiting_for: list[Waiting]
    touches: list[Touch] = field(default_factory=list)
    complement_todo: str = ""  # what staff are to enter in Sage (sync.steps.payment_complement)
    reason: str = ""           # why it waits, or what a person is to do (its outbound record)


def payment_rows(payments: Iterable[Payment]) -> list[PaymentRow]:
    """The page's payments with their lines, each line's CFDI, what a waiting one waits for, the runs that
    last touched it, and the complements staff are to enter; five queries whatever the number of rows."""
    payments = list(payments)
    lines_by_payment: dict[int, list[PaymentLine]] = defaultdict(list)
    for line in PaymentLine.objects.filter(payment__in=payments).order_by("payment_id", "line"):
        lines_by_payment[line.payment_id].append(line)
    vendors = {p.pk: (p.tenant_id, p.vendor) for p in payments}
    held = _cfdis_for_lines([(vendors[pk], line) for pk, lines in lines_by_payment.items() for line in lines])
    touched = _touches({(p.tenant_id, kind, p.docnbr) for p in payments
                        for kind in (Outbound.Kind.PAYMENT, Outbound.Kind.COMPLEMENT)})
    records = _records_of({(p.tenant_id, kind, p.docnbr) for p in payments
                           for kind in (Outbound.Kind.PAYMENT, Outbound.Kind.COMPLEMENT)})
    rows = []
    for payment in payments:
        lines = [PaidLine(line.invoice_number, line.cfdi_uuid, line.amount, held.get(line.pk))
                 for line in lines_by_payment[payment.pk]]
        waiting_for = [] if payment.state != Payment.State.WAITING else [
            Waiting(line.cfdi_uuid.upper(), line.invoice_number, line.cfdi) for line in lines
            if line.cfdi is None or line.cfdi.status != CfdiStatus.IMPORTED or not line.cfdi_uuid]
        touches = sorted(touched.get((payment.tenant_id, Outbound.Kind.PAYMENT, payment.docnbr), [])
                         + touched.get((payment.tenant_id, Outbound.Kind.COMPLEMENT, payment.docnbr), []),
                         key=lambda t: t.updated, reverse=True)
        complement = records.get((payment.tenant_id, Outbound.Kind.COMPLEMENT, payment.docnbr))
        own = records.get((payment.tenant_id, Outbound.Kind.PAYMENT, payment.docnbr))
        rows.append(PaymentRow(payment, lines, waiting_for, touches,
                               complement.reason if complement is not None and complement.attention else "",
                               own.reason if own is not None else ""))
    return rows


def _records_of(keys: set[tuple[int, str, str]]) -> dict[tuple[int, str, str], Outbound]:
    """The outbound records of (tenant, kind, key), in one query."""
    if not keys:
        return {}
    query = Q()
    for tenant_id, kind in {(t, k) for t, k, _key in keys}:
        query |= Q(tenant_id=tenant_id, kind=kind, key__in=[key for t, k, key in keys if (t, k) == (tenant_id, kind)])
    return {(r.tenant_id, r.kind, r.key): r for r in Outbound.objects.filter(query)}


def _cfdis_for_lines(lines: list[tuple[tuple[int, str], PaymentLine]]) -> dict[int, Related]:
    """The CFDI we hold for each payment line: by UUID, or, where Sage has none, by document number
    and vendor. One query."""
    query = Q(pk__in=[])
    for (tenant_id, _vendor), line in lines:
        if line.cfdi_uuid:
            query |= Q(tenant_id=tenant_id, uuid=line.cfdi_uuid.upper())
        elif line.invoice_number:
            query |= Q(tenant_id=tenant_id) & _document_numbers(line.invoice_number)
    if not lines:
        return {}
    by_uuid: dict[tuple[int, str], Cfdi] = {}
    by_number: dict[tuple[int, str], list[Cfdi]] = defaultdict(list)
    for cfdi in Cfdi.objects.filter(query).only("id", "tenant_id", "uuid", "series", "folio", "status",
                                                "portal_metadata"):
        by_uuid[(cfdi.tenant_id, cfdi.uuid)] = cfdi
        by_number[(cfdi.tenant_id, cfdi.document_number)].append(cfdi)
    found = {}
    for (tenant_id, vendor), line in lines:
        held: Cfdi | None
        if line.cfdi_uuid:
            held = by_uuid.get((tenant_id, line.cfdi_uuid.upper()))
        else:
            held = next((c for c in by_number.get((tenant_id, line.invoice_number), []) if _same_vendor(c, vendor)),
                        None)
        if held is not None:
            found[line.pk] = Related(held.pk, held.uuid, held.status, held.document_number)
    return found


def filtered_po_records(params: Mapping[str, str]) -> QuerySet[Outbound]:
    records = (Outbound.objects.filter(kind__in=[Outbound.Kind.PO, Outbound.Kind.PO_STATUS]).select_related("tenant")
               .defer(*TENANT_SECRETS))
    if params.get("tenant"):
        records = records.filter(tenant__code=params["tenant"])
    if params.get("state"):
        records = records.filter(state=params["state"])
    if params.get("po"):
        records = records.filter(key__icontains=params["po"].strip())
    return records.order_by("tenant__code", "key", "kind")


@dataclass
class PoRow:
    record: Outbound
    touches: list[Touch]


def po_rows(records: Iterable[Outbound]) -> list[PoRow]:
    """The page's PO records, each with the runs that last touched it."""
    records = list(records)
    touched = _touches({(r.tenant_id, r.kind, r.key) for r in records})
    return [PoRow(r, touched.get((r.tenant_id, r.kind, r.key), [])) for r in records]


# --- where a record is shown ----------------------------------------------------------

def record_urls(records: Iterable[Outbound]) -> list[str]:
    """The page of each record ('' when there is none); one query for the CFDIs."""
    records = list(records)
    cfdi_kinds = (Outbound.Kind.CFDI_IMPORT, Outbound.Kind.CFDI_STATUS)
    query = Q(pk__in=[])
    for record in records:
        if record.kind in cfdi_kinds:
            query |= Q(tenant_id=record.tenant_id, uuid=record.key.upper())
    cfdi_ids = dict(((t, u), pk) for pk, t, u in Cfdi.objects.filter(query).values_list("id", "tenant_id", "uuid")) \
        if any(r.kind in cfdi_kinds for r in records) else {}
    urls = []
    for record in records:
        code = record.tenant.code
        if record.kind in cfdi_kinds:
            pk = cfdi_ids.get((record.tenant_id, record.key.upper()))
            urls.append(reverse("cfdi-detail", args=[pk]) if pk else "")
        elif record.kind in (Outbound.Kind.PO, Outbound.Kind.PO_STATUS):
            urls.append(f"{reverse('po-list')}?{urlencode({'tenant': code, 'po': record.key})}")
        elif record.kind in (Outbound.Kind.PAYMENT, Outbound.Kind.COMPLEMENT):
            urls.append(f"{reverse('payment-list')}?{urlencode({'tenant': code, 'docnbr': record.key})}")
        else:
            urls.append("")
    return urls


def latest_retries(keys: Iterable[tuple[int, str, str]]) -> dict[tuple[int, str, str], RetryRequest]:
    """The last Retry asked for each (tenant, kind, key) in the last days, in one query."""
    keys = set(keys or ())
    if not keys:
        return {}
    since = timezone.now() - dt.timedelta(days=RETRIES_SHOWN_DAYS)
    found: dict[tuple[int, str, str], RetryRequest] = {}
    requests = (RetryRequest.objects.filter(tenant_id__in={t for t, _k, _key in keys}, requested_at__gte=since)
                .order_by("-requested_at", "-id")[:RETRIES_READ])
    for request in requests:
        for kind, key in request.records:
            found.setdefault((request.tenant_id, kind, key), request)
    return found
