"""Pause, resume and run now: what the old shutdown button became."""
from __future__ import annotations

import os

import pytest
from django_q.models import OrmQ

from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def _queued() -> list[tuple]:
    return [(task["func"], task["args"]) for task in (q.task for q in OrmQ.objects.order_by("id"))]


def test_it_pauses_and_resumes_one_tenant(staff_client, world):
    first, second = world(2)
    staff_client.post("/scheduler/pause", {"tenant": first.code})
    assert dict(Tenant.objects.values_list("code", "paused")) == {first.code: True, second.code: False}
    staff_client.post("/scheduler/resume", {"tenant": first.code})
    assert not Tenant.objects.filter(paused=True).exists()


def test_it_pauses_and_resumes_all_tenants(staff_client, world):
    world(3)
    staff_client.post("/scheduler/pause")
    assert Tenant.objects.filter(paused=True).count() == 3
    staff_client.post("/scheduler/resume")
    assert Tenant.objects.filter(paused=True).count() == 0


def test_it_says_so_when_the_tenant_does_not_exist(staff_client, world):
    world(1)
    response = staff_client.post("/scheduler/pause", {"tenant": "nope"}, follow=True)
    assert "There is no tenant nope." in response.content.decode()
    assert not Tenant.objects.filter(paused=True).exists()


def test_it_queues_a_run_of_a_tenant_or_of_one_step(staff_client, world):
    tenant = world(1)[0]
    staff_client.post("/scheduler/run", {"tenant": tenant.code})
    staff_client.post("/scheduler/run", {"tenant": tenant.code, "step": "payment_check"})
    assert _queued() == [("sync.tasks.run_manual_cycle", (tenant.pk, None)),
                         ("sync.tasks.run_manual_cycle", (tenant.pk, "payment_check"))]


def test_it_records_run_now_as_a_manual_run_not_a_retry(staff_client, world, sage_db_allowed):
    from django.utils.module_loading import import_string

    from sync.models import SyncRun

    tenant = world(1)[0]
    staff_client.post("/scheduler/run", {"tenant": tenant.code, "step": "po_close"})
    queued = OrmQ.objects.get().task
    import_string(queued["func"])(*queued["args"])  # as a worker would
    run = SyncRun.objects.filter(tenant=tenant).latest("id")
    assert (run.trigger, run.only_step) == (SyncRun.Trigger.MANUAL, "po_close")


def test_it_refuses_an_unknown_step(staff_client, world):
    tenant = world(1)[0]
    response = staff_client.post("/scheduler/run", {"tenant": tenant.code, "step": "rm -rf"}, follow=True)
    assert "There is no step rm -rf." in response.content.decode()
    assert _queued() == []


def test_it_never_redirects_off_site_after_an_action(staff_client, world):
    tenant = world(1)[0]
    response = staff_client.post("/scheduler/pause", {"tenant": tenant.code, "next": "https://evil.example/"})
    assert response["Location"] == "/scheduler/"


# --- leases ----------------------------------------------------------------------

def _lease(tenant, *, holder: str, expires_in: float):
    """A lease held by this test's own (running) process, and its run."""
    import datetime as dt
    import socket

    import psutil
    from django.utils import timezone

    from sync.models import SyncRun, TenantLease

    now = timezone.now()
    TenantLease.objects.create(tenant=tenant, holder=holder, host=socket.gethostname(), pid=os.getpid(),
                               process_started=psutil.Process().create_time(),
                               expires=now + dt.timedelta(seconds=expires_in), taken=now - dt.timedelta(seconds=95))
    return SyncRun.objects.create(tenant=tenant, lease_holder=holder)


def test_it_shows_the_lease_holder_and_its_age_on_the_scheduler_and_the_overview(staff_client, world):
    tenant = world(1)[0]
    _lease(tenant, holder="this-host:123:live", expires_in=100)
    for url in ("/scheduler/", "/"):
        page = staff_client.get(url).content.decode()
        assert "this-host:123:live" in page and "95 s" in page and "running here" in page, url
    assert "release-lease" not in staff_client.get("/scheduler/").content.decode()


def test_it_lets_an_admin_release_a_lease_whose_holder_is_gone(client, admin_user_, world):
    from sync.models import SyncRun, TenantLease

    client.force_login(admin_user_)
    tenant = world(1)[0]
    orphan = _lease(tenant, holder="this-host:999:dead", expires_in=-1)  # it stopped renewing: gone
    assert "release-lease" in client.get("/scheduler/").content.decode()
    response = client.post("/scheduler/release-lease", {"tenant": tenant.code}, follow=True)
    assert "was released" in response.content.decode()
    assert TenantLease.objects.get(tenant=tenant).holder == ""
    orphan.refresh_from_db()
    assert orphan.status == SyncRun.Status.INTERRUPTED and "admin sageadmin" in orphan.note


def test_it_refuses_to_release_a_lease_whose_holder_still_runs(client, admin_user_, world):
    from sync.models import TenantLease

    client.force_login(admin_user_)
    tenant = world(1)[0]
    _lease(tenant, holder="this-host:123:live", expires_in=100)
    assert "release-lease" not in client.get("/scheduler/").content.decode()
    response = client.post("/scheduler/release-lease", {"tenant": tenant.code}, follow=True)
    assert "was not released" in response.content.decode()
    assert TenantLease.objects.get(tenant=tenant).holder == "this-host:123:live"


def test_it_lets_only_admins_release_a_lease(staff_client, world):
    from sync.models import TenantLease

    tenant = world(1)[0]
    _lease(tenant, holder="this-host:999:dead", expires_in=-1)
    assert staff_client.post("/scheduler/release-lease", {"tenant": tenant.code}).status_code == 403
    assert TenantLease.objects.get(tenant=tenant).holder == "this-host:999:dead"
