"""A person's Retry: just the records asked for, under the tenant's lease, and what became of it, truthfully.

Retry on the attention page (or a CFDI's page) makes one RetryRequest per
tenant — never one per record — and queues one task for it once the
transaction commits. The task claims the request (queued → running), runs
only the exporters of those kinds, limited to those keys, in a run of the
tenant's pipeline (trigger "retry"), and writes what became of it: done,
with what each record is now; or skipped because another run held the
tenant's lease (busy), or the tenant is inactive. Nothing about the records
changes before the run itself changes it: a Retry that did not run leaves
every record as it was, still needing its person.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from cfdi.models import Cfdi
from sync.engine.pipeline import run_tenant, short_error
from sync.models import Outbound, OutboundAttempt, RetryRequest, SyncRun
from sync.steps.cfdi_import import IMPORTED_KINDS, why_not_importable

TASK = "sync.tasks.run_retry_request"


def request_retry(records: Iterable[Outbound], *, by: str, queue: bool = True) -> list[RetryRequest]:
    """One request per tenant for `records`, each queued as one task after the transaction commits."""
    by_tenant: dict[int, list[Outbound]] = defaultdict(list)
    for record in records:
        by_tenant[record.tenant_id].append(record)
    with transaction.atomic():
        requests = [RetryRequest.objects.create(tenant_id=tenant_id, requested_by=by[:150],
                                                records=[[r.kind, r.key] for r in chosen])
                    for tenant_id, chosen in sorted(by_tenant.items())]
        OutboundAttempt.objects.bulk_create(
            OutboundAttempt(record=record, outcome=OutboundAttempt.Outcome.RETRY, by=by[:150],
                            message=_("Retry asked (request %(id)s).") % {"id": request.pk})
            for request in requests for record in by_tenant[request.tenant_id])
        if queue:
            ids = [request.pk for request in requests]
            transaction.on_commit(lambda: [async_task(TASK, pk, task_name=f"retry request {pk}") for pk in ids])
    return requests


def stale_after() -> dt.timedelta:
    """A request still "running" this long after it started lost its worker (django-q2 hands it out again)."""
    return dt.timedelta(seconds=int(settings.Q_CLUSTER.get("timeout", 1800)))


def claim(request_id: int) -> bool:
    now = timezone.now()
    queued = RetryRequest.objects.filter(pk=request_id, state=RetryRequest.State.QUEUED)
    lost = RetryRequest.objects.filter(pk=request_id, state=RetryRequest.State.RUNNING, started__lt=now - stale_after())
    return bool(queued.update(state=RetryRequest.State.RUNNING, started=now)
                or lost.update(state=RetryRequest.State.RUNNING, started=now))


def run_request(request_id: int) -> RetryRequest:
    """The task: run just the request's records, then say what became of them. Safe to run twice."""
    if not claim(request_id):
        return RetryRequest.objects.get(pk=request_id)  # another delivery of the task has it, or had it
    request = RetryRequest.objects.get(pk=request_id)
    try:
        run = run_tenant(request.tenant_id, trigger=SyncRun.Trigger.RETRY, only_records=request.by_kind())
    except Exception as error:  # recorded for the page, then raised for django-q2's own record
        finish(request, RetryRequest.State.FAILED, short_error(error))
        raise
    request.run = run
    if run.status == SyncRun.Status.SKIPPED and run.skip_reason == SyncRun.SkipReason.LEASE_HELD:
        finish(request, RetryRequest.State.BUSY, run.note)
    elif run.status == SyncRun.Status.SKIPPED:
        finish(request, RetryRequest.State.SKIPPED, run.note)
    else:
        finish(request, RetryRequest.State.DONE, outcome(request))
    return request


def finish(request: RetryRequest, state: str, note: str) -> None:
    request.state, request.note, request.finished = state, note, timezone.now()
    request.save(update_fields=["state", "note", "finished", "run"])


def outcome(request: RetryRequest) -> str:
    """What the records are now, in one sentence."""
    counts: Counter[str] = Counter()
    for kind, keys in request.by_kind().items():
        for record in Outbound.objects.filter(tenant_id=request.tenant_id, kind=kind, key__in=keys):
            if record.attention:
                counts["person"] += 1
            elif record.state == Outbound.State.CONFIRMED:
                counts["confirmed"] += 1
            elif record.state == Outbound.State.WAITING:
                counts["waiting"] += 1
            else:
                counts["again"] += 1
    return _("%(confirmed)s confirmed, %(person)s still need a person, %(waiting)s waiting, %(again)s to be tried "
             "again.") % {name: counts[name] for name in ("confirmed", "person", "waiting", "again")}


def retry_import(tenant_id: int, cfdi_uuid: str, *, by: str = "") -> SyncRun:
    """Import one CFDI again now, in this process (the `cfdi import --uuid` command). Refuses, with the
    reason, a CFDI no retry can import. Returns the run."""
    cfdi = Cfdi.objects.get(tenant_id=tenant_id, uuid=cfdi_uuid.strip().upper())
    reasons = why_not_importable(cfdi)
    if reasons or cfdi.kind not in IMPORTED_KINDS:
        raise ValueError(_("CFDI %(uuid)s cannot be imported: %(reasons)s") % {"uuid": cfdi.uuid, "reasons": reasons})
    record, _created = Outbound.objects.get_or_create(
        tenant_id=tenant_id, kind=Outbound.Kind.CFDI_IMPORT, key=cfdi.uuid,
        defaults={"state": Outbound.State.WAITING, "reason": _("Not tried yet.")})
    (request,) = request_retry([record], by=by, queue=False)
    done = run_request(request.pk)
    # Made just above and never queued, so no worker can claim it first: run_request ran it here and set its run.
    assert done.run is not None, f"retry request {done.pk} was not run"
    return done.run
