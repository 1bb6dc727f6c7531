"""A person at a browser: Debian's chromium driven by Playwright against live_server.

Screenshots of the overview and of an invoice page land in var/screenshots/ of the
checkout (SAGECONNECT_SCREENSHOTS_DIR overrides it), for people to look at.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.conf import settings

# Playwright's sync API runs an event loop in this thread; Django's ORM calls made by
# the fixtures here are still plain synchronous ones.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from tests.support import needs_system  # noqa: E402
from tests.ui.conftest import INVOICE_UUID, PASSWORD  # noqa: E402

pytestmark = [pytest.mark.django_db(transaction=True), needs_system("chromium")]

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("SAGECONNECT_SCREENSHOTS_DIR", settings.BASE_DIR / "var" / "screenshots"))


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def log_in(page: Page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


def test_it_shows_the_overview_after_login(page, live_server, world, staff_user):
    world(3)
    log_in(page, live_server, staff_user.username)
    expect(page.locator("h1")).to_have_text("Overview")
    rows = page.locator("table.overview tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first.locator(".chip.problem")).to_have_text("✗ CFDI import: failed")  # its last run failed
    expect(rows.first.locator(".chip")).to_have_count(9)  # one per step
    expect(page.locator("table.overview thead th")).to_contain_text(["Tenant", "Waiting for a person", "Runs",
                                                                     "Steps"])
    # What waits, each count a link to the attention page's list that holds it.
    expect(rows.first.locator(".needs-cell a")).to_have_text(["1 invoice needing a person", "1 payment waiting"])
    rows.first.locator(".needs-cell a", has_text="payment waiting").click()
    expect(page).to_have_url(re.compile(r"/attention/\?tenant=t0\d&kind=payment&show=waiting$"))
    expect(page.locator("table.attention tbody tr")).to_have_count(1)
    expect(page.locator("table.attention tbody tr")).to_contain_text("waits for an invoice not yet in Sage")
    page.go_back()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "overview.png"), full_page=True)


def test_it_refreshes_the_overview_without_a_full_reload(page, live_server, world, staff_user):
    from tenants.models import Tenant

    world(1)
    log_in(page, live_server, staff_user.username)
    page.evaluate("window.marker = 'same page'")
    Tenant.objects.update(paused=True)
    page.evaluate("window.sageconnectRefreshOverview()")
    expect(page.locator("table.overview .paused")).to_have_count(1)
    assert page.evaluate("window.marker") == "same page"


def test_it_shows_a_failed_invoice_with_its_error(page, live_server, world, staff_user):
    world(1)
    log_in(page, live_server, staff_user.username)
    page.click("text=CFDIs")
    page.click(f"text={INVOICE_UUID}")
    expect(page.locator("#cfdi-status")).to_have_text("failed")
    expect(page.locator("table.attempts")).to_contain_text("Vendor H&E951128469 does not exist in Sage.")
    expect(page.locator("table.concepts tbody tr").first).to_be_visible()
    expect(page.locator("table.totals")).to_contain_text("17,852.75 MXN")
    expect(page.locator("#retry")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "invoice.png"), full_page=True)


def test_it_pauses_and_resumes_a_tenant(page, live_server, world, staff_user):
    from tenants.models import Tenant

    tenant = world(2)[0]
    log_in(page, live_server, staff_user.username)
    page.click("text=Scheduler")
    row = page.locator(f"table.scheduler tr[data-tenant={tenant.code}]")
    row.locator("button.pause").click()
    expect(page.locator(".messages")).to_contain_text(f"Paused {tenant.code}")
    expect(row.locator("td.state")).to_have_text("paused")
    assert Tenant.objects.get(pk=tenant.pk).paused is True
    assert Tenant.objects.filter(paused=True).count() == 1
    row.locator("button.resume").click()
    expect(row.locator("td.state")).to_have_text("scheduled")
    assert Tenant.objects.get(pk=tenant.pk).paused is False


def test_it_sends_an_anonymous_visitor_to_login(page, live_server, world):
    world(1)
    for path in ("/", "/runs/", "/cfdis/", "/payments/", "/pos/", "/scheduler/", "/api/status"):
        page.goto(f"{live_server.url}{path}")
        expect(page).to_have_url(re.compile(r"/login/\?next="))
        expect(page.locator("h1")).to_have_text("Log in to SageConnect")


def test_it_keeps_staff_out_of_the_tenant_admin(page, live_server, world, staff_user):
    world(1)
    log_in(page, live_server, staff_user.username)
    response = page.goto(f"{live_server.url}/admin/tenants/tenant/")
    assert response.status == 403
