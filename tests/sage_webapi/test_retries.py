"""Which failures are retried, how often, and what a caller sees when Sage is down."""
from __future__ import annotations

import datetime as dt
import socket
import time
from decimal import Decimal

import pytest

from sandbox.faults import clear_faults, set_faults
from sync.sage.models import APIBC
from sync.sage.webapi import (
    APInvoice,
    APInvoiceBatch,
    APInvoiceDetail,
    SageWebApi,
    WebApiOutcomeUnknown,
    WebApiPermanentError,
    WebApiRetryableError,
    WebApiUnavailable,
)
from tests.sage_webapi.conftest import Sleeps, add_vendor

pytestmark = pytest.mark.django_db(transaction=True)
TARGET = "sage:ACME"


def one_invoice_batch(vendor: str = "1200") -> APInvoiceBatch:
    return APInvoiceBatch(BatchDate=dt.date(2026, 1, 18), Description="retry", Invoices=[APInvoice(
        VendorNumber=vendor, DocumentNumber="A-1", DocumentTotalIncludingTax=Decimal("10"),
        InvoiceDetails=[APInvoiceDetail(DistributionCode="INV", DistributedAmount=Decimal("10"))])])


def client_ending_the_outage(make_client, tenant) -> SageWebApi:
    """A client whose first back-off is when the injected outage ends."""
    return make_client(tenant, retries=3, backoff_seconds=0.5, sleep=Sleeps(then=lambda: clear_faults(TARGET)))


def test_it_retries_a_read_through_a_503_then_succeeds(webapi_tenant, alias, make_client):
    add_vendor(alias, "1200")
    set_faults(TARGET, error_rate=1.0, error_statuses=[503])
    client = client_ending_the_outage(make_client, webapi_tenant)

    vendor = client.vendor("1200")

    assert vendor is not None and vendor.VendorNumber == "1200"
    assert client.sleep == [0.5]
    assert client.calls["reads"] == 2


def test_it_resends_a_batch_refused_with_503_and_writes_it_once(webapi_tenant, alias, make_client):
    add_vendor(alias, "1200")
    set_faults(TARGET, error_rate=1.0, error_statuses=[503])
    client = client_ending_the_outage(make_client, webapi_tenant)

    created = client.create_invoice_batch(one_invoice_batch())

    assert created.BatchNumber == 1
    assert client.calls["writes"] == 2
    assert APIBC.objects.using(alias).count() == 1


def test_it_backs_off_longer_each_time_and_gives_up(webapi, sleeps, alias):
    set_faults(TARGET, error_rate=1.0, error_statuses=[503])

    with pytest.raises(WebApiRetryableError) as raised:
        webapi.vendor("1200")

    assert raised.value.status == 503 and raised.value.code == "InternalServerError"
    assert sleeps == [0.5, 1.0, 2.0]
    assert webapi.calls["reads"] == 4


def test_it_waits_as_long_as_retry_after_says(webapi, sleeps, alias):
    set_faults(TARGET, error_rate=1.0, error_statuses=[429], retry_after_seconds=7)

    with pytest.raises(WebApiRetryableError) as raised:
        webapi.vendor("1200")

    assert raised.value.code == "TooManyRequests"
    assert sleeps == [7.0, 7.0, 7.0]


def test_it_does_not_retry_a_permanent_error(webapi, sleeps, alias):
    with pytest.raises(WebApiPermanentError) as raised:
        webapi.create_invoice_batch(one_invoice_batch(vendor="9999"))

    assert raised.value.code == "RecordInvalid"
    assert sleeps == []
    assert webapi.calls == {"writes": 1}


def test_it_does_not_resend_a_batch_whose_answer_was_lost(webapi_tenant, alias, make_client):
    add_vendor(alias, "1200")
    set_faults(TARGET, latency_ms=1500)
    sleeps = Sleeps()
    client = make_client(webapi_tenant, retries=3, timeout=(2, 0.5), sleep=sleeps)

    with pytest.raises(WebApiOutcomeUnknown) as raised:
        client.create_invoice_batch(one_invoice_batch())

    assert sleeps == [] and client.calls == {"writes": 1}
    assert "Check in Sage" in raised.value.message
    # Sage went on and recorded the batch: resending it would have made two.
    assert wait_for(lambda: APIBC.objects.using(alias).count() == 1)
    time.sleep(0.5)  # let the abandoned request finish answering before the test databases are reset


def test_it_retries_a_read_whose_answer_was_lost(webapi_tenant, alias, make_client):
    add_vendor(alias, "1200")
    set_faults(TARGET, latency_ms=1500)
    sleeps = Sleeps(then=lambda: clear_faults(TARGET))
    client = make_client(webapi_tenant, retries=3, timeout=(2, 0.5), sleep=sleeps)

    assert client.vendor("1200") is not None
    assert client.calls["reads"] == 2 and len(sleeps) == 1
    time.sleep(1.2)  # let the abandoned request finish before the test database is flushed


def test_it_does_not_resend_a_batch_whose_connection_dropped(webapi, sleeps, alias):
    add_vendor(alias, "1200")
    set_faults(TARGET, drop_rate=1.0)

    with pytest.raises(WebApiOutcomeUnknown):
        webapi.create_invoice_batch(one_invoice_batch())

    assert sleeps == [] and webapi.calls == {"writes": 1}


def test_it_retries_a_read_whose_connection_dropped(webapi_tenant, alias, make_client):
    add_vendor(alias, "1200")
    set_faults(TARGET, drop_rate=1.0)
    client = client_ending_the_outage(make_client, webapi_tenant)

    assert client.vendor("1200") is not None
    assert client.calls["reads"] == 2 and client.sleep == [0.5]


def wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_it_says_in_one_sentence_what_to_check_when_the_server_is_dead(make_tenant, make_client):
    port = closed_port()
    tenant = make_tenant(code="deadsrv", webapi_url=f"http://127.0.0.1:{port}")
    sleeps = Sleeps()
    client = make_client(tenant, retries=2, backoff_seconds=0.1, sleep=sleeps)

    with pytest.raises(WebApiUnavailable) as raised:
        client.vendor("1200")

    message = raised.value.message
    assert message.startswith("Tenant deadsrv: the Sage 300 Web API at ")
    assert f"http://127.0.0.1:{port}/Sage300WebApi/v1.0/-/ACME" in message
    assert "connection refused" in message and "Check that" in message
    assert "\n" not in message and "Traceback" not in message
    assert sleeps == [0.1, 0.2]
