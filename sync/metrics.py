"""/metrics for Prometheus (prometheus-client), readable with a token or from allowed addresses.

Two sources:
- the database, read at each scrape (a fixed handful of queries): runs by
  outcome, each step's last duration, records waiting and needing a person,
  CFDIs and payments by state, held leases and their age, the last run;
- the outside calls (portal, portal file links, Sage Web API) and their
  errors, counted by the clients in whatever process makes them. `manage.py
  serve` points every process it starts at one PROMETHEUS_MULTIPROC_DIR, so
  the web answers for the workers too; a process started on its own (e.g.
  `manage.py sync` from Task Scheduler) counts only for itself. The counters
  are in sageconnect.outside_calls, which the clients import without this.
"""
from __future__ import annotations

import hmac
import ipaddress
import os

from django.conf import settings
from django.db.models import Count, Max, Min, Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from cfdi.models import Cfdi
from sageconnect.clientip import client_ip
from sageconnect.outside_calls import MULTIPROC_VARIABLE, calls_registry
from sync.models import Outbound, Payment, StepRun, SyncRun, TenantLease


class DatabaseCollector:
    """What the database says, read when Prometheus asks."""

    def collect(self):
        now = timezone.now()
        runs = GaugeMetricFamily("sageconnect_runs", "Sync runs in the database, by tenant and outcome.",
                                 labels=["tenant", "status"])
        for row in SyncRun.objects.values("tenant__code", "status").annotate(n=Count("id")).order_by():
            runs.add_metric([row["tenant__code"], row["status"]], row["n"])
        yield runs

        last_run = GaugeMetricFamily("sageconnect_last_run_finished_timestamp_seconds",
                                     "When the tenant's last run finished (Unix time).", labels=["tenant"])
        for code, last in (SyncRun.objects.filter(finished__isnull=False).values("tenant__code")
                           .annotate(last=Max("finished")).order_by().values_list("tenant__code", "last")):
            last_run.add_metric([code], last.timestamp())
        yield last_run

        yield self._step_durations(StepRun)
        yield from self._records(Outbound)
        yield self._by_state(Cfdi, "status", "sageconnect_cfdis", "Stored CFDIs by tenant and status.")
        yield self._by_state(Payment, "state", "sageconnect_payments", "Sage payments by tenant and state.")
        yield from self._leases(TenantLease, SyncRun, now)

    @staticmethod
    def _step_durations(StepRun) -> GaugeMetricFamily:
        durations = GaugeMetricFamily("sageconnect_step_duration_seconds",
                                      "How long each step of each tenant took the last time it ran.",
                                      labels=["tenant", "step"])
        latest = (StepRun.objects.filter(duration__isnull=False).values("run__tenant_id", "step")
                  .annotate(last=Max("id")).order_by().values_list("last", flat=True))
        for row in StepRun.objects.filter(id__in=list(latest)).values("run__tenant__code", "step", "duration"):
            durations.add_metric([row["run__tenant__code"], row["step"]], row["duration"])
        return durations

    @staticmethod
    def _records(Outbound):
        """From the outbound records: those waiting for another record or fact, and those needing a person."""
        waiting = GaugeMetricFamily("sageconnect_records_waiting",
                                    "Records waiting for something else first (e.g. a payment for its invoice).",
                                    labels=["tenant", "kind"])
        person = GaugeMetricFamily("sageconnect_records_needing_a_person",
                                   "Records only a person can move on: refused, failed too often, a setting to "
                                   "change, or something to do outside SageConnect.", labels=["tenant", "kind"])
        rows = (Outbound.objects.filter(Q(state=Outbound.State.WAITING) | ~Q(attention=""))
                .values("tenant__code", "kind", "attention").annotate(n=Count("id")).order_by())
        totals: dict[tuple[str, str, str], int] = {}
        for row in rows:
            key = ("person" if row["attention"] else "waiting", row["tenant__code"], row["kind"])
            totals[key] = totals.get(key, 0) + row["n"]
        for (which, tenant, kind), count in sorted(totals.items()):
            (person if which == "person" else waiting).add_metric([tenant, kind], count)
        yield waiting
        yield person

    @staticmethod
    def _by_state(model, field: str, name: str, documentation: str) -> GaugeMetricFamily:
        family = GaugeMetricFamily(name, documentation, labels=["tenant", field])
        for row in model.objects.values("tenant__code", field).annotate(n=Count("id")).order_by():
            family.add_metric([row["tenant__code"], row[field]], row["n"])
        return family

    @staticmethod
    def _leases(TenantLease, SyncRun, now):
        age = GaugeMetricFamily("sageconnect_lease_age_seconds",
                                "How long the run holding each tenant's lease has been going.", labels=["tenant"])
        left = GaugeMetricFamily("sageconnect_lease_expires_in_seconds",
                                 "Seconds until a held lease expires unless renewed.", labels=["tenant"])
        held = list(TenantLease.objects.filter(expires__gt=now).exclude(holder="")
                    .values("tenant__code", "holder", "expires"))
        started = dict(SyncRun.objects.filter(status=SyncRun.Status.RUNNING,
                                              lease_holder__in=[h["holder"] for h in held])
                       .values("lease_holder").annotate(first=Min("started")).order_by()
                       .values_list("lease_holder", "first"))
        lease_seconds = int(getattr(settings, "SYNC_LEASE_SECONDS", 900))
        for lease in held:
            remaining = (lease["expires"] - now).total_seconds()
            since = started.get(lease["holder"])
            # Without its run (a run of one step, a crashed holder): the time since it was last taken or renewed.
            seconds = (now - since).total_seconds() if since else max(0.0, lease_seconds - remaining)
            age.add_metric([lease["tenant__code"]], seconds)
            left.add_metric([lease["tenant__code"]], remaining)
        yield age
        yield left


def allowed(request: HttpRequest) -> bool:
    token = getattr(settings, "METRICS_TOKEN", "")
    if token:
        given = request.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
    networks = getattr(settings, "METRICS_ALLOW", [])
    if networks:
        try:
            address = ipaddress.ip_address(client_ip(request))
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(network, strict=False) for network in networks)
    return False


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        return HttpResponse(_("The metrics are readable only with the metrics token (Authorization: Bearer …) or "
                              "from an address in SAGECONNECT_METRICS_ALLOW.") + "\n",
                            status=403, content_type="text/plain; charset=utf-8")
    database = CollectorRegistry(auto_describe=True)
    database.register(DatabaseCollector())
    if os.environ.get(MULTIPROC_VARIABLE):
        calls = CollectorRegistry()
        multiprocess.MultiProcessCollector(calls)
    else:
        calls = calls_registry
    return HttpResponse(generate_latest(database) + generate_latest(calls), content_type=CONTENT_TYPE_LATEST)
