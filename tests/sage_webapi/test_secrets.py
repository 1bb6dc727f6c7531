"""The Web API password never reaches a log line, an error or the run-log snapshot."""
from __future__ import annotations

import base64
import json
import logging

import pytest

from sandbox.faults import set_faults
from sync.sage.webapi import WebApiError
from tests.sage_webapi.conftest import PASSWORD, add_vendor

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_keeps_the_password_out_of_logs_errors_and_snapshots(webapi_tenant, alias, caplog, make_client):
    caplog.set_level(logging.DEBUG)
    add_vendor(alias, "1200")
    secrets = [PASSWORD, base64.b64encode(f"ADMIN:{PASSWORD}".encode()).decode()]
    seen: list[str] = []

    client = make_client(webapi_tenant, retries=1, backoff_seconds=0, sleep=lambda s: None)
    client.vendor("1200")
    seen.append(json.dumps(client.snapshot()))
    set_faults("sage:ACME", error_rate=1.0, error_statuses=[500])
    with pytest.raises(WebApiError) as failed:
        client.vendor("1200")
    seen += [str(failed.value), json.dumps(client.snapshot())]
    webapi_tenant.webapi_url = "http://127.0.0.1:9"
    with pytest.raises(WebApiError) as dead:
        make_client(webapi_tenant, retries=0).vendor("1200")
    seen.append(str(dead.value))

    seen += [record.getMessage() for record in caplog.records]
    assert any("Sage Web API GET" in line for line in seen)  # the log was really captured
    assert client.snapshot()["user"] == "ADMIN"
    for secret in secrets:
        assert not [line for line in seen if secret in line]


def test_it_scrubs_the_password_if_sage_echoes_it(webapi_tenant, alias, make_client):
    client = make_client(webapi_tenant, retries=0)
    with pytest.raises(WebApiError) as failed:
        client.query("AP/APVendors", filter=f"Status eq '{PASSWORD}'")
    assert PASSWORD not in str(failed.value)
    assert "***" in failed.value.message
