"""/metrics after real steps against the stand-ins: runs, step durations, records, leases, outside calls."""
from __future__ import annotations

import time

from sandbox.faults import set_faults
from sync.engine.lease import take_lease
from sync.models import Outbound
from tests.sync.cfdi.world import cfdi_dir, plan, run_step, world  # noqa: F401 (fixtures)
from tests.sync.conftest import SAGE_DB
from tests.test_metrics import TOKEN, _samples, _value


def _read(client) -> dict:
    return _samples(client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).content.decode())


def _calls(samples: dict, system: str, outcome: str = "ok") -> float:
    return _value(samples, "sageconnect_outside_calls_total", system=system, tenant="sagetest", outcome=outcome) or 0


@SAGE_DB
def test_it_counts_runs_steps_records_leases_and_outside_calls(world, plan, client, settings):
    settings.METRICS_TOKEN = TOKEN
    before = _read(client)

    run_step(world, "cfdi_download")
    set_faults("portal:acme", error_rate=1.0, error_statuses=[503])
    run_step(world, "cfdi_download")
    Outbound.objects.create(tenant=world, step="payment_upload", kind="payment", key="PY1", state="waiting",
                            reason="waiting for CFDI import: U1")
    Outbound.objects.create(tenant=world, step="po_upsert", kind="po", key="PO1", state="failed",
                            attention="permanent")
    Outbound.objects.create(tenant=world, step="po_upsert", kind="po", key="PO2", state="pending", attempts=1)
    take_lease(world.pk, "worker-1:123:abcd")

    after = _read(client)

    assert _value(after, "sageconnect_runs", tenant="sagetest", status="succeeded") == 1
    assert _value(after, "sageconnect_runs", tenant="sagetest", status="failed") == 1
    assert _value(after, "sageconnect_step_duration_seconds", tenant="sagetest", step="cfdi_download") > 0
    assert _value(after, "sageconnect_last_run_finished_timestamp_seconds", tenant="sagetest") > time.time() - 600
    assert _value(after, "sageconnect_cfdis", tenant="sagetest", status="valid") == len(plan.cfdis)
    assert _value(after, "sageconnect_records_waiting", tenant="sagetest", kind="payment") == 1
    assert _value(after, "sageconnect_records_needing_a_person", tenant="sagetest", kind="po") == 1
    assert 0 <= _value(after, "sageconnect_lease_age_seconds", tenant="sagetest") < 60
    assert 0 < _value(after, "sageconnect_lease_expires_in_seconds", tenant="sagetest") <= 900
    # Three list calls at least and a files link per CFDI; one download per CFDI; then the 503s, each try an error.
    assert _calls(after, "portal") - _calls(before, "portal") >= 3 + len(plan.cfdis)
    assert _calls(after, "portal_files") - _calls(before, "portal_files") == len(plan.cfdis)
    assert _calls(after, "portal", "error") - _calls(before, "portal", "error") >= 1


