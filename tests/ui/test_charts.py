"""What needs a person, counted once for the overview and the chart; the charts' days in the tenant's
zone; and, in a browser, the charts drawn from a real cycle against the stand-ins."""
from __future__ import annotations

import datetime as dt
import os
import re
from collections import Counter

import pytest
from django.utils import timezone

from cfdi.models import Cfdi, CfdiStatus
from sync import dashboard
from sync.models import Outbound, Payment, StepRun, SyncRun

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

MEXICO = dt.timezone(dt.timedelta(hours=-6))


def _record(tenant, kind: str, key: str, *, attention: str, since: dt.datetime) -> None:
    Outbound.objects.create(tenant=tenant, step="providers", kind=kind, key=key, action="create", attention=attention,
                            state=Outbound.State.FAILED if attention else Outbound.State.PENDING, since=since,
                            attempts=1)


@pytest.mark.django_db
def test_it_counts_each_record_that_waits_for_a_person_once_by_tenant_kind_and_day(world):
    first, second = world(2)  # each: one refused invoice, one waiting payment, one retryable PO failure
    now = timezone.now()
    _record(first, "vendor", "P001", attention="permanent", since=now - dt.timedelta(days=3))
    _record(first, "vendor", "P002", attention="", since=now)  # retried by itself: not a person's job
    Outbound.objects.filter(tenant=second, kind="cfdi_import").update(
        attention="person", state="confirmed", since=now - dt.timedelta(days=20))
    Outbound.objects.filter(tenant=second, kind="payment").update(state="confirmed")
    Payment.objects.filter(tenant=second).update(state=Payment.State.UPLOADED)

    needing = dashboard.needing_a_person_counts(days=5)

    # One count per record, read from the outbound records alone: the invoice's refusal once, not again as its CFDI.
    assert needing.now == {
        first.pk: Counter({"vendor": 1, "cfdi_import": 1, "waiting_payment": 1}),
        second.pk: Counter({"cfdi_import": 1}),
    }
    assert len(needing.days) == 5 and needing.days[-1] == timezone.localdate()
    # The vendor waits since 3 days ago; the invoice of the second tenant since before the window.
    assert [day["vendor"] for day in needing.by_day] == [0, 1, 1, 1, 1]
    assert [day["cfdi_import"] for day in needing.by_day] == [1, 1, 1, 1, 2]
    assert needing.by_day[-1] == needing.total_now()
    # The overview counts come from the same function, and link to the attention page's filtered list.
    rows = {row.tenant.code: row for row in dashboard.overview_rows()}
    assert {item.kind: item.count for item in rows[first.code].needs} == dict(needing.now[first.pk])
    assert [item.url for item in rows[second.code].needs] == [f"/attention/?tenant={second.code}&kind=cfdi_import"]


@pytest.mark.django_db
def test_it_is_green_only_when_nothing_waits(staff_client, world):
    tenant = world(1)[0]
    html = staff_client.get("/").content.decode()
    assert f'<tr class="problem" data-tenant="{tenant.code}">' in html
    assert f"/attention/?tenant={tenant.code}&amp;kind=payment&amp;show=waiting" in html
    Outbound.objects.update(state=Outbound.State.CONFIRMED, attention="")
    Cfdi.objects.update(status=CfdiStatus.IMPORTED)
    Payment.objects.update(state=Payment.State.UPLOADED)
    StepRun.objects.update(status=StepRun.Status.SUCCEEDED)
    SyncRun.objects.update(status=SyncRun.Status.SUCCEEDED)
    html = staff_client.get("/").content.decode()
    assert f'<tr class="ok" data-tenant="{tenant.code}">' in html


