"""Retryable failures (5xx, 429, dropped connections, malformed JSON, slowness) over real HTTP."""
import time

import pytest

from sandbox.faults import set_faults
from sync.portal import PortalClient, PortalRetryableError, RetryPolicy
from tests.portal.factories import add_cfdis

FAULTS = "portal:acme-portal"


def _client(tenant, **retry) -> PortalClient:
    return PortalClient(tenant, connect_timeout=2, read_timeout=5,
                        retry=RetryPolicy(**{"backoff_base": 0.001, "backoff_cap": 0.01, **retry}))


def test_it_retries_through_half_the_answers_being_503(portal_tenant, stand_in, contract_violations):
    rows = add_cfdis(stand_in, 40)
    set_faults(FAULTS, error_rate=0.5, error_statuses=[503])
    # 30 tries make a call fail outright with odds of 1 in 10^9.
    with _client(portal_tenant, max_attempts=30) as client:
        found = [cfdi.cfdi_uuid for cfdi in client.iter_cfdis(page_size=2)]
        for row in rows[:10]:
            assert client.get_cfdi(row.uuid).cfdi_uuid == row.uuid

    assert sorted(found) == sorted(row.uuid for row in rows)
    assert client.calls.reads == 30
    assert client.calls.attempts > client.calls.reads, "half the answers were 503: some calls must have been retried"
    stand_in.refresh_from_db()
    assert stand_in.reads == client.calls.attempts


def test_it_waits_as_long_as_retry_after_says(portal_tenant, stand_in):
    set_faults(FAULTS, error_rate=1.0, error_statuses=[429], retry_after_seconds=1)
    started = time.monotonic()
    with _client(portal_tenant, max_attempts=2) as client, pytest.raises(PortalRetryableError) as raised:
        client.get_cfdi("8E5B2B4B-1C1A-4C83-9E0F-0A2E6C1F3B10")

    assert time.monotonic() - started >= 1.0  # back-off alone would have waited under 10 ms
    assert raised.value.status == 429 and raised.value.attempts == 2
    assert "HTTP 429" in str(raised.value)


def test_it_caps_a_long_retry_after(portal_tenant, stand_in):
    set_faults(FAULTS, error_rate=1.0, error_statuses=[429], retry_after_seconds=3600)
    started = time.monotonic()
    with _client(portal_tenant, max_attempts=3, retry_after_cap=0.3) as client, pytest.raises(PortalRetryableError):
        client.get_cfdi("8E5B2B4B-1C1A-4C83-9E0F-0A2E6C1F3B10")

    assert 0.6 <= time.monotonic() - started < 5


def test_it_gives_up_after_the_bounded_tries_and_says_where(portal_tenant, stand_in):
    set_faults(FAULTS, error_rate=1.0, error_statuses=[500])
    with _client(portal_tenant, max_attempts=3) as client, pytest.raises(PortalRetryableError) as raised:
        list(client.iter_providers())

    stand_in.refresh_from_db()
    assert stand_in.reads == 3
    message = str(raised.value)
    assert "acme" in message and portal_tenant.portal_url in message and "3 tries" in message and "HTTP 500" in message


def test_it_retries_malformed_json(portal_tenant, stand_in):
    set_faults(FAULTS, malformed_rate=1.0)
    with _client(portal_tenant, max_attempts=2) as client, pytest.raises(PortalRetryableError, match="malformed JSON"):
        list(client.iter_cfdis())


def test_it_retries_a_dropped_connection(portal_tenant, stand_in):
    set_faults(FAULTS, drop_rate=1.0)
    with _client(portal_tenant, max_attempts=2) as client, pytest.raises(PortalRetryableError) as raised:
        list(client.iter_cfdis())

    assert "connection dropped" in str(raised.value)


def test_it_times_out_a_slow_answer(portal_tenant, stand_in):
    set_faults(FAULTS, latency_ms=1500)
    client = PortalClient(portal_tenant, connect_timeout=1, read_timeout=0.5,
                          retry=RetryPolicy(max_attempts=2, backoff_base=0.001))
    with client, pytest.raises(PortalRetryableError, match="read timeout"):
        list(client.iter_cfdis())
