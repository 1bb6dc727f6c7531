"""Static files from the app server itself (WhiteNoise), a favicon, and error pages in the site's look, in Spanish."""
from __future__ import annotations

import re
import signal
import socket
import time
import urllib.error
import urllib.request

import pytest
from django.test import RequestFactory
from django.utils import translation
from django.views.defaults import server_error

from tests.sync.processes import Installation

SPANISH = {"Accept-Language": "es-MX,es;q=0.9"}
SITE_LOOK = "font: 14px/1.4 system-ui"  # base.html's own style sheet


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _wait_for(url: str, process, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-2000:]
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout}s")


@pytest.fixture
def served(tmp_path_factory):
    """`manage.py serve --mode web` on a fresh installation, DEBUG off, nothing collected beforehand.

    One per test: every process a test starts is stopped when that test ends (tests/conftest.py)."""
    site = Installation(tmp_path_factory.mktemp("static"))
    port = _free_port()
    serve = site.start("serve", "--mode", "web", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/login/", serve)
        yield base
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(timeout=30)
        except Exception:
            serve.kill()
            serve.wait()


@pytest.mark.slow
def test_it_serves_the_admin_styled_with_compressed_hashed_files(served):
    status, _headers, page = _get(f"{served}/admin/login/")
    assert status == 200
    stylesheet = re.search(rb'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page)
    assert stylesheet, "the admin's style sheet is not linked by its hashed name"

    status, headers, body = _get(served + stylesheet.group(1).decode(), {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    assert headers.get("Content-Encoding") == "gzip"
    assert "max-age=315360000" in headers["Cache-Control"] and "immutable" in headers["Cache-Control"]
    assert body[:2] == b"\x1f\x8b"


@pytest.mark.slow
def test_it_serves_a_favicon(served):
    status, headers, body = _get(f"{served}/favicon.ico")
    assert status == 200 and "icon" in headers["Content-Type"]
    assert body[:4] == b"\0\0\1\0"  # an ICO file

    _status, _headers, page = _get(f"{served}/login/")
    svg = re.search(rb'<link rel="icon" href="(/static/favicon\.[0-9a-f]{12}\.svg)"', page)
    assert svg
    status, headers, _body = _get(served + svg.group(1).decode())
    assert status == 200 and headers["Content-Type"].startswith("image/svg+xml")


@pytest.mark.slow
def test_it_answers_a_missing_page_in_the_sites_look_in_spanish(served):
    status, _headers, page = _get(f"{served}/no-such-page/", SPANISH)
    text = page.decode()
    assert status == 404
    assert "Página no encontrada" in text and "/no-such-page/" in text
    assert SITE_LOOK in text


def test_it_answers_a_server_error_in_the_sites_look_in_spanish():
    with translation.override("es"):
        response = server_error(RequestFactory().get("/"))
    text = response.content.decode()
    assert response.status_code == 500
    assert "Algo salió mal de nuestro lado" in text and SITE_LOOK in text
    assert "Traceback" not in text


def test_it_answers_a_missing_page_in_process_with_the_same_page(client, db):
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 404
    assert "Página no encontrada" in response.content.decode()
