"""Counters of the HTTP calls made to outside systems (portal, portal file links, Sage Web API).

The clients count each attempt here, in whatever process makes it; /metrics
(sync.metrics) serves the counts. `manage.py serve` points every process it
starts at one PROMETHEUS_MULTIPROC_DIR, so the web answers for the workers too.
This module imports no app: the clients below everything else use it.
"""
from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
calls_registry = CollectorRegistry(auto_describe=True)
OUTSIDE_CALLS = Counter(
    "sageconnect_outside_calls", "HTTP requests made to outside systems, by system, tenant and outcome.",
    ["system", "tenant", "outcome"], registry=calls_registry,
)


def count_call(system: str, tenant: str, ok: bool) -> None:
    """One HTTP attempt to an outside system: `ok` when it answered below 400."""
    OUTSIDE_CALLS.labels(system=system, tenant=tenant, outcome="ok" if ok else "error").inc()


def prepare_multiprocess_dir(var_dir: Path) -> str:
    """The directory `serve`'s processes share their counters in, emptied at start."""
    folder = Path(os.environ.get(MULTIPROC_VARIABLE) or var_dir / "prometheus")
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)
    return str(folder)


class AdaptiveLimit:
    """How many calls one tenant may have under way at once to one outside system, adapted as it goes
    (additive increase, multiplicative decrease — TCP's way):

    - halved on a 429 or 503, a timeout or a dropped connection, and when answers grow slow (the mean of
      the recent answers of one kind of call over twice the fastest of that kind, and a quarter second over
      it): the system is telling us to slow down. Each kind of call (`call_kind`: the method and the path
      without its ids) is judged against itself: a batch of 200 orders or a page of 200 CFDIs is slower
      than one small read by nature, not because the system is straining;
    - one more after as many good answers in a row as the window is wide, up to `ceiling`.

    Every call also holds one of the process's slots (PROCESS_SLOTS, settings.OUTSIDE_CALLS_PER_PROCESS),
    so many tenants in one worker never flood a system between them. `windows` keeps every width the
    window took, for the tests and the benchmark.
    """

    SLOW_FACTOR = 2.0
    # Slower by this much too, so a few milliseconds' jitter on a quick system is no alarm.
    SLOW_MARGIN_SECONDS = 0.25

    def __init__(self, start: int, ceiling: int, floor: int = 1) -> None:
        self.floor, self.ceiling = floor, max(floor, ceiling)
        self.window = min(max(start, floor), self.ceiling)
        self.windows: list[int] = [self.window]
        self.in_flight = 0
        self._streak = 0
        # By kind of call: (the fastest good answer's seconds, the exponentially weighted mean of the recent ones).
        self._latency: dict[str, tuple[float, float]] = {}
        self._changed_at: int | None = None  # calls finished when it last shrank: one shrink per window of answers
        self._finished = 0
        self._ready = threading.Condition()

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._ready:
            while self.in_flight >= self.window:
                self._ready.wait()
            self.in_flight += 1
        process_slots().acquire()
        try:
            yield
        finally:
            process_slots().release()
            with self._ready:
                self.in_flight -= 1
                self._ready.notify_all()

    def answered(self, seconds: float, *, ok: bool, throttled: bool = False, kind: str = "") -> None:
        """One call's outcome: `throttled` for a 429, a timeout or a dropped connection; `ok` below 400;
        `kind` the kind of call its time is compared with (call_kind)."""
        with self._ready:
            self._finished += 1
            if throttled:
                self._shrink()
            elif ok:
                fastest, recent = self._latency.get(kind, (seconds, seconds))
                fastest, recent = min(fastest, seconds), 0.8 * recent + 0.2 * seconds
                slow = recent > max(self.SLOW_FACTOR * fastest, fastest + self.SLOW_MARGIN_SECONDS)
                # Judged afresh at the smaller window.
                self._latency[kind] = (fastest, fastest * 1.2 if slow else recent)
                if slow:
                    self._shrink()
                else:
                    self._streak += 1
                    if self._streak >= self.window and self.window < self.ceiling:
                        self._set(self.window + 1)
            self._ready.notify_all()

    def _shrink(self) -> None:
        self._streak = 0
        # The answers to calls sent before the last shrink say nothing new: once per window's worth of answers.
        if self._changed_at is not None and self._finished - self._changed_at < self.window:
            return
        self._changed_at = self._finished
        self._set(max(self.floor, self.window // 2))

    def _set(self, width: int) -> None:
        self._streak = 0
        if width != self.window:
            self.window = width
            self.windows.append(width)


_IDS = re.compile(r"/(?=[^/]*\d)[^/]+")


def call_kind(method: str, path: str) -> str:
    """A call's kind for AdaptiveLimit: the method and the path with every segment that holds a digit (ids,
    UUIDs, DOCNBRs, keys in parentheses) as `/*`. `GET /api/1.0/extern/tenants/*/cfdis/*/files`."""
    return f"{method} {_IDS.sub('/*', path.split('?', 1)[0])}"


_limits: dict[tuple[str, str], AdaptiveLimit] = {}
_limits_lock = threading.Lock()
_process_slots: threading.BoundedSemaphore | None = None


def process_slots() -> threading.BoundedSemaphore:
    global _process_slots
    with _limits_lock:
        if _process_slots is None:
            from django.conf import settings  # settings, not an app: this module stays below every app
            _process_slots = threading.BoundedSemaphore(max(1, int(getattr(settings, "OUTSIDE_CALLS_PER_PROCESS", 32))))
        return _process_slots


def limit_for(system: str, tenant: str) -> AdaptiveLimit:
    """The tenant's window on that system in this process: shared by every client and thread calling it."""
    with _limits_lock:
        limit = _limits.get((system, tenant))
        if limit is None:
            from django.conf import settings
            limit = _limits[(system, tenant)] = AdaptiveLimit(
                start=int(getattr(settings, "OUTSIDE_CALLS_START", 8)),
                ceiling=int(getattr(settings, "OUTSIDE_CALLS_PER_TENANT", 16)))
        return limit


def forget_limits() -> None:
    """A fresh start (tests; a changed setting)."""
    global _process_slots
    with _limits_lock:
        _limits.clear()
        _process_slots = None
