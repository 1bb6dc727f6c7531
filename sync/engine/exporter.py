"""The exporter contract, and the one loop that runs every kind of outbound record.

A kind (vendors into Sage, POs onto the portal, CFDIs into Sage, …) is an
Exporter. It says:

- `changed(keys)`: what to look at this cycle, in pages — only `keys` when a
  person asked for those records to be tried again;
- `key(item)`: our own key of an item (PONUMBER, DOCNBR, the CFDI UUID, …);
- `lookup(items, records)`: what the outside system already holds of items an
  earlier run left unconfirmed (PENDING/SENT), asked by our own key — or of
  every item, for a kind that asks before every write (`look_always`);
- `build(items, records, found)`: each item's payload (`Built`), or why it is
  not sent (`Waiting`, `Failed`), or that it is already there (`Confirmed`);
  nothing for an item it leaves alone;
- `send(jobs)`: one batch to the outside system, a Result per key — or
  `submit(jobs)` instead, for an outside system that may queue a batch: it
  answers the Results, or `InFlight` when the batch was accepted and its
  outcome is to be asked later. The next batch goes out before that one is
  asked about, so the outside system processes one while the next travels.

`export()` does the rest, once, for every kind: it skips what is backing off
or waits for a person, hashes the payload actually built and leaves unchanged
what the outside system already confirmed, records what a crash left there as
found (`found_is_final`, or the same hash as was in flight), shows the
payloads in a dry run and writes nothing, commits PENDING before each batch,
sends, and records every answer (sync.engine.outbox: backoff, attempt cap,
needs a person, history, projections). It beats the heartbeat between
batches and passes the crash points `<name>:before_send` and
`<name>:after_send`, so the fault suite can kill a run on either side of
every kind's outside write.

A failure that is the tenant's and not a record's (its credentials, a missing
setting: `tenant_errors`) stops the step with its message and leaves the
batch PENDING, costing no record an attempt; any other error of the outside
system (`outside_errors`) is a passing failure of every record in the batch.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Generic, TypeVar

from django.utils import timezone
from django.utils.translation import gettext as _

from sync.engine.context import StepContext, StepResult
from sync.engine.crashpoints import crashpoint
from sync.engine.outbox import (
    Confirmed,
    Failed,
    Outbox,
    Result,
    Unanswered,
    Waiting,
    Write,
    backing_off,
    payload_hash,
)
from sync.models import Outbound

ItemT = TypeVar("ItemT")
Records = dict[str, Outbound]


@dataclass
class Built:
    """What would be sent for one item: `payload` (plain JSON values) is what is hashed and stored as the
    last request; `request` what `send` uses (the payload when not given)."""
    payload: dict[str, Any]
    request: Any = None
    action: str = ""
    outside_id: str = ""   # the outside id meant, committed with PENDING (a Sage VendorNumber chosen once)
    label: str = ""        # how a dry run names it
    target: str = ""       # where a dry run says it would go, when not the exporter's `target`


@dataclass
class Job(Generic[ItemT]):
    """One item on its way out: what was built, its record, the payload's hash, the outside id known."""
    item: ItemT
    key: str
    built: Built
    record: Outbound | None
    content_hash: str
    outside_id: str = ""

    @property
    def request(self) -> Any:
        return self.built.payload if self.built.request is None else self.built.request


@dataclass
class InFlight:
    """A batch the outside system accepted without its outcome yet: `outcome()` asks (polls) for it."""
    outcome: Callable[[], dict[str, Result]]


class Exporter(Generic[ItemT]):
    kind: ClassVar[str]
    name: ClassVar[str]                                  # crash points: f"{name}:before_send", …
    target: ClassVar[str] = "portal"                     # what a dry run says it would write to
    batch_size: int = 50                                 # records a send() gets at most
    look_always: ClassVar[bool] = False
    found_is_final: ClassVar[bool] = False               # found on the outside system = done, whatever the payload
    writes: ClassVar[bool] = True                        # False: `send` only reads (nothing in flight to guard)
    tenant_errors: ClassVar[tuple[type[Exception], ...]] = ()
    outside_errors: ClassVar[tuple[type[Exception], ...]] = ()

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.outbox = Outbox(ctx, self.kind)
        # Keys the kind itself gives one more try this cycle, as a person's Retry would (set by `changed`).
        self.retry_keys: set[str] = set()

    def changed(self, keys: frozenset[str] | None) -> Iterator[list[ItemT]]:
        raise NotImplementedError

    def key(self, item: ItemT) -> str:
        raise NotImplementedError

    def lookup(self, items: list[ItemT], records: Records) -> dict[str, Confirmed]:
        return {}  # nothing to ask: sending again is harmless

    def build(self, items: list[ItemT], records: Records,
              found: dict[str, Confirmed]) -> dict[str, Built | Failed | Waiting | Confirmed]:
        raise NotImplementedError

    def send(self, jobs: list[Job[ItemT]]) -> dict[str, Result]:
        raise NotImplementedError

    def submit(self, jobs: list[Job[ItemT]]) -> dict[str, Result] | InFlight:
        """`send`, for a kind whose outside system answers every batch at once."""
        return self.send(jobs)

    def close(self) -> None:
        """Frees what the exporter opened (clients); called once, whatever happened."""


