"""History kept within bounds: a daily django-q2 task prunes what is old.

Pruned, once older than settings.SYNC_HISTORY_DAYS (default 90): finished
runs with their step rows, the outbound records' history rows (attempts),
retry requests, and django-q2's task results; and, whatever their age, a
record's history beyond its newest ATTEMPTS_KEPT rows, so no record's
history grows without bound. Kept whatever their age: what needs a person
or waits (the record, its history, and the run it last ran in, until it is
resolved), runs still marked running, the outbound records themselves (what
the outside systems hold), payments, and the CFDIs with their stored
originals — SAT's rule is to keep those five years, so nothing here deletes
them. Deleted in slices, so no single statement holds the database's write
lock for long.
"""
from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django_q.models import Schedule, Task

from sync.models import Outbound, OutboundAttempt, RetryRequest, SyncRun

logger = logging.getLogger("sync.housekeeping")

SLICE = 500
ATTEMPTS_KEPT = 50  # a record's newest history rows kept whatever their age
TASK = "sync.tasks.prune_history"
SCHEDULE_NAME = "prune history"


def history_days() -> int:
    return int(getattr(settings, "SYNC_HISTORY_DAYS", 90))


def prune_history(now: dt.datetime | None = None) -> dict[str, int]:
    """Delete the history older than the setting; how many rows of each kind went."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=history_days())
    open_records = Outbound.objects.filter(Q(state=Outbound.State.WAITING) | ~Q(attention=""))
    attempts = OutboundAttempt.objects.filter(at__lt=cutoff).exclude(record__in=open_records)
    runs = (SyncRun.objects.filter(started__lt=cutoff).exclude(status=SyncRun.Status.RUNNING)
            .exclude(pk__in=open_records.exclude(run=None).values("run_id")))
    pruned = {
        "attempts": _delete_in_slices(attempts) + _prune_long_histories(),
        # A run's StepRun rows go with it (on_delete CASCADE); records and history rows lose only the link.
        "runs": _delete_in_slices(runs),
        "retry_requests": _delete_in_slices(RetryRequest.objects.filter(requested_at__lt=cutoff)),
        "task_results": _delete_in_slices(Task.objects.filter(stopped__lt=cutoff)),
    }
    logger.info("Pruned the history older than %s days: %s", history_days(), pruned)
    return pruned


def _prune_long_histories() -> int:
    """Each record's history beyond its newest ATTEMPTS_KEPT rows: one query per record that has more."""
    total = 0
    long = (OutboundAttempt.objects.values("record_id").annotate(n=Count("id")).filter(n__gt=ATTEMPTS_KEPT)
            .values_list("record_id", flat=True))
    for record_id in list(long):
        keep = list(OutboundAttempt.objects.filter(record_id=record_id).order_by("-at", "-id")
                    .values_list("pk", flat=True)[:ATTEMPTS_KEPT])
        total += _delete_in_slices(OutboundAttempt.objects.filter(record_id=record_id).exclude(pk__in=keep))
    return total


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
