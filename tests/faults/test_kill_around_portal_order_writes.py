"""kill -9 of a real `manage.py sync` just before and right after each kind of
purchase-order write to the portal, then reruns: the portal and Sage end
holding exactly what a fault-free run leaves — one of everything, nothing missing."""
from __future__ import annotations

import pytest

from tests.faults.support import differences, new_site, outside_state, three_cycles
from tests.sync.conftest import SAGE_DB

pytestmark = [SAGE_DB, pytest.mark.slow]

POINTS = ("po:before_send", "po:after_send", "po_status:after_send")


@pytest.mark.parametrize("point", POINTS)
def test_it_ends_with_one_of_everything_after_a_kill(world, plan, fault_free_state, tmp_path, point):
    site = new_site(world, tmp_path)

    kills = three_cycles(site, world, plan, crash_at=point)

    assert kills == [point], f"{point} was never reached in three cycles"
    assert differences(fault_free_state, outside_state(world)) == {}
