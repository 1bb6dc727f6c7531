"""/healthz for monitors (open), /api/status and /api/stats for staff (JSON)."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cfdi.models import Cfdi
from sync.models import SyncRun, TenantLease
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def test_it_is_healthy_on_a_fresh_install_once_a_cycle_ran(client, world):
    world(1)
    body = client.get("/healthz").json()
    assert body["status"] == "ok", body
    assert body["database"] == "ok" and body["broker"] == "ok" and body["last_cycle"] == "ok"
    assert 0 < body["last_cycle_age_seconds"] < 600


def test_it_gives_a_new_tenant_time_for_its_first_cycle(client, make_tenant):
    make_tenant()
    assert client.get("/healthz").status_code == 200


def test_it_fails_when_no_cycle_ever_finished_for_a_tenant_long_configured(client, make_tenant):
    tenant = make_tenant(sync_every_minutes=10)
    Tenant.objects.filter(pk=tenant.pk).update(created=timezone.now() - dt.timedelta(hours=2))
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["last_cycle"] == "error: 1 tenant(s) behind"
    assert [t["tenant"] for t in body["tenants_behind"]] == ["acme"]
    assert body["tenants_behind"][0]["why"].startswith("no cycle has run since")
    assert "worker cluster" in body["tenants_behind"][0]["why"]


def test_it_fails_when_the_last_cycle_is_too_old(client, world):
    world(1)
    SyncRun.objects.update(finished=timezone.now() - dt.timedelta(minutes=36))  # 3 × 10 min + 5 min of grace
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["last_cycle"] == "error: 1 tenant(s) behind"


def test_it_does_not_count_skipped_runs_as_cycles_and_names_the_lease_holder(client, world):
    tenant, = world(1)
    SyncRun.objects.update(finished=timezone.now() - dt.timedelta(hours=1))
    TenantLease.objects.create(tenant=tenant, holder="other-host:4242:abcd", host="other-host", pid=4242,
                               expires=timezone.now() + dt.timedelta(seconds=100),
                               taken=timezone.now() - dt.timedelta(minutes=50))
    for minutes in (30, 20, 10, 0):  # every slot came and went, skipped
        SyncRun.objects.create(tenant=tenant, trigger=SyncRun.Trigger.SCHEDULE, status=SyncRun.Status.SKIPPED,
                               skip_reason=SyncRun.SkipReason.LEASE_HELD, lease_holder="other-host:4242:abcd",
                               started=timezone.now() - dt.timedelta(minutes=minutes), finished=timezone.now())
    response = client.get("/healthz")
    assert response.status_code == 503
    why = response.json()["tenants_behind"][0]["why"]
    assert why.startswith("lease held by other-host:4242:abcd since") and "(on another host)" in why


def test_it_names_a_tenant_whose_runs_keep_failing(client, world):
    tenant, = world(1)
    SyncRun.objects.update(finished=timezone.now() - dt.timedelta(hours=1))
    SyncRun.objects.create(tenant=tenant, status=SyncRun.Status.FAILED, note="Sage did not answer",
                           started=timezone.now(), finished=timezone.now())
    why = client.get("/healthz").json()["tenants_behind"][0]["why"]
    assert why == "failing: the last run was failed (Sage did not answer)"


def test_it_names_paused_tenants_that_are_behind(client, world):
    world(1)
    SyncRun.objects.update(finished=timezone.now() - dt.timedelta(days=3))
    Tenant.objects.update(paused=True)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["tenants_behind"][0]["why"] == "paused"


def test_it_does_not_judge_inactive_tenants(client, world):
    world(1)
    SyncRun.objects.update(finished=timezone.now() - dt.timedelta(days=3))
    Tenant.objects.update(active=False)
    assert client.get("/healthz").status_code == 200


def test_it_reports_each_tenant_in_api_status(staff_client, world):
    first, second = world(2)
    Tenant.objects.filter(pk=second.pk).update(paused=True)
    tenants = {row["tenant"]: row for row in staff_client.get("/api/status").json()["tenants"]}
    assert set(tenants) == {first.code, second.code}
    assert tenants[second.code]["paused"] is True and tenants[first.code]["paused"] is False
    assert tenants[first.code]["last_run"]["status"] == "partial"
    assert tenants[first.code]["next_run"] is not None  # the tenant's django-q2 schedule
    assert tenants[first.code]["steps"]["cfdi_import"]["status"] == "failed"
    assert tenants[first.code]["steps"]["cfdi_import"]["failed"] == 1
    assert tenants[first.code]["problem"] is True
    assert tenants[first.code]["behind"] is False and tenants[first.code]["lease"] is None
    assert tenants[first.code]["last_completed"] is not None
    assert tenants[first.code]["waiting_for_a_person"] == {"cfdi_import": 1, "waiting_payment": 1}
    assert tenants[first.code]["last_success"] is None


def test_it_shows_the_lease_holder_and_its_age_in_api_status(staff_client, world):
    tenant, = world(1)
    TenantLease.objects.create(tenant=tenant, holder="other-host:4242:abcd", host="other-host", pid=4242,
                               expires=timezone.now() + dt.timedelta(seconds=100),
                               taken=timezone.now() - dt.timedelta(seconds=30))
    lease = staff_client.get("/api/status").json()["tenants"][0]["lease"]
    assert lease["holder"] == "other-host:4242:abcd" and lease["holder_state"] == "unknown"
    assert lease["holder_gone"] is False
    assert 29 <= lease["age_seconds"] < 60


def test_it_counts_in_api_stats(staff_client, world):
    world(2)
    SyncRun.objects.create(tenant=Tenant.objects.first(), started=timezone.now() - dt.timedelta(hours=30),
                           status=SyncRun.Status.SUCCEEDED)
    stats = staff_client.get("/api/stats").json()
    assert stats == {
        "cfdis_by_status": {"failed": 2},
        "payments_by_state": {"waiting": 2},
        "runs_last_24h_by_status": {"partial": 2},
        "records_needing_a_person_by_kind": {"cfdi_import": 2},
        "cfdi_originals": {"count": 2, "bytes": 2 * Cfdi.objects.first().size},
    }
    assert Cfdi.objects.first().size > 1000
