"""A portal that does not answer at all gets one sentence: which tenant, which URL, what to check."""
import socket
import time

import pytest

from sync.portal import PortalClient, PortalRetryableError, RetryPolicy


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_it_names_tenant_url_and_what_to_check_when_nothing_answers(make_tenant):
    url = f"http://127.0.0.1:{_closed_port()}/portal"
    tenant = make_tenant(code="deadportal", portal_url=url)
    started = time.monotonic()

    with PortalClient(tenant, connect_timeout=1, retry=RetryPolicy(max_attempts=3, backoff_base=0.01)) as client:
        with pytest.raises(PortalRetryableError) as raised:
            list(client.iter_providers(status_expedient="ACCEPTED"))

    message = str(raised.value)
    assert "deadportal" in message and url in message
    assert "connection refused" in message and "3 tries" in message
    assert "check the tenant's portal URL" in message
    assert message.count(". ") == 0 and message.endswith("."), "one sentence"
    assert "Traceback" not in message and "HTTPConnectionPool" not in message
    assert raised.value.attempts == 3 and raised.value.status is None
    assert client.calls.attempts == 3
    assert time.monotonic() - started < 5


def test_it_says_which_setting_is_missing(make_tenant):
    from sync.portal import PortalError

    tenant = make_tenant(code="nosecret", portal_secret="")
    with pytest.raises(PortalError, match="nosecret.*portal_secret"):
        PortalClient(tenant)
