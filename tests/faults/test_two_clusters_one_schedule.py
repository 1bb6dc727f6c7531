"""Two django-q2 clusters (two real `manage.py cluster` processes, one ORM broker) and
two schedulers ticking at the same moment, for 10 slots: each tenant's cycle
ran exactly once per slot and never twice at the same time."""
from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time

import pytest

from tests.sync.processes import Installation, start

pytestmark = pytest.mark.slow

SLOTS = 10
TENANTS = ("alpha", "bravo", "charlie")
# One "cluster's scheduler": django-q2's own scheduler function, called at each
# slot the test opens (its guard loop would call it every 30 s).
TICKER = """
import pathlib, time
from django_q.brokers import get_broker
from django_q.scheduler import scheduler
folder = pathlib.Path({folder!r})
broker = get_broker()
(folder / "ready-{name}").touch()
for slot in range(1, {slots} + 1):
    while not (folder / f"slot-{{slot}}").exists():
        time.sleep(0.02)
    scheduler(broker=broker)
    (folder / f"ticked-{{slot}}-{name}").touch()
"""


def wait_for_files(folder, names: list[str], tickers: list, timeout: float = 120) -> None:
    # Process start-up is slow on a busy machine; the slots are timed from here.
    deadline = time.monotonic() + timeout
    while not all((folder / name).exists() for name in names):
        if time.monotonic() > deadline or any(t.poll() is not None for t in tickers):
            raise AssertionError(f"the scheduler processes did not start: {[t.poll() for t in tickers]}")
        time.sleep(0.1)


def open_slot(site: Installation, slot: int) -> None:
    # Due a second ago: django-q2 (catch_up off) then sets the next run one period on.
    due = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    site.query("UPDATE django_q_schedule SET next_run = ? WHERE func = 'sync.tasks.run_scheduled_cycle'", due)
    (site.var_dir / f"slot-{slot}").touch()


def wait_until_idle(site: Installation, slot: int, tickers: list, timeout: float = 30) -> None:
    """Both schedulers ticked, the queue is empty and no cycle is running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ticker in tickers:
            if ticker.poll() not in (None, 0):
                raise AssertionError(f"a scheduler process failed: {ticker.stderr.read()[-3000:]}")
        ticked = all((site.var_dir / f"ticked-{slot}-{name}").exists() for name in ("one", "two"))
        queued = site.query("SELECT COUNT(*) FROM django_q_ormq")[0][0]
        running = site.query("SELECT COUNT(*) FROM sync_syncrun WHERE finished IS NULL")[0][0]
        if ticked and not queued and not running:
            return
        time.sleep(0.1)
    raise AssertionError(f"slot {slot} did not settle within {timeout}s: ticked {ticked}, {queued} queued, "
                         f"{running} running; schedules {site.query('SELECT name, next_run FROM django_q_schedule')}; "
                         f"runs {site.query('SELECT tenant_id, status, skip_reason FROM sync_syncrun')}")


def test_it_runs_each_tenant_once_per_slot(tmp_path):
    site = Installation(tmp_path, steps={"providers": "tests.sync.steps.counting"})
    for code in TENANTS:
        site.add_tenant(code)
    clusters = [site.start("cluster") for _ in range(2)]
    tickers = [start([sys.executable, "manage.py", "shell", "-c",
                      TICKER.format(folder=str(tmp_path), slots=SLOTS, name=name)], env=site.env)
               for name in ("one", "two")]
    try:
        wait_for_files(tmp_path, ["ready-one", "ready-two"], tickers)
        for slot in range(1, SLOTS + 1):
            open_slot(site, slot)
            wait_until_idle(site, slot, tickers)
            ran = dict(site.query(
                "SELECT t.code, COUNT(*) FROM sync_syncrun r JOIN tenants_tenant t ON t.id = r.tenant_id "
                "WHERE r.status != 'skipped' GROUP BY t.code"))
            assert ran == {code: slot for code in TENANTS}, f"after slot {slot}: {ran}"
    finally:
        for process in clusters:
            process.send_signal(signal.SIGTERM)
        for process in tickers:
            process.send_signal(signal.SIGINT)
        for process in clusters + tickers:
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    runs = site.query("SELECT tenant_id, started, finished FROM sync_syncrun WHERE status != 'skipped' "
                      "ORDER BY tenant_id, started")
    for (tenant, _, finished), (next_tenant, next_started, _) in zip(runs, runs[1:]):
        if tenant == next_tenant:
            assert finished <= next_started  # never two cycles of one tenant at once
