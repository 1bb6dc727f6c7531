"""The daily prune: old history goes, what needs a person and the CFDIs stay."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_q.models import Schedule, Task

from sync.housekeeping import ATTEMPTS_KEPT, SCHEDULE_NAME, TASK
from sync.models import Outbound, OutboundAttempt, StepRun, SyncRun
from sync.tasks import prune_history

pytestmark = pytest.mark.django_db

OLD = timezone.now() - dt.timedelta(days=91)
RECENT = timezone.now() - dt.timedelta(days=89)


@pytest.fixture
def tenant(make_tenant):
    return make_tenant()


def run_at(tenant, started, status=SyncRun.Status.SUCCEEDED) -> SyncRun:
    run = SyncRun.objects.create(tenant=tenant, started=started, status=status,
                                 finished=None if status == SyncRun.Status.RUNNING else started)
    StepRun.objects.create(run=run, step="providers", status=StepRun.Status.SUCCEEDED, started=started)
    return run


def record(tenant, run, key: str, updated, **state) -> Outbound:
    """A PO's outbound record as `run` left it, with the one history row it wrote then."""
    made = Outbound.objects.create(tenant=tenant, run=run, step="po_upsert", kind="po", key=key, action="create",
                                   **state)
    OutboundAttempt.objects.create(record=made, run=run, at=updated, outcome="confirmed")
    Outbound.objects.filter(pk=made.pk).update(updated=updated)  # auto_now: set after the save
    return made


def task_result(name: str, stopped) -> None:
    Task.objects.create(id=name.ljust(32, "0"), name=name, func="sync.tasks.run_scheduled_cycle", started=stopped,
                        stopped=stopped, success=True)


def test_it_prunes_old_runs_steps_outcomes_and_task_results(tenant, settings):
    settings.SYNC_HISTORY_DAYS = 90
    old_run, recent_run = run_at(tenant, OLD), run_at(tenant, RECENT)
    record(tenant, old_run, "PO1", OLD, state="confirmed")
    record(tenant, recent_run, "PO2", RECENT, state="confirmed")
    task_result("old", OLD)
    task_result("recent", RECENT)

    summary = prune_history()

    assert summary == "attempts: 1, runs: 1, retry_requests: 0, task_results: 1"
    assert list(SyncRun.objects.values_list("pk", flat=True)) == [recent_run.pk]
    assert list(StepRun.objects.values_list("run_id", flat=True)) == [recent_run.pk]
    assert list(OutboundAttempt.objects.values_list("record__key", flat=True)) == ["PO2"]
    # The records themselves stay: they are what the portal holds.
    assert set(Outbound.objects.values_list("key", flat=True)) == {"PO1", "PO2"}
    assert list(Task.objects.values_list("name", flat=True)) == ["recent"]


def test_it_keeps_what_needs_a_person_and_runs_still_running(tenant):
    failed_run, waiting_run = run_at(tenant, OLD, SyncRun.Status.PARTIAL), run_at(tenant, OLD)
    running = run_at(tenant, OLD, SyncRun.Status.RUNNING)
    record(tenant, failed_run, "PO1", OLD, state="failed", attention="permanent")
    record(tenant, waiting_run, "PO2", OLD, state="waiting")

    prune_history()

    assert set(SyncRun.objects.values_list("pk", flat=True)) == {failed_run.pk, waiting_run.pk, running.pk}
    assert set(OutboundAttempt.objects.values_list("record__key", flat=True)) == {"PO1", "PO2"}


def test_it_keeps_each_records_history_within_bounds(tenant):
    run = run_at(tenant, RECENT)
    made = record(tenant, run, "PO1", RECENT, state="confirmed")
    OutboundAttempt.objects.bulk_create(OutboundAttempt(record=made, at=RECENT + dt.timedelta(seconds=n),
                                                        outcome="failed") for n in range(ATTEMPTS_KEPT + 5))

    prune_history()

    kept = OutboundAttempt.objects.filter(record=made)
    assert kept.count() == ATTEMPTS_KEPT and not kept.filter(outcome="confirmed").exists()  # the oldest went


def test_it_keeps_the_cfdis_for_their_five_years(tenant):
    from cfdi.models import Cfdi

    cfdi = Cfdi.objects.create(tenant=tenant, uuid="A" * 36, sha256="0" * 64, size=10)
    Cfdi.objects.filter(pk=cfdi.pk).update(created=OLD, updated=OLD, issued=OLD)
    prune_history()
    assert Cfdi.objects.filter(pk=cfdi.pk).exists()


def test_it_is_a_daily_django_q2_schedule_from_the_start():
    schedule = Schedule.objects.get(name=SCHEDULE_NAME)
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (TASK, Schedule.DAILY, -1)
