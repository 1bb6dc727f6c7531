"""CFDI file links are outside data: http(s) only, read up to the size cap and no further, no
credentials sent, no address inside the network for a real tenant, and one bad link fails only its CFDI."""
from __future__ import annotations

import gzip
import threading
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cfdi.models import Cfdi, CfdiStatus
from sandbox.portal.models import SandboxCfdi
from sync.models import StepRun
from sync.portal import PortalClient, RetryPolicy
from sync.portal.errors import PortalError, PortalPermanentError
from sync.portal.files import is_public
from tests.sync.cfdi.world import cfdi_dir, plan, run_step, world  # noqa: F401 (fixtures)
from tests.sync.conftest import SAGE_DB

MIB = 1024 * 1024
XML = b'<?xml version="1.0" encoding="UTF-8"?><cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4"/>'


class FileHost:
    """A storage host on loopback: records each request's headers and how many bytes it managed to send."""

    def __init__(self, body_bytes: int = 0, *, length: int | None = None, gzip_body: bytes | None = None) -> None:
        self.requests: list[dict] = []
        self.sent = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # the body ends when the connection closes

            def do_GET(self) -> None:
                owner.requests.append(dict(self.headers))
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                if gzip_body is not None:
                    self.send_header("Content-Encoding", "gzip")
                    self.send_header("Content-Length", str(len(gzip_body)))
                elif length is not None:
                    self.send_header("Content-Length", str(length))
                self.end_headers()
                try:
                    if gzip_body is not None:
                        self.wfile.write(gzip_body)
                        return
                    if not body_bytes:
                        self.wfile.write(XML)
                        return
                    chunk = b" " * (256 * 1024)
                    while owner.sent < body_bytes:
                        self.wfile.write(chunk)
                        owner.sent += len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the reader hung up: what a cut looks like from here

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/bucket/cfdi.xml?X-Amz-Signature=abc123"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def file_host():
    hosts: list[FileHost] = []

    def make(*args, **kwargs) -> FileHost:
        hosts.append(FileHost(*args, **kwargs))
        return hosts[-1]

    yield make
    for host in hosts:
        host.close()


def _client(make_tenant, *, sandbox: bool) -> PortalClient:
    fields = {} if sandbox else dict(sage_db_engine="mssql", sage_db_host="sql.example.mx", sage_db_name="SAMLTD")
    tenant = make_tenant(sandbox=sandbox, **fields)
    return PortalClient(tenant, retry=RetryPolicy(max_attempts=2, backoff_base=0.001))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_it_refuses_an_address_inside_the_network_for_a_real_tenant(make_tenant, file_host, host):
    storage = file_host()
    with _client(make_tenant, sandbox=False) as client, pytest.raises(PortalPermanentError) as raised:
        client.download_file(storage.url(host))
    assert "an address inside this network" in str(raised.value) and host in str(raised.value)
    assert "X-Amz-Signature" not in str(raised.value)
    assert storage.requests == [], "a request reached the inside address"


def test_it_sorts_addresses_into_public_and_not():
    inside = ["127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
              "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "224.0.0.1"]
    assert not any(is_public(address) for address in inside)
    assert all(is_public(address) for address in ["8.8.8.8", "2001:4860:4860::8888", "201.144.10.1"])


def test_it_fetches_from_this_machine_for_a_sandbox_tenant(make_tenant, file_host):
    storage = file_host()
    with _client(make_tenant, sandbox=True) as client:
        assert client.download_file(storage.url()) == XML


@pytest.mark.parametrize("link", ["ftp://files.example.com/a.xml", "file:///etc/passwd", "gopher://x/1",
                                  "http:///no-host.xml"])
def test_it_refuses_a_link_that_is_not_http(make_tenant, link):
    with _client(make_tenant, sandbox=True) as client, pytest.raises(PortalPermanentError) as raised:
        client.download_file(link)
    assert "not an http(s) address" in str(raised.value)


def test_it_sends_no_credentials_to_the_file_host(make_tenant, file_host, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-password\n")
    monkeypatch.setenv("NETRC", str(netrc))
    storage = file_host()
    with _client(make_tenant, sandbox=True) as client:
        client.session.cookies.set("session", "api-cookie")  # the API session's; the file session has its own
        client.download_file(storage.url())
    sent = {name.lower() for name in storage.requests[0]}
    assert not sent & {"pdptenantkey", "pdptenantsecret", "authorization", "cookie", "proxy-authorization"}


def test_it_reads_a_400_mb_body_only_up_to_the_cap_with_flat_memory(make_tenant, file_host, settings):
    settings.CFDI_MAX_BYTES = MIB
    storage = file_host(body_bytes=400 * MIB)
    with _client(make_tenant, sandbox=True) as client:
        tracemalloc.start()
        started = time.monotonic()
        try:
            with pytest.raises(PortalPermanentError) as raised:
                client.download_file(storage.url())
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert "more than 1048576 bytes" in str(raised.value) and "SAGECONNECT_CFDI_MAX_BYTES" in str(raised.value)
    assert peak < 4 * MIB, f"peak {peak} bytes while reading"
    assert time.monotonic() - started < 30
    time.sleep(0.5)
    assert storage.sent < 50 * MIB, "the reader kept reading past the cap"


def test_it_refuses_an_announced_size_over_the_cap_without_reading(make_tenant, file_host, settings):
    settings.CFDI_MAX_BYTES = MIB
    storage = file_host(body_bytes=400 * MIB, length=400 * MIB)
    with _client(make_tenant, sandbox=True) as client, pytest.raises(PortalPermanentError) as raised:
        client.download_file(storage.url())
    assert f"{400 * MIB} bytes" in str(raised.value)


def test_it_cuts_a_compressed_body_on_its_decoded_size(make_tenant, file_host, settings):
    settings.CFDI_MAX_BYTES = MIB
    bomb = gzip.compress(b"\0" * (64 * MIB))
    storage = file_host(gzip_body=bomb)
    with _client(make_tenant, sandbox=True) as client, pytest.raises(PortalPermanentError) as raised:
        client.download_file(storage.url())
    assert "more than 1048576 bytes" in str(raised.value)


@SAGE_DB
def test_it_fails_only_the_cfdi_whose_file_is_bad(world, plan, settings):
    served = list(SandboxCfdi.objects.filter(portal_tenant__tenant_id="acme"))
    settings.CFDI_MAX_BYTES = max(len(bytes(row.xml)) for row in served) + 1000
    victim = served[0]
    victim.xml = bytes(victim.xml) + b" " * settings.CFDI_MAX_BYTES  # whitespace after the root: still one XML
    victim.save()

    step = run_step(world, "cfdi_download")

    assert step.status == StepRun.Status.FAILED  # the step reports the failure …
    assert (step.created_count, step.failed_count) == (len(plan.cfdis) - 1, 1)  # … and did everything else
    row = Cfdi.objects.get(tenant=world, uuid=victim.uuid)
    assert row.sha256 == "" and row.status == CfdiStatus.DOWNLOADED
    assert row.problems[0]["code"] == "too_large" and "not read further" in row.problems[0]["message"]
    assert Cfdi.objects.filter(tenant=world, status=CfdiStatus.VALID).count() == len(plan.cfdis) - 1


def test_it_turns_an_unusable_link_into_a_portal_error(make_tenant):
    with _client(make_tenant, sandbox=True) as client, pytest.raises(PortalError):
        client.download_file("http://[::1/broken.xml")
