"""django-q2 tasks. They take ids and re-read; they are safe to run twice
(at-least-once delivery): the lease and the outbound records (sync.engine) see to that."""
from __future__ import annotations

from sync import housekeeping, retry
from sync.engine.pipeline import run_tenant
from sync.models import SyncRun


def run_scheduled_cycle(tenant_id: int) -> str:
    run = run_tenant(tenant_id, trigger=SyncRun.Trigger.SCHEDULE)
    return f"run {run.pk}: {run.status}" + (f" ({run.note})" if run.note else "")


def run_retry_cycle(tenant_id: int, step: str | None = None) -> str:
    run = run_tenant(tenant_id, trigger=SyncRun.Trigger.RETRY, only_step=step)
    return f"run {run.pk}: {run.status}"


def prune_history() -> str:
    return ", ".join(f"{kind}: {count}" for kind, count in housekeeping.prune_history().items())


def run_retry_request(request_id: int) -> str:
    """A person's Retry of some records (sync.retry): just those, and what became of them."""
    request = retry.run_request(request_id)
    return f"retry request {request.pk}: {request.state}" + (f" ({request.note})" if request.note else "")


def run_manual_cycle(tenant_id: int, step: str | None = None) -> str:
    """A person pressed "Run now": recorded as manual, not as a retry."""
    run = run_tenant(tenant_id, trigger=SyncRun.Trigger.MANUAL, only_step=step)
    return f"run {run.pk}: {run.status}"
