"""The reconcile page in a real browser, on the demo company with drift seeded: staff open it from the
tenant's page, re-send a PO the portal lost, and the next cycle puts it back on the portal stand-in.
The page fits a laptop and a phone, every action can be pressed, and axe-core finds nothing serious.
Screenshots: var/screenshots/reconcile*.png (SAGECONNECT_SCREENSHOTS_DIR)."""
from __future__ import annotations

import os

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from playwright.sync_api import expect  # noqa: E402

from sandbox.faults import clear_faults  # noqa: E402
from sandbox.portal.models import SandboxPurchaseOrder  # noqa: E402
from sync.models import Outbound  # noqa: E402
from tests.support import needs_system  # noqa: E402
from tests.sync.test_reconcile import cycle  # noqa: E402
from tests.ui.conftest import SAGE_ALIAS  # noqa: E402
from tests.ui.test_browser import SCREENSHOTS, browser, log_in, page  # noqa: E402,F401 (fixtures)
from tests.ui.test_browser_pages import (  # noqa: E402,F401 (fixture)
    WIDTHS,
    _log_in,
    serious_accessibility_violations,
    sideways_overflow,
    staff_page,
    unreachable_actions,
)
from tests.ui.test_reconcile_page import drifted  # noqa: E402

pytestmark = [pytest.mark.django_db(transaction=True, databases=["default", SAGE_ALIAS]), needs_system("chromium")]


@pytest.fixture
def demo(sage_test_alias, sage_tenant, live_server, tmp_path, settings):
    settings.STORAGES = {**settings.STORAGES, "cfdi": {
        "BACKEND": "cfdi.storage.AtomicFileSystemStorage", "OPTIONS": {"location": str(tmp_path / "cfdi")}}}
    lost, payment = drifted(sage_tenant, live_server)
    yield sage_tenant, lost, payment
    clear_faults()


def test_staff_re_send_a_po_the_portal_lost_and_the_next_cycle_puts_it_back(page, live_server, demo, staff_user):
    tenant, lost, payment = demo
    log_in(page, live_server, staff_user.username)
    page.goto(f"{live_server.url}/tenants/{tenant.code}/")
    page.get_by_role("link", name="Reconcile with the portal").click()
    row = page.locator(f'tr[data-kind="po_missing"][data-key="{lost}"]')
    expect(row).to_contain_text(f"PO {lost} of vendor")
    expect(page.locator(f'tr[data-kind="payment_amount"][data-key="{payment}"]')).to_contain_text(
        "the portal cannot change a payment")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "reconcile.png"), full_page=True)

    row.locator("button.fix-resend").click()
    expect(page.locator(".messages")).to_contain_text("goes out again with the next cycle")
    assert Outbound.objects.get(tenant=tenant, kind=Outbound.Kind.PO, key=lost).state == Outbound.State.PENDING
    cycle(tenant)
    assert SandboxPurchaseOrder.objects.filter(external_id=lost).exists()
    page.reload()
    expect(page.locator(f'tr[data-kind="po_missing"][data-key="{lost}"]')).to_have_count(0)


@pytest.mark.parametrize("staff_page", list(WIDTHS), indirect=True)
def test_the_page_fits_the_screen_and_has_no_serious_accessibility_problem(staff_page, live_server, demo, staff_user):
    tenant, _lost, _payment = demo
    _log_in(staff_page, live_server, staff_user.username)
    response = staff_page.goto(f"{live_server.url}/tenants/{tenant.code}/reconcile/")
    assert response.status == 200
    expect(staff_page.locator("h1")).to_contain_text("Conciliar")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    staff_page.screenshot(path=str(SCREENSHOTS / f"reconcile-{staff_page.width_name}.png"), full_page=True)
    assert sideways_overflow(staff_page) <= 0
    assert unreachable_actions(staff_page) == []
    assert serious_accessibility_violations(staff_page) == []
