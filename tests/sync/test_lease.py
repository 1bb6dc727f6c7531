import datetime as dt
import os
import socket
import sys

import psutil
import pytest
from django.utils import timezone

from sync.engine.lease import (
    HolderState,
    LeaseHeld,
    current_lease,
    lease_seconds,
    release_gone_holder,
    release_lease,
    renew_lease,
    take_lease,
)
from sync.models import SyncRun, TenantLease
from tests.sync.processes import start


@pytest.fixture
def tenant(make_tenant):
    return make_tenant()


def test_it_gives_the_lease_to_the_first_holder_and_names_it_to_the_second(tenant):
    take_lease(tenant.pk, "host-a:100:aaaa")
    with pytest.raises(LeaseHeld) as held:
        take_lease(tenant.pk, "host-b:200:bbbb")
    assert held.value.holder == "host-a:100:aaaa"
    assert "host-a:100:aaaa" in str(held.value)
    assert held.value.expires > timezone.now()


def test_it_lets_the_holder_take_it_again(tenant):
    first = take_lease(tenant.pk, "me", seconds=10)
    again = take_lease(tenant.pk, "me", seconds=600)
    assert again.expires > first.expires


def test_it_hands_an_expired_lease_to_the_next_taker(tenant):
    take_lease(tenant.pk, "crashed-holder")
    TenantLease.objects.filter(tenant=tenant).update(expires=timezone.now() - dt.timedelta(seconds=1))
    lease = take_lease(tenant.pk, "next-holder")
    assert lease.holder == "next-holder"
    assert TenantLease.objects.get(tenant=tenant).holder == "next-holder"


def test_it_renews_only_for_the_holder(tenant):
    take_lease(tenant.pk, "me", seconds=5)
    assert renew_lease(tenant.pk, "me", seconds=600)
    assert TenantLease.objects.get(tenant=tenant).expires > timezone.now() + dt.timedelta(seconds=500)
    assert not renew_lease(tenant.pk, "someone-else")


def test_it_frees_the_lease_on_release(tenant):
    take_lease(tenant.pk, "me")
    assert not release_lease(tenant.pk, "someone-else")
    assert current_lease(tenant.pk) is not None
    assert release_lease(tenant.pk, "me")
    assert current_lease(tenant.pk) is None
    assert take_lease(tenant.pk, "other").holder == "other"


@pytest.mark.django_db(transaction=True)
def test_it_keeps_the_lease_alive_through_a_step_longer_than_the_lease(make_tenant, settings):
    from sync.engine.pipeline import run_tenant

    settings.SYNC_LEASE_SECONDS = 1
    tenant = make_tenant()
    run = run_tenant(tenant.pk, registry={"providers": "tests.sync.steps.lease_probe"})
    assert run.steps.get().log == [f"still held by {run.lease_holder}"]


# --- holders that are gone ----------------------------------------------------

def ended_process() -> tuple[int, float]:
    """The pid and start time of a real process of this host that has ended."""
    child = start([sys.executable, "-c", "import time; time.sleep(60)"], env=dict(os.environ))
    started = psutil.Process(child.pid).create_time()
    child.kill()
    child.wait(timeout=10)
    return child.pid, started


def held_by(tenant, holder: str, *, host: str, pid: int, started: float, seconds: int = 120) -> SyncRun:
    """A lease and its "running" run, as a holder left them."""
    now = timezone.now()
    TenantLease.objects.update_or_create(tenant=tenant, defaults={
        "holder": holder, "expires": now + dt.timedelta(seconds=seconds), "host": host, "pid": pid,
        "process_started": started, "taken": now})
    return SyncRun.objects.create(tenant=tenant, lease_holder=holder)


def test_it_takes_over_at_once_from_a_holder_whose_process_ended(tenant):
    pid, started = ended_process()
    orphan = held_by(tenant, f"{socket.gethostname()}:{pid}:dead", host=socket.gethostname(), pid=pid,
                     started=started)
    lease = take_lease(tenant.pk, "next-holder")
    assert lease.holder == "next-holder"
    orphan.refresh_from_db()
    assert orphan.status == SyncRun.Status.INTERRUPTED
    assert orphan.finished is not None
    assert "its process has ended" in orphan.note and "by next-holder" in orphan.note


def test_it_takes_over_from_a_holder_whose_pid_now_belongs_to_another_process(tenant):
    # This test's own pid, but a start time an hour before: the holder was an earlier process with that pid.
    held_by(tenant, "reused", host=socket.gethostname(), pid=os.getpid(),
            started=psutil.Process().create_time() - 3600)
    assert take_lease(tenant.pk, "next-holder").holder == "next-holder"


def test_it_says_the_holder_is_running_when_its_process_is_alive(tenant):
    held_by(tenant, "alive-holder", host=socket.gethostname(), pid=os.getpid(), started=psutil.Process().create_time())
    with pytest.raises(LeaseHeld) as held:
        take_lease(tenant.pk, "next-holder")
    assert held.value.state == HolderState.ALIVE
    assert "still running on this host" in str(held.value)


def test_it_waits_for_the_lease_of_a_holder_on_another_host(tenant):
    orphan = held_by(tenant, "elsewhere:1:x", host="elsewhere.example", pid=1, started=0.0, seconds=60)
    with pytest.raises(LeaseHeld) as held:
        take_lease(tenant.pk, "next-holder")
    assert held.value.state == HolderState.UNKNOWN
    assert "on another host" in str(held.value) and "runs out at" in str(held.value)
    TenantLease.objects.filter(tenant=tenant).update(expires=timezone.now() - dt.timedelta(seconds=1))
    assert take_lease(tenant.pk, "next-holder").holder == "next-holder"
    orphan.refresh_from_db()
    assert orphan.status == SyncRun.Status.INTERRUPTED and "its lease ran out" in orphan.note


def test_it_lets_an_admin_release_a_lease_only_when_its_holder_is_gone(tenant):
    held_by(tenant, "alive-holder", host=socket.gethostname(), pid=os.getpid(), started=psutil.Process().create_time())
    assert not release_gone_holder(tenant.pk, "admin")
    assert current_lease(tenant.pk).holder == "alive-holder"
    pid, started = ended_process()
    orphan = held_by(tenant, "dead-holder", host=socket.gethostname(), pid=pid, started=started)
    assert release_gone_holder(tenant.pk, "admin")
    assert current_lease(tenant.pk) is None
    orphan.refresh_from_db()
    assert orphan.status == SyncRun.Status.INTERRUPTED and "by admin" in orphan.note


def test_it_keeps_leases_short():
    assert lease_seconds() <= 120


def test_it_writes_the_times_of_its_notes_in_the_tenants_zone_and_marks_them(tenant):
    from sync.local_time import local_text

    tenant.time_zone = "America/Tijuana"
    tenant.save(update_fields=["time_zone"])
    orphan = held_by(tenant, "elsewhere:1:x", host="elsewhere.example", pid=1, started=0.0, seconds=60)
    expires = TenantLease.objects.get(tenant=tenant).expires
    with pytest.raises(LeaseHeld) as held:
        take_lease(tenant.pk, "next-holder")
    shown = local_text(expires, "America/Tijuana", seconds=True)
    assert shown[-3:] in ("PST", "PDT") and f"runs out at {shown} unless" in str(held.value)
    TenantLease.objects.filter(tenant=tenant).update(expires=timezone.now() - dt.timedelta(seconds=1))
    take_lease(tenant.pk, "next-holder")
    orphan.refresh_from_db()
    assert " by next-holder." in orphan.note and ("PST by" in orphan.note or "PDT by" in orphan.note)
