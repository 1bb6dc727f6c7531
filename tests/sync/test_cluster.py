"""A scheduled cycle through a real `qcluster` process, with each broker."""
import signal

import pytest

from tests.support import needs_redis
from tests.sync.processes import Installation

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
    cluster = site.start("qcluster")
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
