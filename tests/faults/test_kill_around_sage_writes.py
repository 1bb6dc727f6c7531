"""kill -9 of a real `manage.py sync` right after each write to Sage (a vendor
and an AP invoice batch through the Web API), then reruns: nothing twice in
Sage or on the portal, nothing missing, compared with a fault-free run. (The
payment complement step writes nothing to Sage: see sync.steps.payment_complement.)"""
from __future__ import annotations

import pytest

from tests.faults.support import differences, new_site, outside_state, three_cycles
from tests.sync.conftest import SAGE_DB

pytestmark = [SAGE_DB, pytest.mark.slow]

POINTS = ("providers:vendor_created", "cfdi_import:after_post")


@pytest.mark.parametrize("point", POINTS)
def test_it_ends_with_one_of_everything_after_a_kill(world, plan, fault_free_state, tmp_path, point):
    site = new_site(world, tmp_path)

    kills = three_cycles(site, world, plan, crash_at=point)

    assert kills == [point], f"{point} was never reached in three cycles"
    assert differences(fault_free_state, outside_state(world)) == {}
