"""Our client of SAT's status service: the expression, retries, timeouts, the rate limit."""
from __future__ import annotations

import socket
from decimal import Decimal

import pytest

from sandbox.faults import clear_faults, set_faults
from sync.sat.client import RateLimit, SatRateLimited, SatStatusClient, SatUnavailable, expression, format_total
from tests.sync.sat.support import consultas, fresh_rate_limit, service_url  # noqa: F401 (fixture)

VALID = "?re=AAA010101AAA&rr=AIN8001011A1&tt=1.0&id=00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize("total, text", [
    (Decimal("0.99"), "0.99"), (Decimal("1"), "1.0"), (Decimal("0"), "0.0"), (Decimal("1160.000000"), "1160.0"),
    (Decimal("1234.5678"), "1234.5678"), (Decimal("10.1234564"), "10.123456"),
])
def test_it_writes_the_total_as_anexo_20_asks(total, text):
    assert format_total(total) == text


def test_it_builds_the_qr_expression_of_a_cfdi_4():
    text = expression(uuid="cee4be01-adfa-4deb-8421-add60f0bedac", issuer_rfc="AAA010101AAA",
                      receptor_rfc="cosc8001137na", total=Decimal("1234.50"), seal="…abcdefgh12345/==")

    assert text == ("https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx?"
                    "id=CEE4BE01-ADFA-4DEB-8421-ADD60F0BEDAC&re=AAA010101AAA&rr=COSC8001137NA&tt=1234.5&fe=12345/==")


@pytest.mark.django_db(transaction=True)
def test_it_retries_a_failing_sat_a_bounded_number_of_times_then_says_so(live_server):
    set_faults("sat", error_rate=1.0, error_statuses=[503])
    try:
        with SatStatusClient(service_url(live_server), max_attempts=3, backoff_base=0.01) as client:
            with pytest.raises(SatUnavailable, match=r"did not answer after 3 attempts: HTTP 503"):
                client.consult(VALID)
    finally:
        clear_faults()
    assert consultas() == 3


@pytest.mark.django_db(transaction=True)
def test_it_does_not_retry_a_request_sat_refuses(live_server):
    url = f"{live_server.url}/sandbox/sat/NoSuchService.svc"
    with SatStatusClient(url, backoff_base=0.01) as client:
        with pytest.raises(SatUnavailable, match=r"refused the request: HTTP 404"):
            client.consult(VALID)


def test_it_names_the_server_that_does_not_answer():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/ConsultaCFDIService.svc"
    with SatStatusClient(url, max_attempts=2, backoff_base=0.01, connect_timeout=1) as client:
        with pytest.raises(SatUnavailable, match=rf"127\.0\.0\.1:{port}.*no answer \(ConnectionError\)"):
            client.consult(VALID)


def test_its_rate_limit_lets_a_burst_through_then_spaces_calls_or_defers_them():
    now, slept = [0.0], []
    limit = RateLimit(3, clock=lambda: now[0], sleep=slept.append)  # 3 a minute: one every 20 s after the burst

    assert [limit.take(max_wait=5) for _ in range(4)] == [True, True, True, False]
    now[0] = 18.0  # 2 s short of the next token: waited for
    assert limit.take(max_wait=5) is True and slept == [pytest.approx(2.0)]
    assert limit.take(max_wait=5) is False  # the next is 20 s away


@pytest.mark.django_db(transaction=True)
def test_it_makes_no_call_once_the_process_budget_is_spent(live_server, settings):
    settings.SAT_CALLS_PER_MINUTE = 2
    with SatStatusClient(service_url(live_server)) as client:
        client.consult(VALID)
        client.consult(VALID)
        with pytest.raises(SatRateLimited, match="2 a minute"):
            client.consult(VALID)
    # A second client in the same process shares the budget.
    with SatStatusClient(service_url(live_server)) as other:
        with pytest.raises(SatRateLimited):
            other.consult(VALID)
    assert consultas() == 2
