"""Fixtures of the fault suite: the wired tenant and a fault-free run's final state."""
from __future__ import annotations

import pytest

from tests.faults.support import new_site, outside_state, portal_requests, reset_outside, small_plan, three_cycles, wire

# The Sage alias placeholder the sync tests register once per session (autouse there, here too).
from tests.sync.conftest import sage_test_alias  # noqa: F401

_REFERENCE: dict[str, dict] = {}
_REQUESTS: dict[str, int] = {}


@pytest.fixture
def plan():
    return small_plan()


@pytest.fixture
def world(sage_tenant, live_server, plan, settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "cfdi": {
        "BACKEND": "cfdi.storage.AtomicFileSystemStorage", "OPTIONS": {"location": str(tmp_path / "cfdi")}}}
    return wire(sage_tenant, live_server, plan, tmp_path.parent)


@pytest.fixture
def fault_free_state(world, plan, tmp_path):
    """Sage and the portal after three fault-free cycles in a subprocess; then both reset to the start."""
    key = world.portal_url
    if key not in _REFERENCE:
        site = new_site(world, tmp_path / "reference")
        three_cycles(site, world, plan)
        state = outside_state(world)
        # A comparison with an empty side proves nothing: every kind of record must be there.
        empty = [kind for kind, facts in state.items() if not facts]
        assert not empty, f"the fault-free run left nothing in {empty}"
        _REFERENCE[key] = state
        _REQUESTS[key] = portal_requests(world)
        reset_outside(world, plan)
    return _REFERENCE[key]


@pytest.fixture
def fault_free_requests(fault_free_state, world) -> int:
    """How many requests the portal stand-in answered in the fault-free run's three cycles."""
    return _REQUESTS[world.portal_url]
