"""What a phase of the benchmark costs: SQL queries, HTTP calls the stand-ins served, memory."""
from __future__ import annotations

import resource
import sys
import threading
import time
from collections import Counter
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from django.db import connections


class SqlCounter:
    """Counts the queries this process sends, per database alias, while `counting`."""

    def __init__(self, aliases: list[str]) -> None:
        self.aliases = aliases
        self.counts: Counter[str] = Counter()
        # Per thread: the bench's own look between steps pauses its thread's counting, not that of
        # the steps still running in theirs (the pipeline hands them this counter's wrappers).
        self._local = threading.local()
        self._lock = threading.Lock()
        self._stack = ExitStack()

    def __enter__(self) -> SqlCounter:
        for alias in self.aliases:
            self._stack.enter_context(connections[alias].execute_wrapper(self._wrapper(alias)))
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def _wrapper(self, alias: str):
        def count(execute, sql, params, many, context):
            if not getattr(self._local, "paused", False):
                with self._lock:
                    self.counts[alias] += 1
            return execute(sql, params, many, context)
        return count

    @contextmanager
    def not_counting(self):
        self._local.paused = True
        try:
            yield
        finally:
            self._local.paused = False

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)


class AccessLog:
    """The stand-ins' gunicorn access log, read from where the last look stopped.

    Every HTTP request the stand-ins answered, retries and file downloads
    included, is one line "METHOD PATH STATUS MICROSECONDS"; the stand-in's own counters
    (SandboxPortalTenant.reads/writes) miss the storage downloads.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def skip_to_end(self) -> None:
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def take(self) -> Counter[str]:
        if not self.path.exists():
            return Counter()
        with self.path.open("rb") as log:
            log.seek(self.offset)
            data = log.read()
        # Only whole lines: gunicorn may be half-way through writing the last one.
        end = data.rfind(b"\n") + 1
        self.offset += end
        calls: Counter[str] = Counter()
        for line in data[:end].decode(errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 3:
                keys = classify(parts[0], parts[1], parts[2])
                calls.update(keys)
                if len(parts) >= 4 and parts[3].isdigit():
                    # Time the stand-in spent on the request (µs), injected latency included.
                    calls[keys[0].split(":", 1)[0] + ":server_ms"] += int(parts[3]) // 1000
        return calls


def classify(method: str, path: str, status: str) -> list[str]:
    """Counter keys for one request: "<system>:<tenant>:reads|writes|downloads" and its failures."""
    if path.startswith("/sandbox/portal/files/"):
        keys = ["portal:*:downloads"]
    elif path.startswith("/sandbox/portal/api/"):
        tenant = path.split("/tenants/", 1)[1].split("/", 1)[0] if "/tenants/" in path else "?"
        keys = [f"portal:{tenant}:{'reads' if method in ('GET', 'HEAD') else 'writes'}"]
    elif path.startswith("/sandbox/sage/"):
        company = path.split("/-/", 1)[1].split("/", 1)[0].upper() if "/-/" in path else "?"
        keys = [f"sage:{company}:{'reads' if method in ('GET', 'HEAD') else 'writes'}"]
    else:
        keys = ["other"]
    if not status.startswith(("2", "3")):
        keys.append(keys[0].rsplit(":", 1)[0] + ":failed")
    return keys


def peak_memory_mb() -> float:
    """This process's peak resident set so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


class MemoryDuring:
    """This process's (or process `pid`'s) resident set while a piece of work runs: at its start and at its
    highest, sampled every `every` seconds. `peak_memory_mb` is the whole process's peak, the bench's own
    plan building included."""

    def __init__(self, every: float = 0.05, pid: int | None = None) -> None:
        self._process, self._every = psutil.Process(pid), every
        self._stop = threading.Event()
        self.start_mb = self.peak_mb = 0.0

    def _rss_mb(self) -> float:
        try:
            return round(self._process.memory_info().rss / (1024 * 1024), 1)
        except psutil.Error:  # a child process that has just ended has no resident set
            return 0.0

    def _sample(self) -> None:
        while not self._stop.wait(self._every):
            self.peak_mb = max(self.peak_mb, self._rss_mb())

    def __enter__(self) -> "MemoryDuring":
        self.start_mb = self.peak_mb = self._rss_mb()
        self._thread = threading.Thread(target=self._sample, name="bench-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._rss_mb())


@dataclass
class Phase:
    """One measured piece of work: a step of a cycle, or a whole baseline part."""

    name: str
    seconds: float = 0.0
    sql: dict[str, int] = field(default_factory=dict)
    http: dict[str, int] = field(default_factory=dict)
    minimum: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    status: str = ""
    message: str = ""

    def as_json(self) -> dict:
        return {"name": self.name, "seconds": round(self.seconds, 3), "sql": self.sql, "http": self.http,
                "minimum_calls": self.minimum, "counts": self.counts, "status": self.status,
                "message": self.message}


class Meter:
    """Deltas of every counter between two looks: one look per phase boundary."""

    def __init__(self, sql: SqlCounter, log: AccessLog) -> None:
        self.sql, self.log = sql, log
        self._sql_before = sql.snapshot()
        self._started = time.perf_counter()

    def restart(self) -> None:
        self.log.take()
        self._sql_before = self.sql.snapshot()
        self._started = time.perf_counter()

    def close(self, phase: Phase) -> Phase:
        phase.seconds = time.perf_counter() - self._started
        now = self.sql.snapshot()
        # gunicorn writes a request's log line just after the answer went out;
        # the wait is outside every phase's seconds.
        time.sleep(0.05)
        phase.sql = {alias: now.get(alias, 0) - self._sql_before.get(alias, 0) for alias in self.sql.aliases}
        phase.http = dict(self.log.take())
        self._sql_before = now
        self._started = time.perf_counter()
        return phase
