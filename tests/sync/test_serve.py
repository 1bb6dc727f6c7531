"""`manage.py serve`: the web and the cluster as one supervised pair."""
import os
import re
import signal
import socket
import time
import urllib.request

import pytest

from tests.sync.processes import Installation, descendants, wait_until_gone

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return answer.status
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout}s")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        # A zombie is dead for our purposes; only the parent can reap it.
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def child_pids(serve, count: int) -> dict[str, int]:
    pids: dict[str, int] = {}
    while len(pids) < count:
        line = serve.stdout.readline()
        assert line, "serve ended before starting its children"
        found = re.search(r"(web|worker) started \(pid (\d+)\)", line)
        if found:
            pids[found.group(1)] = int(found.group(2))
    return pids


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return Installation(tmp_path_factory.mktemp("serve"))


def test_it_serves_web_and_worker_and_stops_both_on_sigterm(site, tmp_path):
    port = free_port()
    site.env["HOME"] = str(tmp_path)  # where gunicorn 27 would open its control socket (~/.gunicorn/gunicorn.ctl)
    serve = site.start("serve", "--mode", "all", "--port", str(port))
    pids = child_pids(serve, 2)
    assert wait_for_http(f"http://127.0.0.1:{port}/admin/login/") == 200
    assert not (tmp_path / ".gunicorn").exists()
    serve.send_signal(signal.SIGTERM)
    assert serve.wait(timeout=30) == 0
    time.sleep(0.5)
    assert not alive(pids["web"]) and not alive(pids["worker"])


def test_it_stops_the_worker_and_exits_when_the_web_dies(site):
    port = free_port()
    serve = site.start("serve", "--mode", "all", "--port", str(port))
    pids = child_pids(serve, 2)
    wait_for_http(f"http://127.0.0.1:{port}/admin/login/")
    os.kill(pids["web"], signal.SIGKILL)
    assert serve.wait(timeout=30) != 0
    time.sleep(0.5)
    assert not alive(pids["worker"])


# --- stopping mid-cycle ------------------------------------------------------------

QUEUE_CYCLE = "from django_q.tasks import async_task; async_task('sync.tasks.run_scheduled_cycle', 1)"


def slow_site(tmp_path, seconds: float) -> Installation:
    site = Installation(tmp_path, steps={"providers": "tests.sync.steps.slow"},
                        SYNC_TEST_SLOW_SECONDS=str(seconds))
    site.add_tenant("alpha")
    return site


def start_cycle(site: Installation) -> None:
    site.manage("shell", "-c", QUEUE_CYCLE, check=True)
    site.wait_for("SELECT id FROM sync_syncrun WHERE status = 'running'", timeout=60)


def test_it_lets_the_cycle_finish_on_sigterm_and_stops_the_web_last(tmp_path):
    site = slow_site(tmp_path, 8)
    port = free_port()
    serve = site.start("serve", "--mode", "all", "--port", str(port), "--grace", "60")
    child_pids(serve, 2)
    wait_for_http(f"http://127.0.0.1:{port}/admin/login/")
    start_cycle(site)
    family = descendants(serve.pid)
    serve.send_signal(signal.SIGTERM)
    time.sleep(2)
    # The cycle is still running and the pages still answer: the web stops last.
    assert site.query("SELECT status FROM sync_syncrun") == [("running",)]
    assert wait_for_http(f"http://127.0.0.1:{port}/admin/login/", timeout=5) == 200
    assert serve.wait(timeout=60) == 0
    assert site.query("SELECT status FROM sync_syncrun WHERE skip_reason = ''") == [("succeeded",)]
    assert wait_until_gone(family) == []


def test_it_makes_the_cycle_hand_its_lease_back_when_the_grace_runs_out(tmp_path):
    site = slow_site(tmp_path, 300)
    serve = site.start("serve", "--mode", "worker", "--grace", "2")
    child_pids(serve, 1)
    start_cycle(site)
    family = descendants(serve.pid)
    stopped_at = time.monotonic()
    serve.send_signal(signal.SIGTERM)
    assert serve.wait(timeout=60) == 0
    assert time.monotonic() - stopped_at < 2 + 15 + 5
    (status, note), = site.query("SELECT status, note FROM sync_syncrun WHERE skip_reason = ''")
    assert status == "interrupted" and "Interrupted by SIGTERM" in note, note
    assert site.query("SELECT holder FROM sync_tenantlease") == [("",)]
    assert wait_until_gone(family) == []


def test_it_refuses_a_second_cluster_on_the_same_database(tmp_path):
    site = slow_site(tmp_path, 1)
    first = site.start("serve", "--mode", "worker", "--grace", "10")
    child_pids(first, 1)
    second = site.manage("serve", "--mode", "worker", timeout=60)
    assert second.returncode != 0
    assert "still runs on database" in second.stderr and f"pid {first.pid}" in second.stderr, second.stderr
    assert first.poll() is None
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) == 0
