"""Counters of the HTTP calls made to outside systems (portal, portal file links, Sage Web API).

The clients count each attempt here, in whatever process makes it; /metrics
(sync.metrics) serves the counts. `manage.py serve` points every process it
starts at one PROMETHEUS_MULTIPROC_DIR, so the web answers for the workers too.
This module imports no app: the clients below everything else use it.
"""
from __future__ import annotations

import os
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
