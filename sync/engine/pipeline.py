"""One cycle of one tenant: take the lease, run the enabled steps as a
dependency graph (STEP_GRAPH), each isolated from the others, and record everything.

Providers first; then the CFDI path (download → import), the PO path
(upsert → close → cancel) and the payment check side by side, each branch in
a thread of its own with its own database connections; payment upload once
the CFDI import and the payment check have ended, its complement after it.
A step starts only when every step it comes after has ended. A step that
raises is recorded as failed with a short, secret-free message; the steps
that need its output this cycle (a NEEDS edge) are recorded as skipped,
naming it, and every other step still runs. A cycle started inside a
transaction (a test's) runs its steps in this thread, one at a time, in the
same graph order: other threads could not see that transaction's rows. SIGTERM or SIGINT during the steps stops the
cycle where it is: the run is closed as interrupted and the lease handed back
before the process goes on to stop. A step whose module does not exist yet is
recorded as skipped, "not available yet" — never silently left out.
The writes steps make to outside systems go through sync.engine.exporter.
"""
from __future__ import annotations

import copy
import functools
import importlib
import logging
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections
from django.utils import timezone, translation
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


# A step's prerequisites. AFTER: it starts once that step has ended, however it
# ended. NEEDS: it also consumes that step's work of this cycle, so when that
# step raised (or was skipped for the same reason) it is skipped, naming it.
# A failed *record* is no reason: only a step that raised.
AFTER, NEEDS = "after", "needs"
STEP_GRAPH: dict[str, dict[str, str]] = {
    "providers": {},
    # Vendors are created first so the other steps find them; a step that meets
    # a vendor still missing handles that per record, as it did before providers
    # ran first, so a failed providers step holds nothing back.
    "cfdi_download": {"providers": AFTER},
    # Import reads the rows download stored and sends the portal their status back.
    "cfdi_import": {"providers": AFTER, "cfdi_download": NEEDS},
    "payment_check": {"providers": AFTER},
    # A payment goes up only once Sage confirms every CFDI it pays is imported.
    "payment_upload": {"payment_check": NEEDS, "cfdi_import": NEEDS},
    "po_upsert": {"providers": AFTER},
    "po_close": {"po_upsert": NEEDS},
    "po_cancel": {"po_close": NEEDS},
    # A report from the CFDI rows and the Payment rows: whatever they are once both ended.
    "payment_complement": {"payment_upload": AFTER, "cfdi_download": AFTER},
}
# After SIGTERM/SIGINT, how long the run waits for the steps in other threads to stop at their next beat.
STOP_GRACE_SECONDS = 1.0
# Each step that runs beside others has a thread of its own, named so (at most three at once in STEP_GRAPH:
# the CFDI path, the PO path and the payment check).
STEP_THREAD_PREFIX = "sync-step"
RAISED = "_step_raised"  # set on a StepRun (not a field) whose step raised


def step_graph(registry: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """The registry's prerequisites: STEP_GRAPH for the standard steps (or settings.SYNC_STEP_GRAPH);
    a registry of its own (a test's, a site's) without a graph runs as a chain, in its order."""
    graph = getattr(settings, "SYNC_STEP_GRAPH", None)
    if graph is not None:
        return graph
    if set(registry) <= set(STEP_GRAPH) and list(registry) == [n for n in STEP_GRAPH if n in registry]:
        return STEP_GRAPH
    names = list(registry)
    return {name: ({names[i - 1]: AFTER} if i else {}) for i, name in enumerate(names)}


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
    graph: Mapping[str, Mapping[str, str]] | None = None,
) -> SyncRun:
    """Run one cycle for the tenant; the returned SyncRun says what happened.

    `only_records` (kind → keys): a person's Retry — only the steps that export
    those kinds run, each limited to those records.
    """
    tenant = Tenant.objects.get(pk=tenant_id)
    registry = step_modules() if registry is None else registry
    graph = step_graph(registry) if graph is None else graph
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
                                       progress, echo, only, graph)
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
        # Set by the run's own thread when a signal stopped it: the steps still
        # running in other threads stop at their next beat.
        self.stopped: int | None = None

    def __call__(self) -> None:
        if self.stopped is not None:
            raise Interrupted(self.stopped)
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


