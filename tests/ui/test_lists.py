"""Runs, payments and purchase orders: filters, a run's page, what a waiting payment waits for."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cfdi.models import Cfdi, CfdiStatus
from sync.models import SyncRun
from tests.ui.conftest import INVOICE_UUID

pytestmark = pytest.mark.django_db


def test_it_filters_runs_by_tenant_status_step_and_date(staff_client, world):
    first, second = world(2)
    SyncRun.objects.create(tenant=second, status=SyncRun.Status.SKIPPED, skip_reason="paused",
                           started=timezone.now() - dt.timedelta(days=3), finished=timezone.now())

    def listed(query: str) -> list[tuple[str, str]]:
        return [(run.tenant.code, run.status) for run in staff_client.get(f"/runs/?{query}").context["page"]]

    assert sorted(listed(f"tenant={second.code}")) == [(second.code, "partial"), (second.code, "skipped")]
    assert listed("status=skipped") == [(second.code, "skipped")]
    assert sorted(listed("step=po_close")) == [(first.code, "partial"), (second.code, "partial")]
    three_days_ago = (timezone.localdate() - dt.timedelta(days=3)).isoformat()
    assert listed(f"date={three_days_ago}") == [(second.code, "skipped")]


def test_it_shows_a_runs_steps_logs_and_failed_records(staff_client, world):
    world(1)
    run = SyncRun.objects.get()
    html = staff_client.get(f"/runs/{run.pk}/").content.decode()
    assert html.count('class="step"') == 9  # one per step
    assert "cfdi_import: started" in html and "1 record(s) failed" in html
    assert "The portal refused PO: unknown provider." in html
    assert staff_client.get("/runs/999999/").status_code == 404


def test_it_says_which_uuids_a_waiting_payment_waits_for(staff_client, world):
    first, second = world(2)
    Cfdi.objects.filter(tenant=second).update(status=CfdiStatus.IMPORTED)
    response = staff_client.get("/payments/")
    rows = {row.payment.tenant.code: [wait.uuid for wait in row.waiting_for] for row in response.context["rows"]}
    assert rows == {first.code: [INVOICE_UUID], second.code: []}
    # The invoice it waits for is a link to that invoice's page, with its status saying why.
    cfdi = Cfdi.objects.get(tenant=first)
    assert f'<a href="/cfdis/{cfdi.pk}/" class="waits-for"><code>{INVOICE_UUID}</code></a>' in response.content.decode()


def test_it_lists_purchase_orders_with_their_last_error(staff_client, world):
    world(1)
    html = staff_client.get("/pos/?state=pending").content.decode()
    assert "PO00000" in html and "The portal refused PO: unknown provider." in html
    assert "PO00000" not in staff_client.get("/pos/?state=confirmed").content.decode()


def test_it_shows_times_in_the_tenants_time_zone(staff_client, world):
    from tenants.models import Tenant

    mexico, tijuana = world(2)
    Tenant.objects.filter(pk=tijuana.pk).update(time_zone="America/Tijuana")
    moment = dt.datetime(2026, 1, 15, 18, 30, tzinfo=dt.timezone.utc)
    SyncRun.objects.update(started=moment, finished=moment + dt.timedelta(seconds=42))
    html = staff_client.get("/runs/").content.decode()
    # Several tenants on one page: each time in its tenant's zone, marked with that zone.
    assert ('<time datetime="2026-01-15T18:30:00+00:00" title="America/Mexico_City">2026-01-15 12:30:00 CST</time>'
            in html)
    assert '<time datetime="2026-01-15T18:30:00+00:00" title="America/Tijuana">2026-01-15 10:30:00 PST</time>' in html
    assert "42.0 s" in html
    # One tenant's page reads in its zone and says which.
    html = staff_client.get(f"/runs/{SyncRun.objects.get(tenant=tijuana).pk}/").content.decode()
    assert "2026-01-15 10:30:00 PST" in html and "12:30:00" not in html
    html = staff_client.get(f"/tenants/{tijuana.code}/").content.decode()
    assert "America/Tijuana" in html and "2026-01-15 10:30:00 PST" in html


def test_it_falls_back_to_the_sites_zone_for_a_zone_it_does_not_know(staff_client, world):
    from tenants.models import Tenant

    tenant = world(1)[0]
    Tenant.objects.filter(pk=tenant.pk).update(time_zone="Mars/Olympus_Mons")
    SyncRun.objects.update(started=dt.datetime(2026, 1, 15, 18, 30, tzinfo=dt.timezone.utc))
    for url in ("/", "/runs/", f"/tenants/{tenant.code}/", "/scheduler/", "/pos/", "/attention/"):
        assert staff_client.get(url).status_code == 200, url
    assert "2026-01-15 12:30:00 CST" in staff_client.get("/runs/").content.decode()


@pytest.mark.parametrize("zone, expected", [
    ("America/Mexico_City", "2026-01-15 12:30 CST"),
    ("America/Bogota", "2026-01-15 13:30 UTC-05"),  # the zone has no letters for itself
    ("Asia/Kathmandu", "2026-01-16 00:15 UTC+05:45"),
    ("UTC", "2026-01-15 18:30 UTC"),
])
def test_it_marks_a_time_with_its_zone(zone, expected):
    from sync.local_time import local_text

    assert local_text(dt.datetime(2026, 1, 15, 18, 30, tzinfo=dt.timezone.utc), zone) == expected
