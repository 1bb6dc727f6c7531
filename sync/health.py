"""/healthz for load balancers and monitoring: open to anyone, says nothing secret.

Healthy means: our database answers, the django-q2 broker answers (the ORM
broker is our database; Redis is pinged), and no active tenant is behind.
A tenant is judged by its last *completed* cycle (succeeded, or partial:
its steps ran) against its own schedule: skipped, failed and interrupted runs
prove nothing was done. A tenant behind is named with why — paused, its lease
held by a process (alive, gone, or on another host), its runs failing, or no
run at all (the worker cluster is not running). sync.dashboard shows the same
judgement on the overview and in /api/status.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable

from django.db import connection
from django.db.models import Max
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ

from sync.engine.lease import holder_gone, holder_state
from sync.models import SyncRun, TenantLease
from tenants.models import Tenant

# A cycle may run late by a slot or two (a long previous run, a restart).
SLOTS_OF_GRACE = 3
EXTRA_GRACE = dt.timedelta(minutes=5)


@dataclass
class TenantHealth:
    tenant: Tenant
    last_completed: dt.datetime | None
    behind: bool
    why: str
    lease: TenantLease | None  # held (holder set), whether or not its holder still runs
    lease_state: str  # sync.engine.lease.HolderState value, "" when free
    lease_gone: bool  # its holder will never release it: an admin may

    @property
    def lease_age_seconds(self) -> float | None:
        if self.lease is None or self.lease.taken is None:
            return None
        return round((timezone.now() - self.lease.taken).total_seconds(), 1)

    def as_json(self) -> dict[str, Any]:
        return {
            "behind": self.behind, "why": self.why or None,
            "last_completed": self.last_completed.isoformat() if self.last_completed else None,
            "lease": None if self.lease is None else {
                "holder": self.lease.holder, "holder_state": self.lease_state, "holder_gone": self.lease_gone,
                "taken": self.lease.taken.isoformat() if self.lease.taken else None,
                "age_seconds": self.lease_age_seconds, "expires": self.lease.expires.isoformat()},
        }


def allowance(tenant: Tenant) -> dt.timedelta:
    return dt.timedelta(minutes=tenant.sync_every_minutes * SLOTS_OF_GRACE) + EXTRA_GRACE


def judge_tenants(tenants: Iterable[Tenant], latest_runs: dict[int, SyncRun],
                  now: dt.datetime | None = None) -> dict[int, TenantHealth]:
    """Each tenant's health; two queries whatever the number of tenants (plus the caller's latest runs)."""
    now = now or timezone.now()
    tenants = list(tenants)
    ids = [t.pk for t in tenants]
    completed = dict(SyncRun.objects.filter(tenant_id__in=ids, dry_run=False, status__in=COMPLETED_STATUSES)
                     .values("tenant_id").annotate(last=Max("finished")).values_list("tenant_id", "last"))
    leases = {lease.tenant_id: lease for lease in TenantLease.objects.filter(tenant_id__in=ids).exclude(holder="")}
    judged = {}
    for tenant in tenants:
        lease = leases.get(tenant.pk)
        state = holder_state(lease).value if lease else ""
        last = completed.get(tenant.pk)
        behind = tenant.active and now - (last or tenant.created) > allowance(tenant)
        why = _why(tenant, lease, state, latest_runs.get(tenant.pk), last) if behind else ""
        judged[tenant.pk] = TenantHealth(tenant, last, behind, why, lease, state,
                                         lease is not None and holder_gone(lease, now))
    return judged


def latest_runs(tenant_ids: list[int]) -> dict[int, SyncRun]:
    latest_ids = (SyncRun.objects.filter(tenant_id__in=tenant_ids, dry_run=False)
                  .values("tenant_id").annotate(last_id=Max("id")).values_list("last_id", flat=True))
    return {run.tenant_id: run for run in SyncRun.objects.filter(id__in=list(latest_ids))}


def _why(tenant, lease, state, latest, last_completed) -> str:
    if tenant.paused:
        return _("paused")
    if lease is not None:
        since = _utc(lease.taken or lease.expires)
        return {
            "alive": _("lease held by %(holder)s since %(since)s UTC (its process is still running)"),
            "gone": _("lease held by %(holder)s since %(since)s UTC (its process has ended)"),
        }.get(state, _("lease held by %(holder)s since %(since)s UTC (on another host)")) % {
            "holder": lease.holder, "since": since}
    if latest is None or (last_completed and latest.started < last_completed):
        return _("no cycle has run since %(when)s UTC: is the worker cluster running?") % {
            "when": _utc(last_completed or tenant.created)}
    if latest.skip_reason == SyncRun.SkipReason.LEASE_HELD:
        return _("its runs were skipped: lease held by %(holder)s") % {"holder": latest.lease_holder}
    if latest.status in (SyncRun.Status.FAILED, SyncRun.Status.INTERRUPTED):
        detail = (latest.note or "").splitlines()[0][:200] if latest.note else latest.get_status_display()
        return _("failing: the last run was %(status)s (%(detail)s)") % {
            "status": latest.get_status_display(), "detail": detail}
    return _("no cycle has completed since %(when)s UTC (the last run: %(status)s)") % {
        "when": _utc(last_completed or tenant.created), "status": latest.get_status_display()}


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


COMPLETED_STATUSES = ("succeeded", "partial")


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # a health check reports, it does not raise
        return f"error: {exc.__class__.__name__}"
    return "ok"


def check_broker() -> None:
    """Raises what the django-q2 broker answers when it does not (the ORM broker is our database)."""
    if Conf.ORM:
        OrmQ.objects.using(Conf.ORM).exists()
    elif not get_broker().ping():
        raise ConnectionError("no answer to PING")


def _broker() -> str:
    try:
        check_broker()
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _cycles(now: dt.datetime) -> tuple[str, float | None, list[dict[str, Any]]]:
    tenants = list(Tenant.objects.filter(active=True).order_by("code"))
    judged = judge_tenants(tenants, latest_runs([t.pk for t in tenants]), now)
    behind = [{"tenant": h.tenant.code, "why": h.why,
               "last_completed": h.last_completed.isoformat() if h.last_completed else None,
               "allowed_seconds": allowance(h.tenant).total_seconds()}
              for h in judged.values() if h.behind]
    newest = max((h.last_completed for h in judged.values() if h.last_completed), default=None)
    age = round((now - newest).total_seconds(), 1) if newest else None
    if behind:
        return f"error: {len(behind)} tenant(s) behind", age, behind
    return "ok", age, behind


def healthz(request: HttpRequest) -> JsonResponse:
    database = _database()
    broker = _broker() if database == "ok" or not _uses_orm() else "unknown: the database is down"
    if database == "ok":
        cycle, age, behind = _cycles(timezone.now())
    else:
        cycle, age, behind = "unknown: the database is down", None, []
    healthy = database == "ok" and broker == "ok" and cycle == "ok"
    body = {"status": "ok" if healthy else "error", "database": database, "broker": broker,
            "last_cycle": cycle, "last_cycle_age_seconds": age, "tenants_behind": behind}
    return JsonResponse(body, status=200 if healthy else 503)


def _uses_orm() -> bool:
    return bool(Conf.ORM)
