"""/metrics: Prometheus's format, from the database and the clients' call counters, behind a token or an address
list."""
from __future__ import annotations

import signal
import socket
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.sync.processes import Installation

TOKEN = "metrics-token-4f9a2c"


def _samples(text: str) -> dict[tuple, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


# --- who may read them ----------------------------------------------------------------

def test_it_answers_nobody_when_neither_a_token_nor_addresses_are_set(client, db):
    response = client.get("/metrics")
    assert response.status_code == 403
    assert "SAGECONNECT_METRICS_ALLOW" in response.content.decode()


def test_it_answers_the_right_token_only(client, db, settings):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 403


def test_it_answers_allowed_addresses_only(client, db, settings):
    settings.METRICS_ALLOW = ["10.0.0.0/24", "192.0.2.9"]
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.9").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.0.1.7").status_code == 403


def test_it_judges_the_address_the_proxy_saw(client, db, settings):
    settings.METRICS_ALLOW = ["10.0.0.0/24"]
    settings.PROXY_COUNT = 1
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.0.0.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1",
                      HTTP_X_FORWARDED_FOR="10.0.0.7, 203.0.113.5").status_code == 403


# --- counted across processes under `serve` ------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, headers: dict) -> str:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as answer:
        return answer.read().decode()


@pytest.mark.slow
def test_it_counts_the_calls_of_a_sync_run_by_another_process(tmp_path):
    port = _free_port()
    site = Installation(tmp_path, SAGECONNECT_METRICS_TOKEN=TOKEN, SAGECONNECT_SANDBOX="true",
                        SAGECONNECT_SANDBOX_URL=f"http://127.0.0.1:{port}",
                        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"))
    serve = site.start("serve", "--mode", "web", "--port", str(port))
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                _get(f"http://127.0.0.1:{port}/healthz", {})
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                assert time.monotonic() < deadline and serve.poll() is None, "serve did not start"
                time.sleep(0.3)
        site.manage("sandbox", "company", "--tenant", "demo", "--vendors", "3", "--pos", "2", "--cfdis", "3",
                    "--payments", "1", check=True, timeout=120)
        site.manage("sync", "--tenant", "demo", "--step", "cfdi_download", check=True, timeout=180)

        samples = _samples(_get(f"http://127.0.0.1:{port}/metrics", {"Authorization": f"Bearer {TOKEN}"}))
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)
    assert _value(samples, "sageconnect_outside_calls_total", system="portal", tenant="demo", outcome="ok") >= 3
    assert _value(samples, "sageconnect_outside_calls_total", system="portal_files", tenant="demo", outcome="ok") == 3
    assert _value(samples, "sageconnect_runs", tenant="demo", status="succeeded") == 1
