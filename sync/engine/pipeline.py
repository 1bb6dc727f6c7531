"""One cycle of one tenant: take the lease, run the enabled steps in DESIGN.md
order, each isolated from the others, and record everything.

A step that raises is recorded as failed with a short, secret-free message
and the next step still runs. SIGTERM or SIGINT during the steps stops the
cycle where it is: the run is closed as interrupted and the lease handed back
before the process goes on to stop. A step whose module does not exist yet is
recorded as skipped, "not available yet" — never silently left out.
The writes steps make to outside systems go through sync.engine.exporter.
"""
from __future__ import annotations

import copy
import importlib
import logging
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections
from django.utils import timezone
from django.utils.translation import gettext as _

from sageconnect.logsafe import Verbatim, one_line
from sync.alerts import alert_failed_steps
from sync.engine import lease as leases
from sync.engine.context import StepContext, StepResult
from sync.engine.crashpoints import crashpoint
from sync.local_time import local_text
from sync.models import STEP_LOG_MAX_LINES, StepRun, SyncRun
from tenants.models import STEP_NAMES, Tenant

logger = logging.getLogger("sync.engine.pipeline")

# Step name → module, in DESIGN.md order.
STEP_MODULES: dict[str, str] = {name: f"sync.steps.{name}" for name in STEP_NAMES}


def step_modules() -> Mapping[str, str]:
    """The registry: settings.SYNC_STEP_MODULES when a site (or a test) sets one."""
    return getattr(settings, "SYNC_STEP_MODULES", None) or STEP_MODULES

Progress = Callable[[StepRun], None]


class StepNotAvailable(Exception):
    pass


def run_tenant(
    tenant_id: int,
    *,
    trigger: str = SyncRun.Trigger.MANUAL,
    dry_run: bool = False,
    only_step: str | None = None,
    registry: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    echo: Callable[[str], None] | None = None,
    only_records: Mapping[str, Iterable[str]] | None = None,
) -> SyncRun:
    """Run one cycle for the tenant; the returned SyncRun says what happened.

    `only_records` (kind → keys): a person's Retry — only the steps that export
    those kinds run, each limited to those records.
    """
    tenant = Tenant.objects.get(pk=tenant_id)
    registry = step_modules() if registry is None else registry
    fields = {"tenant": tenant, "trigger": trigger, "dry_run": dry_run, "only_step": only_step or ""}
    refusal = _refusal(tenant, trigger)
    if refusal:
        return _finish_skipped(SyncRun.objects.create(**fields), *refusal)
    holder = leases.new_holder_name()
    with StopSignals() as stop:
        try:
            leases.take_lease(tenant.pk, holder)
        except leases.LeaseHeld as held:
            run = SyncRun.objects.create(**fields, lease_holder=held.holder)
            return _finish_skipped(run, SyncRun.SkipReason.LEASE_HELD, str(held))
        started: SyncRun | None = None
        try:
            # Created once the lease is ours, holder included: one INSERT instead of an INSERT and an UPDATE.
            run = started = SyncRun.objects.create(**fields, lease_holder=holder)
            with leases.LeaseKeeper(tenant.pk, holder) as keeper:
                stop.arm()
                only = None if only_records is None else {
                    kind: frozenset(keys) for kind, keys in only_records.items()}
                step_runs = _run_steps(run, tenant, Heartbeat(tenant.pk, holder, keeper), registry, only_step,
                                       progress, echo, only)
                stop.hold()
            # Recorded while the lease is still ours: a free lease then always means a finished run.
            return _finish(run, step_runs)
        except Interrupted as interrupted:
            stop.hold()
            signum = interrupted.signum
            if started is not None:
                interrupted_run = started
                _written_despite_interrupt(lambda: _close_interrupted(interrupted_run, signum, holder))
            raise
        finally:
            stop.hold()
            _written_despite_interrupt(lambda: leases.release_lease(tenant.pk, holder))


