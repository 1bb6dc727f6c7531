"""The CFDI intake loses nothing and imports nothing it should not, against the portal and Sage stand-ins
over real HTTP: late uploads found by the day they reached the portal, a daily sweep by issue date,
the portal's rejections and cancellations respected, ERP statuses matched under either batch reading."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cfdi import portal_status
from cfdi.models import Cfdi, CfdiDownloadWindow, CfdiStatus
from sandbox.portal.cases import add_one_cfdi, change_portal_status
from sandbox.portal.models import BatchResultId, SandboxCfdi, SandboxPortalTenant
from sync.models import Outbound, StepRun
from sync.sage.models import APIBC, APIBH
from tenants.sage_db import sage_alias
from tests.sync.cfdi.world import cfdi_dir, plan, run_step, to_import, world  # noqa: F401 (fixtures)
from tests.sync.conftest import SAGE_DB
from tests.sync.test_cfdi_import_step import folio_rows

pytestmark = SAGE_DB


def portal_reads(tenant) -> int:
    return SandboxPortalTenant.objects.get(tenant_id=tenant.portal_tenant_id).reads


def sweep_due(tenant) -> None:
    CfdiDownloadWindow.objects.filter(tenant=tenant).update(swept_on=timezone.localdate() - dt.timedelta(days=1))


def test_a_cfdi_issued_ten_days_ago_and_uploaded_now_is_downloaded_in_the_next_cycle(world):
    run_step(world, "cfdi_download")
    late = add_one_cfdi(world, issued_days_ago=10)
    before = portal_reads(world)

    step = run_step(world, "cfdi_download")

    row = Cfdi.objects.get(tenant=world, uuid=late.uuid)
    assert (row.status, step.created_count, step.failed_count) == (CfdiStatus.VALID, 1, 0), row.problems
    assert timezone.localtime(row.issued).date() == timezone.localdate() - dt.timedelta(days=10)
    # No sweep today (the first cycle made it): three listings by arrival day and one file link.
    assert portal_reads(world) - before == 4
    imported = run_step(world, "cfdi_import")
    assert imported.status == StepRun.Status.SUCCEEDED, imported.message
    assert late.uuid in folio_rows(world)


def test_the_daily_sweep_catches_what_no_window_listed(world):
    run_step(world, "cfdi_download")
    missed = add_one_cfdi(world, issued_days_ago=30)
    old = add_one_cfdi(world, issued_days_ago=100)
    # They reached the portal while the window had already moved past them (a portal-side delay).
    SandboxCfdi.objects.filter(pk__in=[missed.pk, old.pk]).update(uploaded=timezone.now() - dt.timedelta(days=20))

    run_step(world, "cfdi_download")
    assert not Cfdi.objects.filter(uuid__in=[missed.uuid, old.uuid]).exists()

    sweep_due(world)
    swept = run_step(world, "cfdi_download")

    assert Cfdi.objects.filter(tenant=world, uuid=missed.uuid).exists()
    assert not Cfdi.objects.filter(uuid=old.uuid).exists(), "issued before the 90-day sweep window"
    assert swept.created_count == 1
    assert CfdiDownloadWindow.objects.get(tenant=world).swept_on == timezone.localdate()

    world.cfdi_sweep_days = 120
    world.save()
    sweep_due(world)
    run_step(world, "cfdi_download")
    assert Cfdi.objects.filter(tenant=world, uuid=old.uuid).exists()


def test_the_first_cycle_needs_no_sweep_and_the_next_day_sweeps(world):
    first = portal_reads(world)
    run_step(world, "cfdi_download")
    assert portal_reads(world) - first == 3 + Cfdi.objects.filter(tenant=world).count()
    assert CfdiDownloadWindow.objects.get(tenant=world).swept_on == timezone.localdate()

    sweep_due(world)
    before = portal_reads(world)
    run_step(world, "cfdi_download")
    assert portal_reads(world) - before == 6


def test_a_cfdi_both_listings_name_is_downloaded_once(world):
    run_step(world, "cfdi_download")
    recent = add_one_cfdi(world, issued_days_ago=2)
    sweep_due(world)
    before = portal_reads(world)

    step = run_step(world, "cfdi_download")

    assert step.created_count == 1
    assert portal_reads(world) - before == 3 + 3 + 1  # both listings, one file link
    assert Cfdi.objects.filter(tenant=world, uuid=recent.uuid).count() == 1


def test_rejected_and_cancelled_cfdis_are_not_imported_and_say_why(world, plan):
    refused = {
        add_one_cfdi(world, portal_status="rejected").uuid: portal_status.REJECTED,
        add_one_cfdi(world, portal_status="REJECTED_BY_CXP").uuid: portal_status.REJECTED,
        add_one_cfdi(world, cancelled_by_sat=True).uuid: portal_status.CANCELLED_BY_SAT,
        add_one_cfdi(world, cancelled_in_tenant=True).uuid: portal_status.CANCELLED_IN_TENANT,
    }
    fine = add_one_cfdi(world)

    download = run_step(world, "cfdi_download")
    imported = run_step(world, "cfdi_import")

    assert download.failed_count == 0, "the portal's decision is not a failed download"
    folios = folio_rows(world)
    for uuid, code in refused.items():
        row = Cfdi.objects.get(tenant=world, uuid=uuid)
        assert row.status == CfdiStatus.INVALID and [p["code"] for p in row.problems] == [code]
        assert uuid not in folios
    assert fine.uuid in folios
    assert imported.created_count == len(to_import(plan)) + 1


def test_a_rejection_lifted_on_the_portal_lets_the_cfdi_in(world):
    rejected = add_one_cfdi(world, portal_status="rejected")
    run_step(world, "cfdi_download")
    change_portal_status(world, rejected.uuid, portal_status="PENDING_PAYMENT")

    run_step(world, "cfdi_download")
    run_step(world, "cfdi_import")

    row = Cfdi.objects.get(tenant=world, uuid=rejected.uuid)
    assert (row.status, row.problems) == (CfdiStatus.IMPORTED, [])


def test_an_imported_cfdi_cancelled_later_needs_attention_and_nothing_is_deleted(world):
    fine = add_one_cfdi(world)
    run_step(world, "cfdi_download")
    run_step(world, "cfdi_import")
    row = Cfdi.objects.get(tenant=world, uuid=fine.uuid)
    assert row.status == CfdiStatus.IMPORTED
    alias = sage_alias(world)
    sage_before = (APIBC.objects.using(alias).count(), APIBH.objects.using(alias).count())
    change_portal_status(world, fine.uuid, cancelled_by_sat=True)

    step = run_step(world, "cfdi_download")

    row.refresh_from_db()
    assert row.status == CfdiStatus.NEEDS_ATTENTION
    (problem,) = row.problems
    assert problem["code"] == portal_status.AFTER_IMPORT and problem["reason_code"] == portal_status.CANCELLED_BY_SAT
    assert f"{row.sage_batch}" in problem["message"] and f"{row.sage_entry}" in problem["message"]
    assert step.failed_count == 1, "a person must act in Sage: the step says so"
    record = Outbound.objects.get(tenant=world, kind=Outbound.Kind.CFDI_IMPORT, key=row.uuid)
    assert (record.attention, record.reason_code) == (Outbound.Attention.PERSON, portal_status.AFTER_IMPORT)
    assert f"{row.sage_batch}" in record.reason
    assert (row.sage_batch, row.sage_entry) != (None, None)
    run_step(world, "cfdi_import")
    assert (APIBC.objects.using(alias).count(), APIBH.objects.using(alias).count()) == sage_before
    assert APIBH.objects.using(alias).filter(CNTBTCH=row.sage_batch, CNTITEM=row.sage_entry).exists()
    again = run_step(world, "cfdi_download")
    assert again.failed_count == 0, "told once, when it happened"


def test_a_rejection_after_the_import_lifted_on_the_portal_needs_nobody_any_more(world):
    fine = add_one_cfdi(world)
    run_step(world, "cfdi_download")
    run_step(world, "cfdi_import")
    change_portal_status(world, fine.uuid, portal_status="rejected")
    run_step(world, "cfdi_download")
    record = Outbound.objects.get(tenant=world, kind=Outbound.Kind.CFDI_IMPORT, key=fine.uuid)
    assert (record.attention, record.reason_code) == (Outbound.Attention.PERSON, portal_status.AFTER_IMPORT)

    change_portal_status(world, fine.uuid, portal_status="PENDING_PAYMENT")
    run_step(world, "cfdi_download")

    record.refresh_from_db()
    assert record.attention == ""
    assert record.history.first().message == "The portal no longer refuses it."
    assert Cfdi.objects.get(tenant=world, uuid=fine.uuid).problems == []


def test_the_sweep_refreshes_the_portal_status_of_older_cfdis(world, plan):
    run_step(world, "cfdi_download")
    older = next(c for c in plan.cfdis if c.kind == "I"
                 and c.issued.date() < timezone.localdate() - dt.timedelta(days=5))
    change_portal_status(world, older.uuid, portal_status="rejected")

    run_step(world, "cfdi_download")
    assert not Cfdi.objects.get(tenant=world, uuid=older.uuid).problems, "outside the arrival window: not seen yet"

    sweep_due(world)
    run_step(world, "cfdi_download")
    codes = [p["code"] for p in Cfdi.objects.get(tenant=world, uuid=older.uuid).problems]
    assert portal_status.REJECTED in codes or portal_status.AFTER_IMPORT in codes


@pytest.mark.parametrize("which", [BatchResultId.EXTERNAL, BatchResultId.PORTAL])
def test_the_erp_status_is_recorded_under_either_batch_reading(world, plan, which):
    SandboxPortalTenant.objects.filter(tenant_id=world.portal_tenant_id).update(batch_result_id=which)
    run_step(world, "cfdi_download")

    step = run_step(world, "cfdi_import")

    assert step.failed_count == 0, step.log
    imported = set(Cfdi.objects.filter(tenant=world, status=CfdiStatus.IMPORTED).values_list("uuid", flat=True))
    records = Outbound.objects.filter(tenant=world, kind=Outbound.Kind.CFDI_STATUS)
    assert {r.key: r.state for r in records} == {uuid: Outbound.State.CONFIRMED for uuid in imported}
    told = set(SandboxCfdi.objects.filter(erp_status="DELIVERED_ERP").values_list("uuid", flat=True))
    assert told == imported
