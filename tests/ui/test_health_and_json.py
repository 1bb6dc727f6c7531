"""/healthz for monitors (open), /api/status and /api/stats for staff (JSON)."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from sync.models import SyncRun
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
    assert response.json()["last_cycle"] == "error: no cycle has finished yet"


def test_it_fails_when_the_last_cycle_is_too_old(client, world):
    world(1)
    SyncRun.objects.update(finished=timezone.now() - dt.timedelta(minutes=36))  # 3 × 10 min + 5 min of grace
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["last_cycle"] == "error: the last cycle is too old"


def test_it_does_not_expect_cycles_when_every_tenant_is_paused(client, world):
    world(1)
    SyncRun.objects.update(finished=timezone.now() - dt.timedelta(days=3))
    Tenant.objects.update(paused=True)
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
    assert tenants[first.code]["waiting_for_a_person"] == {"cfdi_failed": 1, "payment_waiting": 1}
    assert tenants[first.code]["last_success"] is None


def test_it_counts_in_api_stats(staff_client, world):
    world(2)
    SyncRun.objects.create(tenant=Tenant.objects.first(), started=timezone.now() - dt.timedelta(hours=30),
                           status=SyncRun.Status.SUCCEEDED)
    stats = staff_client.get("/api/stats").json()
    assert stats == {
        "cfdis_by_status": {"failed": 2},
        "payments_by_state": {"waiting": 2},
        "runs_last_24h_by_status": {"partial": 2},
    }
