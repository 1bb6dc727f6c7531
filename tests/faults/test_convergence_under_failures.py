"""The portal stand-in failing 30 % of requests (5xx and 429) with latency, and
the Sage Web API stand-in failing 20 %: repeated cycles of a real `manage.py
sync` reach the same state of the portal and Sage as a fault-free run, each
cycle ending in bounded time with bounded retries."""
from __future__ import annotations

import time
from collections import Counter

import pytest

from sandbox.faults import set_faults
from sandbox.portal.models import SandboxPurchaseOrder
from tests.faults.support import (
    buyer_changed,
    buyer_changes,
    cycle,
    differences,
    new_site,
    outside_state,
    portal_requests,
)
from tests.sync.conftest import SAGE_DB

pytestmark = [SAGE_DB, pytest.mark.slow]

MORE_CYCLES = 6
# Retry-After: 0 keeps the 429s from costing the test wall time; the 5xx cost the clients' real backoff.
PORTAL_FAULTS = {"error_rate": 0.3, "error_statuses": [500, 502, 503, 429], "retry_after_seconds": 0, "latency_ms": 15}
SAGE_FAULTS = {"error_rate": 0.2, "error_statuses": [503, 429], "retry_after_seconds": 0, "latency_ms": 15}


def test_it_converges_to_the_fault_free_state(world, plan, fault_free_state, fault_free_requests, tmp_path):
    set_faults(f"portal:{world.portal_tenant_id}", **PORTAL_FAULTS)
    set_faults(f"sage:{world.webapi_company.upper()}", **SAGE_FAULTS)
    site = new_site(world, tmp_path)
    # Back-to-back cycles stand for the hours a real schedule spaces them by: no backoff between them, so a
    # record a fault failed is tried again next cycle (the attempt cap still holds: see sync.engine.outbox).
    site.env["SAGECONNECT_RETRY_BACKOFF_SECONDS"] = "0"
    started = time.monotonic()

    cycle(site, 1)
    _more, cancelled = buyer_changed(plan)
    expected = fault_free_state
    if not SandboxPurchaseOrder.objects.filter(portal_tenant__tenant_id=world.portal_tenant_id,
                                               external_id=cancelled).exists():
        # The faults kept that PO off the portal in cycle 1, and the buyer cancels it now: by design it is
        # never sent (sync.po_state; test_it_never_creates_a_po_cancelled_before_it_reached_the_portal), so
        # the right end state is the fault-free one without it — not its CANCELLED copy.
        orders = Counter({order: n for order, n in fault_free_state["portal purchase orders"].items()
                          if order[0] != cancelled})
        assert sum(orders.values()) == sum(fault_free_state["portal purchase orders"].values()) - 1
        expected = {**fault_free_state, "portal purchase orders": orders}
    buyer_changes(world, plan)
    cycle(site, 2)
    cycle(site, 3)
    cycles = 3
    while differences(expected, outside_state(world)) and cycles < 3 + MORE_CYCLES:
        cycles += 1
        cycle(site, cycles)

    assert differences(expected, outside_state(world)) == {}, f"not converged after {cycles} cycles"
    # The faults did bite: failed requests were tried again.
    assert portal_requests(world) > fault_free_requests
    # Bounded retries: at most 4 tries a call, so never more than 4 × the fault-free requests per cycle.
    assert portal_requests(world) <= 4 * fault_free_requests * cycles / 3
    assert time.monotonic() - started < 50 * cycles
