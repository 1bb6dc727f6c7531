"""django-q2 tasks. They take ids and re-read; they are safe to run twice
(at-least-once delivery): the lease and the outbound records (sync.engine) see to that.

What a run writes (its log, notes, the records' reasons) is kept as text, in the
language in force when it was written: each task runs in the site's language
(settings.LANGUAGE_CODE), as `manage.py sync` does, whoever queued it and
whatever language their browser asked for (django-q2's sync mode runs a task in
the request that queued it)."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.utils import translation

from sync import housekeeping, retry
from sync.engine.pipeline import run_tenant
from sync.models import SyncRun

Task = TypeVar("Task", bound=Callable[..., object])


def in_site_language(task: Task) -> Task:
    @functools.wraps(task)
    def run(*args, **kwargs):
        with translation.override(settings.LANGUAGE_CODE):
            return task(*args, **kwargs)
    return run  # type: ignore[return-value]


@in_site_language
def run_scheduled_cycle(tenant_id: int) -> str:
    run = run_tenant(tenant_id, trigger=SyncRun.Trigger.SCHEDULE)
    return f"run {run.pk}: {run.status}" + (f" ({run.note})" if run.note else "")


@in_site_language
def run_retry_cycle(tenant_id: int, step: str | None = None) -> str:
    run = run_tenant(tenant_id, trigger=SyncRun.Trigger.RETRY, only_step=step)
    return f"run {run.pk}: {run.status}"


def prune_history() -> str:
    return ", ".join(f"{kind}: {count}" for kind, count in housekeeping.prune_history().items())


@in_site_language
def run_retry_request(request_id: int) -> str:
    """A person's Retry of some records (sync.retry): just those, and what became of them."""
    request = retry.run_request(request_id)
    return f"retry request {request.pk}: {request.state}" + (f" ({request.note})" if request.note else "")


@in_site_language
def run_manual_cycle(tenant_id: int, step: str | None = None) -> str:
    """A person pressed "Run now": recorded as manual, not as a retry."""
    run = run_tenant(tenant_id, trigger=SyncRun.Trigger.MANUAL, only_step=step)
    return f"run {run.pk}: {run.status}"
