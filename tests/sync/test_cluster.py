"""A scheduled cycle through a real cluster process (`manage.py cluster`), with each broker; its stop."""
import os
import signal
import socket
import time

import psutil
import pytest
from lxml import etree

from cfdi import xsd
from sync.management.commands.cluster import compile_schemas_for_workers
from tests.support import needs_redis
from tests.sync.processes import Installation, group_alive

# django-q2's guard loop calls the scheduler every 30 s; the test runs that
# same function once in a separate process instead of waiting for the tick.
RUN_SCHEDULER = ("from django_q.brokers import get_broker; from django_q.scheduler import scheduler; "
                 "scheduler(broker=get_broker())")


@pytest.mark.slow
@pytest.mark.parametrize("broker", ["orm", pytest.param("redis", marks=[needs_redis, pytest.mark.redis])])
def test_it_runs_a_tenants_scheduled_cycle_in_the_cluster_and_records_it(tmp_path, broker):
    extra = {"REDIS_URL": "redis://127.0.0.1:6379/0"} if broker == "redis" else {}
    site = Installation(tmp_path, steps={"providers": "tests.sync.steps.counting"}, **extra)
    site.add_tenant("alpha")
    assert site.query("SELECT func, minutes FROM django_q_schedule WHERE name != 'prune history'") == [
        ("sync.tasks.run_scheduled_cycle", 10)]
    used = site.manage("shell", "-c", "from django_q.brokers import get_broker; print(type(get_broker()).__name__)")
    assert used.stdout.strip().splitlines()[-1] == {"orm": "ORM", "redis": "Redis"}[broker]
    cluster = site.start("cluster")
    try:
        site.manage("shell", "-c", RUN_SCHEDULER, check=True)
        runs = site.wait_for(
            "SELECT status, trigger, created_count FROM sync_syncrun WHERE finished IS NOT NULL", timeout=30)
        tasks = site.wait_for("SELECT success, result FROM django_q_task", timeout=10)
    finally:
        cluster.send_signal(signal.SIGTERM)
        out, err = cluster.communicate(timeout=30)
    assert runs == [("succeeded", "schedule", 1)], err[-2000:]
    assert tasks[0][0] == 1


# --- its stop ------------------------------------------------------------------------

@pytest.mark.slow
def test_a_stop_signal_at_any_moment_of_its_start_stops_it(tmp_path):
    """django-q2's qcluster could lose a SIGTERM, or deadlock on it, while starting its sentinel (see
    sync/management/commands/cluster.py): the signal lands before, during and after the start here."""
    site = Installation(tmp_path)
    for delay in (0.7, 1.0, 1.3, 1.6, 2.5):
        cluster = site.start("cluster")
        time.sleep(delay)
        cluster.send_signal(signal.SIGTERM)
        code = cluster.wait(timeout=20)
        # 0: stopped; -SIGTERM: the signal came before Django had started, where nothing runs yet to stop.
        assert code in (0, -signal.SIGTERM), (delay, code, cluster.stderr.read()[-2000:])
        deadline = time.monotonic() + 10
        while group_alive(cluster.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not group_alive(cluster.pid), f"something of the cluster outlived it (signal after {delay} s)"


@pytest.mark.slow
def test_it_exits_1_when_its_sentinel_dies(tmp_path):
    site = Installation(tmp_path)
    cluster = site.start("cluster")
    # Killed once the cluster runs (django-q2 logs it): a sentinel killed while starting is the start's
    # failure, said differently.
    for line in cluster.stderr:
        if "running." in line:
            break
    sentinel = _children(cluster.pid)
    assert len(sentinel) == 1, f"the cluster's children: {sentinel}"
    os.kill(sentinel[0], signal.SIGKILL)
    assert cluster.wait(timeout=20) == 1
    assert "sentinel ended by itself" in cluster.stderr.read()  # EOF: no orphan holds its stderr open any more
    assert not group_alive(cluster.pid), "the sentinel's workers outlived the cluster"


def _children(pid: int) -> list[int]:
    try:
        return [child.pid for child in psutil.Process(pid).children()]
    except psutil.NoSuchProcess:
        return []


def test_it_says_in_one_sentence_which_broker_does_not_answer(tmp_path):
    closed = _closed_port()
    site = Installation(tmp_path, REDIS_URL=f"redis://:broker-secret@127.0.0.1:{closed}/0")
    answer = site.manage("cluster", timeout=60)
    assert answer.returncode == 1
    assert f"its broker, Redis at 127.0.0.1:{closed} (REDIS_URL), does not answer" in answer.stderr
    assert "Traceback" not in answer.stderr and "broker-secret" not in answer.stderr


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when this returns: nothing listens there


def test_it_compiles_the_cfdi_schemas_before_forking_the_workers(monkeypatch):
    # What the workers inherit instead of each compiling its own copy at its first CFDI.
    monkeypatch.setattr(xsd, "_compiled", None)
    compile_schemas_for_workers()
    assert xsd._compiled is not None
    assert xsd.schema_errors(etree.fromstring(b"<x/>"))  # the built schema answers: <x/> is no CFDI


def test_a_schema_build_that_fails_before_forking_is_logged_and_the_cluster_starts(monkeypatch, caplog, tmp_path):
    # The schema files are not where satcfdi put them (a broken install): the real build fails on them.
    monkeypatch.setattr(xsd, "_compiled", None)
    monkeypatch.setattr(xsd, "SAT_ROOT", tmp_path / "sitio_internet")
    compile_schemas_for_workers()  # does not raise: each worker tries again at its first CFDI
    assert "could not be compiled" in caplog.text and "cfdv40.xsd" in caplog.text
    assert xsd._compiled is None
