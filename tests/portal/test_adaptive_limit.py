"""The tenant's adaptive window on the portal (sageconnect.outside_calls.AdaptiveLimit), over real
HTTP against the stand-in's fault injection: 429s and slow answers shrink it, good answers widen it,
and the process's cap holds whatever the tenants' windows say. Asserted on the windows it recorded."""
import threading

import pytest

from sageconnect.outside_calls import AdaptiveLimit, call_kind, forget_limits, limit_for, process_slots
from sandbox.faults import clear_faults, set_faults
from sync.portal import PortalClient, PortalRetryableError, RetryPolicy
from tests.portal.factories import add_cfdis

FAULTS = "portal:acme-portal"


@pytest.fixture(autouse=True)
def fresh_limits(settings):
    settings.OUTSIDE_CALLS_START, settings.OUTSIDE_CALLS_PER_TENANT = 8, 16
    forget_limits()
    yield
    forget_limits()


def _client(tenant, **retry) -> PortalClient:
    return PortalClient(tenant, connect_timeout=2, read_timeout=5,
                        retry=RetryPolicy(**{"backoff_base": 0.001, "backoff_cap": 0.01, **retry}))


def test_429s_halve_the_window_and_good_answers_widen_it_again(portal_tenant, stand_in):
    rows = add_cfdis(stand_in, 3)
    with _client(portal_tenant, max_attempts=6) as client:
        limit = client.limit
        assert limit is limit_for("portal", portal_tenant.code) and limit.windows == [8]
        set_faults(FAULTS, error_rate=1.0, error_statuses=[429], retry_after_seconds=0)
        with pytest.raises(PortalRetryableError):
            client.get_cfdi(rows[0].uuid)
        # Six 429s: halved at the first, and again once a whole (smaller) window of answers said the same.
        assert limit.windows == [8, 4, 2], limit.windows
        clear_faults(FAULTS)
        for _ in range(12):
            client.get_cfdi(rows[1].uuid)
    # +1 after as many good answers in a row as the window is wide: 2 → 3 (2 answers) → 4 (3 more) → 5 (4 more).
    assert limit.windows == [8, 4, 2, 3, 4, 5], limit.windows
    assert limit.in_flight == 0


def test_answers_growing_slow_shrink_the_window(portal_tenant, stand_in):
    rows = add_cfdis(stand_in, 1)
    with _client(portal_tenant) as client:
        for _ in range(3):
            client.get_cfdi(rows[0].uuid)
        assert client.limit.windows == [8]
        set_faults(FAULTS, latency_ms=700)
        for _ in range(4):
            client.get_cfdi(rows[0].uuid)
    assert client.limit.windows[:2] == [8, 4], client.limit.windows


def test_the_process_cap_holds_across_tenants(settings):
    settings.OUTSIDE_CALLS_PER_PROCESS = 2
    forget_limits()
    release, entered = threading.Event(), []
    lock = threading.Lock()

    def call(limit: AdaptiveLimit) -> None:
        with limit.slot():
            with lock:
                entered.append(limit)
            release.wait(10)

    limits = [limit_for("portal", "a"), limit_for("portal", "b")]
    assert all(limit.window == 8 for limit in limits)
    threads = [threading.Thread(target=call, args=(limits[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for _ in range(200):
        if len(entered) == 2:
            break
        threading.Event().wait(0.01)
    threads[-1].join(0.3)
    assert len(entered) == 2, "two calls at most in this process, whatever each tenant's window allows"
    assert process_slots()._value == 0
    release.set()
    for thread in threads:
        thread.join(10)
    assert len(entered) == 4 and all(limit.in_flight == 0 for limit in limits)


def test_a_kind_of_call_slow_by_nature_is_judged_against_itself_not_against_quick_reads():
    limit = AdaptiveLimit(start=8, ceiling=16)
    quick, batch = call_kind("GET", "/api/1.0/extern/tenants/acme/cfdis/5f1e2d3c4b5a69788796a5b4"), \
        call_kind("PUT", "/api/1.0/batch/tenants/acme/purchase-orders")
    assert quick == "GET /api/*/extern/tenants/acme/cfdis/*"
    for _ in range(20):
        limit.answered(0.045, ok=True, kind=quick)
        limit.answered(0.600, ok=True, kind=batch)    # a batch of 200 orders: always this slow
    assert limit.windows == [8, 9, 10, 11, 12], limit.windows   # widened, never halved
    for _ in range(4):                                  # the same batches turning slow: the portal strains
        limit.answered(2.0, ok=True, kind=batch)
    assert limit.windows[-1] == 6, limit.windows
    # Judged together (one kind), the same answers would have halved it from the start.
    mixed = AdaptiveLimit(start=8, ceiling=16)
    for _ in range(20):
        mixed.answered(0.045, ok=True)
        mixed.answered(0.600, ok=True)
    assert mixed.windows[1] == 4, mixed.windows