class Interrupted(SystemExit):
    """SIGTERM or SIGINT arrived during a run's steps.

    A SystemExit, so no step's `except Exception` swallows it, and a process
    that does not catch it exits quietly with 128 + the signal number.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


class StopSignals:
    """SIGTERM and SIGINT around one run.

    While armed (during the steps) a signal raises Interrupted where the run is;
    otherwise (taking the lease, writing the run's end) it is held back and
    delivered, to the handler that was there before, once the run is written.
    A signal the process ignores stays ignored (django-q2's workers ignore
    SIGINT: Ctrl-C in a terminal must not cut their cycle short). Signals reach
    the main thread only, so elsewhere this does nothing.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.pending: int | None = None
        self.armed = False
        self._previous: dict[int, Any] = {}  # what signal.getsignal gave back: a handler, SIG_DFL or SIG_IGN

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                previous = signal.getsignal(signum)
                if previous in (signal.SIG_IGN, None):
                    continue
                self._previous[signum] = previous
                signal.signal(signum, self._on_signal)
        return self

    def _on_signal(self, signum: int, frame) -> None:
        self.pending = signum
        if self.armed:
            self.armed = False
            raise Interrupted(signum)

    def arm(self) -> None:
        self.armed = True
        if self.pending is not None:
            self.armed = False
            raise Interrupted(self.pending)

    def hold(self) -> None:
        self.armed = False

    def __exit__(self, exc_type, exc, traceback_) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        if self.pending is not None and exc_type is None:
            signal.raise_signal(self.pending)  # held back until the run was written; now as if it came now


def _close_interrupted(run: SyncRun, signum: int, holder: str) -> None:
    now = timezone.now()
    run.status, run.finished = SyncRun.Status.INTERRUPTED, now
    run.note = _("Interrupted by %(signal)s at %(when)s in %(holder)s; the lease was handed back.") % {
        "signal": signal.Signals(signum).name, "when": local_text(now, run.tenant, seconds=True), "holder": holder}
    run.save(update_fields=["status", "finished", "note"])


def _written_despite_interrupt(write: Callable[[], object]) -> None:
    """A write that must be tried even after an interruption, which may have cut a query short and left the
    connection unusable: once more on a new connection, then given up (logged)."""
    try:
        write()
    except DatabaseError:
        connections.close_all()
        try:
            write()
        except DatabaseError:
            # The next taker on this host sees this process gone (or the lease run out) and closes the run.
            logger.exception("Could not write the run's end or release its lease")


def step_names(registry: Mapping[str, str] | None = None) -> list[str]:
    return list((step_modules() if registry is None else registry).keys())


def _refusal(tenant: Tenant, trigger: str) -> tuple[str, str] | None:
    if not tenant.active:
        return SyncRun.SkipReason.INACTIVE, _("Tenant %(code)s is not active.") % {"code": tenant.code}
    if tenant.paused and trigger == SyncRun.Trigger.SCHEDULE:
        return SyncRun.SkipReason.PAUSED, _("Tenant %(code)s is paused.") % {"code": tenant.code}
    return None


class LeaseLost(Exception):
    pass


class Heartbeat:
    """What steps call between records: proves the lease is still ours.

    The LeaseKeeper thread renews it every third of its length, so a call only
    goes to the database when the last renewal is that old (a step that
    blocked the keeper, or a keeper that found the lease gone): a beat per
    record must not cost a query per record.
    """

    def __init__(self, tenant_id: int, holder: str, keeper: leases.LeaseKeeper) -> None:
        self.tenant_id, self.holder, self.keeper = tenant_id, holder, keeper
        self.renewed = time.monotonic()
        # Reads the run's steps share (one object per run, so nothing outlives it):
        # e.g. sync.po_reads keeps every PO step's watermark here after one query.
        self.shared: dict[str, object] = {}

    def __call__(self) -> None:
        if self.keeper.lost:
            raise LeaseLost(_("The tenant's lease expired and was taken by another run."))
        if time.monotonic() - max(self.renewed, self.keeper.renewed) < leases.renew_interval():
            return
        if not leases.renew_lease(self.tenant_id, self.holder):
            raise LeaseLost(_("The tenant's lease expired and was taken by another run."))
        self.renewed = time.monotonic()


class StepRecords:
    """The run's StepRun rows, written in bulk.

    A step's row is written when it ends, together with any finished before it
    that are still unwritten, once FLUSH_SECONDS have passed since the last
    write, and always at the end of the run: a quick cycle (nothing to do)
    costs one INSERT for all its steps, a long one shows each step within a
    few seconds of its end. A killed run loses only its last seconds' rows; its
    SyncRun stays "running", which is what it was.
    """

    FLUSH_SECONDS = 2.0

    def __init__(self) -> None:
        self.all: list[StepRun] = []
        self._unwritten: list[StepRun] = []
        self._written_at = time.monotonic()

    def add(self, step_run: StepRun) -> None:
        self.all.append(step_run)
        self._unwritten.append(step_run)
        if time.monotonic() - self._written_at >= self.FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self._unwritten:
            StepRun.objects.bulk_create(self._unwritten)
            self._unwritten = []
        self._written_at = time.monotonic()


def _run_steps(run, tenant, heartbeat, registry, only_step, progress, echo, only=None) -> list[StepRun]:
    records = StepRecords()
    try:
        for name in registry:
            if only_step and name != only_step:
                continue
            if only is not None and not exports_any(registry[name], only):
                continue
            try:
                heartbeat()
            except LeaseLost as lost:
                run.note = str(lost)
                break
            step_run = _run_one(run, tenant, name, registry[name], heartbeat, echo, only)
            records.add(step_run)
            crashpoint("pipeline:between_steps")
            if progress:
                progress(step_run)
    except Interrupted:
        _written_despite_interrupt(records.flush)  # the steps that ended before the signal
        raise
    records.flush()
    return records.all


def _run_one(run, tenant, name, module_path, heartbeat, echo, only=None) -> StepRun:
    # Not written here: StepRecords writes it, once, after the step ended.
    step_run = StepRun(run=run, step=name)
    if not _enabled(tenant, name):
        return _close(step_run, StepRun.Status.SKIPPED, _("switched off for this tenant"), StepResult(), [], 0.0)
    ctx = StepContext(tenant_id=tenant.pk, run_id=run.pk, step=name, dry_run=run.dry_run,
                      heartbeat=heartbeat, echo=echo, only=only)
    # The tenant read at the start of the run, not once more per step; a copy, so
    # nothing one step sets on it is seen by the next.
    ctx.__dict__["tenant"] = copy.copy(tenant)
    started = time.monotonic()
    try:
        module = load_step(module_path)
        result = module.run(ctx) or ctx.result
    except StepNotAvailable:
        return _close(step_run, StepRun.Status.SKIPPED, _("not available yet"), ctx.result, ctx.lines, 0.0)
    except Exception as exc:  # one failing step must not stop the next
        message = tenant.redact(short_error(exc))
        # The frames, not the exception text: that may carry a secret (an
        # outside system echoing a credential) and logs are not redacted.
        logger.error("Tenant %s step %s failed: %s\n%s", tenant.code, name, message,
                     Verbatim("".join(traceback.format_tb(exc.__traceback__))))
        ctx.lines.append(message)
        return _close(step_run, StepRun.Status.FAILED, message, ctx.result, ctx.lines, time.monotonic() - started)
    status = StepRun.Status.FAILED if result.failed else StepRun.Status.SUCCEEDED
    message = _("%(n)s record(s) failed") % {"n": result.failed} if result.failed else ""
    return _close(step_run, status, message, result, ctx.lines, time.monotonic() - started)


def _enabled(tenant: Tenant, name: str) -> bool:
    return tenant.step_enabled(name) if name in STEP_NAMES else True


def load_step(module_path: str) -> ModuleType:
    try:
        module = importlib.import_module(module_path)
    except ModuleNotFoundError as exc:
        # Only the step's own module missing means "not built yet"; a missing
        # import inside it is a real failure and must say so.
        if exc.name == module_path:
            raise StepNotAvailable(module_path) from exc
        raise
    if not callable(getattr(module, "run", None)):
        raise StepNotAvailable(module_path)
    return module


def exports_any(module_path: str, only: Mapping[str, frozenset[str]]) -> bool:
    """Whether the step writes any of the kinds a Retry names (its module's KINDS)."""
    try:
        module = load_step(module_path)
    except StepNotAvailable:
        return False
    return any(kind in only for kind in getattr(module, "KINDS", ()))


def short_error(exc: BaseException) -> str:
    text = one_line(str(exc).strip().splitlines()[0]) if str(exc).strip() else ""
    return f"{exc.__class__.__name__}: {text}"[:500] if text else exc.__class__.__name__


def bounded_log(lines: list[str]) -> list[str]:
    # Each entry stays one line whatever outside value it carries (sageconnect/logsafe.py).
    lines = [one_line(line) for line in lines]
    if len(lines) <= STEP_LOG_MAX_LINES:
        return lines
    head, tail = STEP_LOG_MAX_LINES // 2, STEP_LOG_MAX_LINES // 2 - 1
    dropped = len(lines) - head - tail
    return lines[:head] + [_("… %(n)s lines left out …") % {"n": dropped}] + lines[-tail:]


def _close(step_run, status, message, result, lines, seconds) -> StepRun:
    step_run.status = status
    step_run.message = str(message)[:500]
    step_run.created_count, step_run.updated_count = result.created, result.updated
    step_run.skipped_count, step_run.failed_count = result.skipped, result.failed
    step_run.duration = round(seconds, 3)
    step_run.log = bounded_log(lines)
    return step_run


def _finish_skipped(run: SyncRun, reason: str, note: str) -> SyncRun:
    run.status, run.skip_reason, run.note, run.finished = SyncRun.Status.SKIPPED, reason, note, timezone.now()
    run.save()
    return run


def _finish(run: SyncRun, steps: list[StepRun]) -> SyncRun:
    for field in ("created_count", "updated_count", "skipped_count", "failed_count"):
        setattr(run, field, sum(getattr(s, field) for s in steps))
    ran = [s for s in steps if s.status != StepRun.Status.SKIPPED]
    failed = [s for s in ran if s.status == StepRun.Status.FAILED]
    if not ran:
        run.status = SyncRun.Status.SKIPPED if not run.note else SyncRun.Status.FAILED
    elif not failed and not run.note:
        run.status = SyncRun.Status.SUCCEEDED
    elif len(failed) == len(ran):
        run.status = SyncRun.Status.FAILED
    else:
        run.status = SyncRun.Status.PARTIAL
    run.finished = timezone.now()
    run.save()
    # The alerts read the failed steps back; with none there is nothing to read.
    if not run.dry_run and failed:
        alert_failed_steps(run)
    return run
