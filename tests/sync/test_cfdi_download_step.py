"""Step 2, CFDI download, against the portal stand-in over real HTTP."""
from __future__ import annotations

import datetime as dt

from cfdi.models import Cfdi, CfdiDownloadWindow, CfdiStatus
from cfdi.storage import original_path, sha256_hex
from sandbox.faults import set_faults
from sandbox.portal.models import SandboxCfdi, SandboxPortalTenant
from sync.models import StepRun
from sync.steps.cfdi_download import OVERLAP_DAYS
from tests.sync.cfdi.world import cfdi_dir, plan, run_step, world  # noqa: F401 (fixtures)
from tests.sync.conftest import SAGE_DB

pytestmark = SAGE_DB


def test_it_stores_every_portal_cfdi_once_with_the_stand_ins_bytes(world, plan):
    step = run_step(world, "cfdi_download")

    assert step.status == StepRun.Status.SUCCEEDED, step.message
    assert step.created_count == len(plan.cfdis)
    served = {row.uuid: bytes(row.xml) for row in SandboxCfdi.objects.filter(portal_tenant__tenant_id="acme")}
    stored = {row.uuid: row for row in Cfdi.objects.filter(tenant=world)}
    assert set(stored) == {c.uuid for c in plan.cfdis} == set(served)
    for uuid, row in stored.items():
        assert row.sha256 == sha256_hex(served[uuid])
        assert original_path(row.sha256).read_bytes() == served[uuid]
        assert row.status == CfdiStatus.VALID, row.problems
        assert row.portal_metadata["portal_cfdi_id"] and row.portal_metadata["provider_id"]
    kinds = {c.uuid: c.kind for c in plan.cfdis}
    assert {uuid: row.kind for uuid, row in stored.items()} == kinds


def test_it_downloads_nothing_again_on_a_rerun(world, plan):
    run_step(world, "cfdi_download")
    portal = SandboxPortalTenant.objects.get(tenant_id="acme")
    reads_before = portal.reads
    updated_before = dict(Cfdi.objects.filter(tenant=world).values_list("uuid", "updated"))

    step = run_step(world, "cfdi_download")

    portal.refresh_from_db()
    assert (step.created_count, step.updated_count, step.failed_count) == (0, 0, 0)
    # Only the overlap of the last window is listed again.
    since = dt.date.today() - dt.timedelta(days=OVERLAP_DAYS)
    assert step.skipped_count == sum(1 for c in plan.cfdis if c.issued.date() >= since) > 0
    # One list page per CFDI type and no files link asked for.
    assert portal.reads - reads_before == 3
    assert dict(Cfdi.objects.filter(tenant=world).values_list("uuid", "updated")) == updated_before


def test_it_asks_from_before_the_last_window_so_edges_are_not_lost(world):
    run_step(world, "cfdi_download")
    window = CfdiDownloadWindow.objects.get(tenant=world)
    window.last_to = window.last_to - dt.timedelta(days=10)
    window.save()

    run_step(world, "cfdi_download")

    window.refresh_from_db()
    assert window.last_from == dt.date.today() - dt.timedelta(days=10 + OVERLAP_DAYS)
    assert window.last_to == dt.date.today()


def test_it_keeps_an_unreadable_file_with_its_reason_and_retries_it(world, plan):
    victim = SandboxCfdi.objects.filter(portal_tenant__tenant_id="acme", cfdi_type="INVOICE").first()
    good_bytes = bytes(victim.xml)
    victim.xml = good_bytes[: len(good_bytes) // 2]
    victim.save()

    first = run_step(world, "cfdi_download")

    row = Cfdi.objects.get(tenant=world, uuid=victim.uuid)
    assert row.status == CfdiStatus.INVALID and row.problems
    assert (first.created_count, first.failed_count) == (len(plan.cfdis) - 1, 1)
    victim.xml = good_bytes
    victim.save()

    second = run_step(world, "cfdi_download")

    row = Cfdi.objects.get(tenant=world, uuid=victim.uuid)
    assert (row.status, row.sha256) == (CfdiStatus.VALID, sha256_hex(good_bytes))
    assert (second.updated_count, second.failed_count) == (1, 0)


def test_it_converges_when_the_portal_fails_often(world, plan):
    set_faults("portal:acme", error_rate=0.3, error_statuses=[503])
    for _cycle in range(12):
        run_step(world, "cfdi_download")
        rows = Cfdi.objects.filter(tenant=world)
        if rows.count() == len(plan.cfdis) and not rows.filter(sha256="").exists():
            break
    served = dict(SandboxCfdi.objects.filter(portal_tenant__tenant_id="acme").values_list("uuid", "xml"))
    stored = dict(Cfdi.objects.filter(tenant=world).values_list("uuid", "sha256"))
    assert stored == {uuid: sha256_hex(bytes(xml)) for uuid, xml in served.items()}
    assert not Cfdi.objects.filter(tenant=world).exclude(problems=[]).exists()
