"""kill -9 of a real `manage.py sync` at the moments between writes: just
before each outside write, inside the CFDI store, between steps, while holding
the lease, before a read watermark moves. Then rerun: nothing twice, nothing
missing, compared with a fault-free run."""
from __future__ import annotations

import pytest

from tests.faults.support import differences, new_site, outside_state, three_cycles
from tests.sync.conftest import SAGE_DB

pytestmark = [SAGE_DB, pytest.mark.slow]

POINTS = (
    "lease:taken",
    "pipeline:between_steps",
    "providers:before_send",
    "providers:external_id_set",
    "cfdi_download:downloaded",
    "cfdi_store:before_rename",
    "cfdi_store:file_written",
    "cfdi_store:row_created",
    "cfdi_import:before_post",
    "cfdi_import:status_sent",
    "payment_check:page_saved",
    "payment_upload:before_send",
    "po_reads:before_watermark",
    "po_status:before_send",
)


@pytest.mark.parametrize("point", POINTS)
def test_it_ends_with_one_of_everything_after_a_kill(world, plan, fault_free_state, tmp_path, point):
    site = new_site(world, tmp_path)

    kills = three_cycles(site, world, plan, crash_at=point)

    assert kills == [point], f"{point} was never reached in three cycles"
    assert differences(fault_free_state, outside_state(world)) == {}
