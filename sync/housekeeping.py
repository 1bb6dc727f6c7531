"""History kept within bounds: a daily django-q2 task prunes what is old.

Pruned, once older than settings.SYNC_HISTORY_DAYS (default 90): finished
runs with their step rows, succeeded outcomes, and django-q2's task results.
Kept whatever their age: what needs a person (a failed or waiting outcome,
and the run it belongs to, until it is resolved), runs still marked running,
the control table (SyncLink: what the outside systems hold), payments, and
the CFDIs with their stored originals — SAT's rule is to keep those five
years, so nothing here deletes them. Deleted in slices, so no single
statement holds the database's write lock for long.
"""
from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_q.models import Schedule, Task

from sync.models import RecordOutcome, SyncRun

logger = logging.getLogger("sync.housekeeping")

SLICE = 500
TASK = "sync.tasks.prune_history"
SCHEDULE_NAME = "prune history"


def history_days() -> int:
    return int(getattr(settings, "SYNC_HISTORY_DAYS", 90))


def prune_history(now: dt.datetime | None = None) -> dict[str, int]:
    """Delete the history older than the setting; how many rows of each kind went."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=history_days())
    needing_a_person = Q(status__in=[RecordOutcome.Status.FAILED, RecordOutcome.Status.WAITING])
    outcomes = RecordOutcome.objects.filter(updated__lt=cutoff).exclude(needing_a_person)
    runs = (SyncRun.objects.filter(started__lt=cutoff).exclude(status=SyncRun.Status.RUNNING)
            .exclude(outcomes__status__in=[RecordOutcome.Status.FAILED, RecordOutcome.Status.WAITING]))
    pruned = {
        "outcomes": _delete_in_slices(outcomes),
        # A run's StepRun rows go with it (on_delete CASCADE); its kept outcomes lose only the link.
        "runs": _delete_in_slices(runs),
        "task_results": _delete_in_slices(Task.objects.filter(stopped__lt=cutoff)),
    }
    logger.info("Pruned the history older than %s days: %s", history_days(), pruned)
    return pruned


def _delete_in_slices(queryset) -> int:
    total = 0
    while True:
        ids = list(queryset.order_by().values_list("pk", flat=True)[:SLICE])
        if not ids:
            return total
        with transaction.atomic():
            queryset.model.objects.filter(pk__in=ids).delete()
        total += len(ids)


def ensure_prune_schedule() -> Schedule:
    """The daily schedule of the prune task; made once (migrate makes it), an operator may move its time."""
    schedule, _ = Schedule.objects.get_or_create(name=SCHEDULE_NAME, defaults={
        "func": TASK, "schedule_type": Schedule.DAILY, "repeats": -1,
        "next_run": timezone.now() + dt.timedelta(hours=1)})
    return schedule