def _run_steps(run, tenant, heartbeat, registry, only_step, progress, echo, only=None,
               graph=None) -> list[StepRun]:
    names = [name for name in registry if not (only_step and name != only_step)
             and not (only is not None and not exports_any(registry[name], only))]
    graph = graph if graph is not None else step_graph(registry)
    # Edges to steps this run leaves out (only_step, a Retry) do not hold anything back.
    prerequisites = {name: {p: kind for p, kind in graph.get(name, {}).items() if p in names} for name in names}
    threads = _threads_allowed()
    records = StepRecords()
    ended: dict[str, StepRun] = {}
    raised: dict[str, str] = {}  # a step that raised or was skipped for one → the step that raised
    waiting = list(names)
    lease_lost = False

    def record(step_run: StepRun) -> None:
        ended[step_run.step] = step_run
        records.add(step_run)
        crashpoint("pipeline:between_steps")
        if progress:
            progress(step_run)

    finished: queue.SimpleQueue[tuple[str, StepRun | BaseException]] = queue.SimpleQueue()
    running: set[str] = set()
    try:
        while waiting or running:
            ready = [name for name in waiting if all(p in ended for p in prerequisites[name])]
            for name in ready if not lease_lost else []:
                waiting.remove(name)
                failed_before = next((raised[p] for p, kind in prerequisites[name].items()
                                      if kind == NEEDS and p in raised), None)
                if failed_before is not None:
                    raised[name] = failed_before
                    record(_close(StepRun(run=run, step=name), StepRun.Status.SKIPPED,
                                  _("not run: step %(step)s failed before it") % {"step": failed_before},
                                  StepResult(), [], 0.0))
                    continue
                try:
                    heartbeat()
                except LeaseLost as lost:
                    run.note, lease_lost = str(lost), True
                    break
                work = functools.partial(_run_one, run, tenant, name, registry[name], heartbeat, echo, only)
                # A step with nothing beside it runs in the run's own thread, as every step did before
                # the graph: a signal then interrupts it where it is, with no thread to wait for.
                if not threads or (not running and len(ready) == 1):
                    step_run = work()
                    _note_raise(step_run, raised)
                    record(step_run)
                    break  # one at a time: look again at what is ready, in registry order
                running.add(name)
                _start_thread(name, work, finished)
            if not running:
                if lease_lost:
                    break
                if waiting and not any(all(p in ended for p in prerequisites[n]) for n in waiting):
                    raise ValueError(f"The step graph has a cycle among {waiting}")
                continue
            # A timeout, so a signal's handler runs in this thread while the steps run in theirs.
            try:
                name, outcome = finished.get(timeout=0.5)
            except queue.Empty:
                continue
            running.discard(name)
            if isinstance(outcome, BaseException):
                raise outcome
            _note_raise(outcome, raised)
            record(outcome)
    except Interrupted as interrupted:
        if running:
            # The steps in other threads stop at their next beat; what ends within the grace is kept.
            # A step that does not stop in time is left to end with the process (its thread is a daemon).
            heartbeat.stopped = interrupted.signum
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            while running and time.monotonic() < deadline:
                try:
                    name, outcome = finished.get(timeout=max(0.01, deadline - time.monotonic()))
                except queue.Empty:
                    break
                running.discard(name)
                if isinstance(outcome, StepRun):
                    records.add(outcome)
        _written_despite_interrupt(records.flush)  # the steps that ended before the signal
        raise
    records.flush()
    order = {name: i for i, name in enumerate(names)}
    return sorted(records.all, key=lambda step_run: order.get(step_run.step, len(order)))


def _start_thread(name: str, work: Callable[[], StepRun],
                  finished: queue.SimpleQueue[tuple[str, StepRun | BaseException]]) -> None:
    """The step in a daemon thread of its own: a step that does not stop when the process is told to
    cannot keep the process alive (a pool's threads are joined at exit)."""
    call = _in_own_thread(work)

    def body() -> None:
        try:
            finished.put((name, call()))
        except BaseException as exc:  # noqa: BLE001 — handed to the run's thread, which decides
            finished.put((name, exc))

    threading.Thread(target=body, name=f"{STEP_THREAD_PREFIX}-{name}", daemon=True).start()


def _note_raise(step_run: StepRun, raised: dict[str, str]) -> None:
    if getattr(step_run, RAISED, False):
        raised[step_run.step] = step_run.step


def _threads_allowed() -> bool:
    """Steps in threads of their own unless settings.SYNC_STEP_THREADS is off or the caller is inside a
    transaction: a thread's own connection could not see its rows (and on SQLite would wait for its lock)."""
    if not getattr(settings, "SYNC_STEP_THREADS", True):
        return False
    return not any(conn.in_atomic_block for conn in connections.all(initialized_only=True))


def _in_own_thread(work: Callable[[], StepRun]) -> Callable[[], StepRun]:
    """`work` as the caller's thread would run it: its language, its time zone, and whatever wraps or
    captures its queries (a query counter, CaptureQueriesContext) seeing the thread's own connections'
    queries too; those connections are closed at the end."""
    language = translation.get_language()
    zone = timezone.get_current_timezone()
    initialized = connections.all(initialized_only=True)
    wrappers = {conn.alias: list(conn.execute_wrappers) for conn in initialized if conn.execute_wrappers}
    captured = {conn.alias: conn.queries_log for conn in initialized if conn.force_debug_cursor}

    def call() -> StepRun:
        try:
            for alias, chain in wrappers.items():
                connections[alias].execute_wrappers = list(chain)
            for alias, log in captured.items():
                # The same deque (appends are thread-safe): the caller's capture counts these queries.
                connections[alias].force_debug_cursor, connections[alias].queries_log = True, log
            with translation.override(language):
                timezone.activate(zone)
                try:
                    return work()
                finally:
                    timezone.deactivate()
        finally:
            for alias in wrappers:
                connections[alias].execute_wrappers = []
            for alias in captured:
                connections[alias].force_debug_cursor = False
            connections.close_all()
    return call


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
        setattr(step_run, RAISED, True)  # tells the graph to skip the steps that need this one
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
