"""A real `manage.py sync` stopped mid-cycle — kill -9 (a crash, the OOM
killer, a task scheduler's hard stop) or SIGTERM (systemd, a scheduler's
"stop") — and `serve` killed outright while its cluster runs a cycle.

The next run starts at once, well within the lease bound, and takes over
from the dead holder; the stopped run is closed as interrupted; nothing is
duplicated or lost (compared with a fault-free run); no process is left.
"""
from __future__ import annotations

import signal
import sys
import time

import pytest

from sandbox.faults import clear_faults, set_faults
from sync.engine.lease import lease_seconds
from tests.faults.support import SITE_CODE, buyer_changes, cycle, differences, new_site, outside_state
from tests.sync.conftest import SAGE_DB
from tests.sync.processes import Installation, descendants, start, wait_until_gone
from tests.sync.test_serve import free_port

pytestmark = [SAGE_DB, pytest.mark.slow]


# Added to every stand-in answer while the cycle to stop runs: the first step rows are written a couple of
# seconds into a run (sync.engine.pipeline.StepRecords), and a cycle of this plan is quicker than that
# without it — the signal would find the run over and the process exiting (killed by it: -15, not 143).
SLOW_ANSWERS_MS = 250


def sync_stopped_mid_cycle(site, world, signum: int):
    """Start a cycle, wait until its first steps are recorded, send `signum`; the process's exit code."""
    systems = [f"portal:{world.portal_tenant_id}", f"sage:{world.webapi_company.upper()}"]
    for system in systems:
        set_faults(system, latency_ms=SLOW_ANSWERS_MS, error_rate=0, drop_rate=0, malformed_rate=0)
    try:
        process = start([sys.executable, "manage.py", "sync", "--tenant", SITE_CODE], env=site.env)
        deadline = time.monotonic() + 120
        while not site.query("SELECT id FROM sync_steprun"):
            assert process.poll() is None, f"the cycle ended before it could be stopped: {process.communicate()}"
            assert time.monotonic() < deadline, "no step was recorded within 120 s"
            time.sleep(0.05)
        assert site.query("SELECT id FROM sync_syncrun WHERE status = 'running'"), "the run ended before the signal"
        process.send_signal(signum)
        return process.wait(timeout=60)
    finally:
        for system in systems:
            clear_faults(system)


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_it_runs_the_next_cycle_at_once_and_loses_nothing(world, plan, fault_free_state, tmp_path, signum):
    site = new_site(world, tmp_path)

    code = sync_stopped_mid_cycle(site, world, signum)
    stopped = time.monotonic()
    cycle(site, 1)  # no waiting for the lease to run out
    next_run_within = time.monotonic() - stopped

    assert code == (-signal.SIGKILL if signum == signal.SIGKILL else 128 + signal.SIGTERM)
    runs = site.query("SELECT status, skip_reason, note FROM sync_syncrun ORDER BY id")
    assert [(status, skip) for status, skip, _ in runs][0] == ("interrupted", "")
    assert runs[1][0] in ("succeeded", "partial") and runs[1][1] == "", runs
    expected = "its process has ended" if signum == signal.SIGKILL else "Interrupted by SIGTERM"
    assert expected in runs[0][2], runs[0][2]
    assert next_run_within < lease_seconds()
    buyer_changes(world, plan)
    cycle(site, 2)
    cycle(site, 3)
    assert differences(fault_free_state, outside_state(world)) == {}


def test_it_leaves_no_process_when_serve_is_killed_and_the_next_serve_runs_the_tenant(tmp_path):
    site = Installation(tmp_path, steps={"providers": "tests.sync.steps.slow"}, SYNC_TEST_SLOW_SECONDS="300")
    site.add_tenant("alpha")
    serve = site.start("serve", "--mode", "all", "--port", str(free_port()), "--grace", "30")
    site.manage("shell", "-c", "from django_q.tasks import async_task; "
                "async_task('sync.tasks.run_scheduled_cycle', 1)", check=True)
    site.wait_for("SELECT id FROM sync_syncrun WHERE status = 'running'", timeout=60)
    family = descendants(serve.pid)
    # gunicorn's master and workers; the cluster's main process, its sentinel, workers, monitor, pusher
    assert len(family) >= 8, family

    serve.kill()
    serve.wait(timeout=10)

    assert wait_until_gone(family, timeout=30) == []
    (status, note), = site.query("SELECT status, note FROM sync_syncrun WHERE skip_reason = ''")
    assert status == "interrupted" and "Interrupted by SIGTERM" in note, note
    assert site.query("SELECT holder FROM sync_tenantlease") == [("",)]

    site.env["SYNC_TEST_SLOW_SECONDS"] = "0"
    again = site.start("serve", "--mode", "worker", "--grace", "30")
    site.manage("shell", "-c", "from django_q.tasks import async_task; "
                "async_task('sync.tasks.run_scheduled_cycle', 1)", check=True)
    site.wait_for("SELECT id FROM sync_syncrun WHERE status = 'succeeded'", timeout=60)
    family = descendants(again.pid)
    again.send_signal(signal.SIGTERM)
    assert again.wait(timeout=60) == 0
    assert wait_until_gone(family) == []
