"""`manage.py serve`: the web and the cluster as one supervised pair."""
import os
import re
import signal
import socket
import time
import urllib.request

import pytest

from tests.sync.processes import Installation

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


def test_it_serves_web_and_worker_and_stops_both_on_sigterm(site):
    port = free_port()
    serve = site.start("serve", "--mode", "all", "--port", str(port))
    pids = child_pids(serve, 2)
    assert wait_for_http(f"http://127.0.0.1:{port}/admin/login/") == 200
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