def export(exporter: Exporter[Any]) -> StepResult:
    """Runs one exporter over what changed (or over the keys a person asked to retry)."""
    ctx = exporter.ctx
    keys = ctx.only_keys(exporter.kind)
    if keys is not None and not keys:
        return ctx.result
    try:
        for page in exporter.changed(keys):
            ctx.heartbeat()
            if page:
                _export_page(exporter, page, (keys or frozenset()) | exporter.retry_keys)
    finally:
        exporter.close()
    return ctx.result


def _export_page(exporter: Exporter[Any], page: list[Any], forced: set[str] | frozenset[str]) -> None:
    ctx, outbox = exporter.ctx, exporter.outbox
    now = timezone.now()
    records = outbox.load(exporter.key(item) for item in page)
    due = []
    for item in page:
        key = exporter.key(item)
        record = records.get(key)
        if key not in forced and (backing_off(record, now) or _given_up(record)):
            ctx.result.skipped += 1  # not before its backoff ends, or not until a person says so
        else:
            due.append(item)
    to_look = [item for item in due if exporter.look_always or _unconfirmed(records.get(exporter.key(item)))]
    found = exporter.lookup(to_look, records) if to_look else {}
    writes: list[Write] = []
    to_build = []
    for item in due:
        key = exporter.key(item)
        if key in found and exporter.found_is_final:
            writes.append(Write(key, dataclasses.replace(found[key], recovered=True)))
        else:
            to_build.append(item)
    answers = exporter.build(to_build, records, found) if to_build else {}
    jobs = []
    for item in to_build:
        key = exporter.key(item)
        answer, record = answers.get(key), records.get(key)
        if answer is None:
            continue  # the exporter leaves it alone (and said why)
        if isinstance(answer, (Waiting, Failed, Confirmed)):
            writes.append(Write(key, answer, action=record.action if record else ""))
            continue
        content_hash = payload_hash(answer.payload)
        if key in found and record is not None and record.sent_hash == content_hash:
            writes.append(Write(key, dataclasses.replace(found[key], recovered=True), answer.payload, content_hash,
                                answer.action))
            continue
        if _why_not(record, content_hash, key in forced):
            ctx.result.skipped += 1
            continue
        known = found[key].outside_id if key in found else (record.outside_id if record else "")
        jobs.append(Job(item, key, answer, record, content_hash, known))
    outbox.record(writes)
    if ctx.dry_run:
        for job in jobs:
            ctx.would_send(job.built.target or exporter.target, job.built.label or job.key, job.built.payload)
        return
    # At most one batch in flight while the next is sent: a crash meanwhile leaves both PENDING or SENT,
    # which the rerun looks up like any other.
    waiting: tuple[list[Job[Any]], InFlight] | None = None
    for start in range(0, len(jobs), exporter.batch_size):
        batch = jobs[start:start + exporter.batch_size]
        sent = _submit(exporter, batch)
        if waiting is not None:
            _finish(exporter, *waiting)
            waiting = None
        if isinstance(sent, InFlight):
            waiting = (batch, sent)
        else:
            _finish(exporter, batch, sent)
    if waiting is not None:
        _finish(exporter, *waiting)


def _submit(exporter: Exporter[Any], jobs: list[Job[Any]]) -> dict[str, Result] | InFlight:
    exporter.ctx.heartbeat()
    if exporter.writes:
        exporter.outbox.mark_pending([(job.key, job.content_hash, job.built.outside_id or job.outside_id)
                                      for job in jobs])
        crashpoint(f"{exporter.name}:before_send")
    try:
        return exporter.submit(jobs)
    except exporter.tenant_errors:
        raise  # the tenant's, not these records': they stay PENDING and cost no attempt
    except exporter.outside_errors as error:
        return {job.key: Failed(str(error)) for job in jobs}


def _finish(exporter: Exporter[Any], jobs: list[Job[Any]], answer: dict[str, Result] | InFlight) -> None:
    results = _outcome(exporter, jobs, answer) if isinstance(answer, InFlight) else answer
    if exporter.writes:
        crashpoint(f"{exporter.name}:after_send")
    unanswered = Unanswered(_("The outside system accepted it without saying yet what became of it; it is asked "
                              "again next cycle."))
    exporter.outbox.record([Write(job.key, results.get(job.key) or unanswered, job.built.payload, job.content_hash,
                                  job.built.action, sent=exporter.writes) for job in jobs])


def _outcome(exporter: Exporter[Any], jobs: list[Job[Any]], in_flight: InFlight) -> dict[str, Result]:
    try:
        return in_flight.outcome()
    except exporter.tenant_errors:
        raise  # accepted but not asked about: they stay SENT, and the rerun asks the outside system
    except exporter.outside_errors as error:
        return {job.key: Failed(str(error)) for job in jobs}


def _unconfirmed(record: Outbound | None) -> bool:
    return record is not None and record.unconfirmed


def _given_up(record: Outbound | None) -> bool:
    """Failed too often: not even looked up again until a person asks."""
    return record is not None and record.attention == Outbound.Attention.EXCEEDED


def _why_not(record: Outbound | None, content_hash: str, forced: bool) -> str:
    """Why a built payload is not sent; '' when it is."""
    if record is None:
        return ""
    if record.state == Outbound.State.CONFIRMED and record.content_hash == content_hash:
        return "unchanged"
    if forced:
        return ""
    if record.closed == Outbound.Closed.IGNORED and record.closed_hash == content_hash and not record.attention:
        return "ignored"
    if record.attention and content_hash in (record.sent_hash, record.content_hash):
        return "needs a person"
    return ""