@pytest.mark.django_db
def test_a_waiting_payment_and_an_invoice_needing_a_person_keep_a_tenant_from_green(staff_client, world):
    """Every run went well, yet two outbound records wait: the overview says so, each count a link to the
    attention list that shows exactly that record."""
    tenant = world(1)[0]
    StepRun.objects.update(status=StepRun.Status.SUCCEEDED, message="")
    SyncRun.objects.update(status=SyncRun.Status.SUCCEEDED, failed_count=0)
    Outbound.objects.filter(kind=Outbound.Kind.PO).update(state=Outbound.State.CONFIRMED, attention="")
    invoice = Outbound.objects.get(kind=Outbound.Kind.CFDI_IMPORT)
    payment = Outbound.objects.get(kind=Outbound.Kind.PAYMENT)
    assert invoice.attention and payment.state == Outbound.State.WAITING

    html = staff_client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'<tr class="problem" data-tenant="{tenant.code}">' in html
    for record, query, label in ((invoice, f"tenant={tenant.code}&amp;kind=cfdi_import", "invoice needing a person"),
                                 (payment, f"tenant={tenant.code}&amp;kind=payment&amp;show=waiting",
                                  "payment waiting")):
        link = f'href="/attention/?{query}"'
        assert link in html and label in html
        listed = staff_client.get(f"/attention/?{query.replace('&amp;', '&')}",
                                  HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert record.key in listed

    Outbound.objects.filter(pk=payment.pk).update(state=Outbound.State.CONFIRMED)
    assert f'<tr class="problem" data-tenant="{tenant.code}">' in staff_client.get("/").content.decode()
    Outbound.objects.filter(pk=invoice.pk).update(state=Outbound.State.CONFIRMED, attention="")
    Cfdi.objects.update(status=CfdiStatus.IMPORTED)
    Payment.objects.update(state=Payment.State.UPLOADED)
    assert f'<tr class="ok" data-tenant="{tenant.code}">' in staff_client.get("/").content.decode()


@pytest.mark.django_db
def test_it_puts_each_run_on_the_day_of_the_tenants_zone(world):
    from tenants.models import Tenant

    tenant = world(1)[0]
    Tenant.objects.filter(pk=tenant.pk).update(time_zone="America/Tijuana")  # UTC−8 in January
    tenant.refresh_from_db()
    # 05:30 UTC on the 15th is still the 14th in Tijuana.
    SyncRun.objects.update(started=dt.datetime(2026, 1, 15, 5, 30, tzinfo=dt.timezone.utc))
    StepRun.objects.update(started=dt.datetime(2026, 1, 15, 5, 30, tzinfo=dt.timezone.utc))

    data = dashboard.chart_data(tenant, days=3, today=dt.date(2026, 1, 15))

    assert data.days == [dt.date(2026, 1, 13), dt.date(2026, 1, 14), dt.date(2026, 1, 15)]
    assert [dict(day) for day in data.runs] == [{}, {"partial": 1}, {}]
    assert data.durations["providers"] == [None, 1.5, None]
    assert data.longest["providers"] == 1.5


# --- in a browser, after a real cycle -------------------------------------------

from tests.ui.conftest import SAGE_ALIAS  # noqa: E402
from tests.ui.test_browser import SCREENSHOTS, browser, log_in, page  # noqa: E402,F401 (fixtures)
from tests.ui.test_browser_retry import sandbox_tenant  # noqa: E402,F401 (fixture)


def _drawn(page, chart: str) -> dict[str, float]:
    """What one chart's bars say for today, by series, read from the SVG the page shows."""
    today = timezone.localdate().isoformat()
    bars = page.locator(f"figure[data-chart={chart}] svg rect[data-day='{today}']")
    found: dict[str, float] = {}
    for index in range(bars.count()):
        bar = bars.nth(index)
        found[bar.get_attribute("data-series")] = float(bar.get_attribute("data-value"))
    return found


@pytest.mark.django_db(transaction=True, databases=["default", SAGE_ALIAS])
def test_it_draws_the_charts_from_a_real_cycle(live_server, sandbox_tenant, staff_user, page):  # noqa: F811
    from sandbox.company import write_company  # noqa: F401
    from sync.engine.pipeline import run_tenant
    from sync.sage.models import APVEN
    from tenants.sage_db import sage_alias
    from tests.sync.cfdi.world import to_import

    tenant, plan = sandbox_tenant
    victim = sorted(to_import(plan))[0]
    vendor_id = next(c.vendor_id for c in plan.cfdis if c.uuid == victim)
    APVEN.objects.using(sage_alias(tenant)).filter(VENDORID=vendor_id).update(SWACTV=0)  # Sage refuses its invoices
    first = run_tenant(tenant.pk)
    second = run_tenant(tenant.pk)
    assert Cfdi.objects.filter(tenant=tenant, status=CfdiStatus.FAILED).exists()

    log_in(page, live_server, staff_user.username)
    page.goto(f"{live_server.url}/tenants/{tenant.code}/")
    for chart in ("runs", "needing", "durations"):
        svg = page.locator(f"figure[data-chart={chart}] svg[role=img]")
        assert svg.get_attribute("aria-label")
        box = svg.bounding_box()
        assert box["width"] > 300 and box["height"] > 100, (chart, box)

    runs_today = Counter(SyncRun.objects.filter(tenant=tenant).values_list("status", flat=True))
    assert _drawn(page, "runs") == {status: float(n) for status, n in runs_today.items()}
    assert sum(runs_today.values()) == 2 and {first.status, second.status} <= set(runs_today)

    needing = dashboard.needing_a_person_counts([tenant.pk]).now[tenant.pk]
    assert needing["cfdi_import"] >= 1  # the hand-keyed invoices Sage holds without their UUID
    assert _drawn(page, "needing") == {kind: float(n) for kind, n in needing.items()}

    durations = _drawn(page, "durations")
    ran = set(StepRun.objects.filter(run__tenant=tenant, duration__isnull=False).values_list("step", flat=True))
    assert set(durations) == ran and len(ran) >= 5
    for step, mean in durations.items():
        expected = [s.duration for s in StepRun.objects.filter(run__tenant=tenant, step=step)]
        assert mean == pytest.approx(sum(expected) / len(expected), abs=1e-3)
    # The numbers behind the pictures are on the page too, for whoever cannot see them.
    page.locator("figure[data-chart=runs] summary").click()
    assert re.search(r"\d", page.locator("figure[data-chart=runs] table.chart-data").inner_text())
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "tenant-charts-after-a-real-cycle.png"), full_page=True)

    page.goto(f"{live_server.url}/")  # the overview draws the same, for every tenant
    assert _drawn(page, "runs") == {status: float(n) for status, n in runs_today.items()}
    assert page.locator(f"tr[data-tenant={tenant.code}] .needs-cell a").first.is_visible()
