"""Invoices keyed by hand, in a real browser, on the demo company: staff look for matches, confirm one
and reject the other; the next cycle sends the confirmed invoice's payment to the portal stand-in.
The page fits a laptop and a phone, every action can be pressed, and axe-core finds nothing serious.
Screenshots: var/screenshots/matches*.png (SAGECONNECT_SCREENSHOTS_DIR)."""
from __future__ import annotations

import os

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from playwright.sync_api import expect  # noqa: E402

from cfdi.models import InvoiceMatch, MatchState, SageWrite  # noqa: E402
from sandbox.faults import clear_faults  # noqa: E402
from sandbox.portal.models import SandboxPayment  # noqa: E402
from sync import matching  # noqa: E402
from sync.models import Payment  # noqa: E402
from tests.support import needs_system  # noqa: E402
from tests.sync.test_invoice_matching import HAND_KEYED, cycle, plan_cfdi, wire_demo  # noqa: E402
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

pytestmark = [pytest.mark.django_db(transaction=True, databases=["default", SAGE_ALIAS]), needs_system("chromium")]


@pytest.fixture
def demo(sage_test_alias, sage_tenant, live_server):
    tenant, plan = wire_demo(sage_tenant, live_server)
    cycle(tenant)
    yield tenant, plan
    clear_faults()


def test_staff_confirm_one_reject_the_other_and_the_payment_goes_out(page, live_server, demo, staff_user):
    tenant, plan = demo
    log_in(page, live_server, staff_user.username)
    page.get_by_role("link", name="Keyed by hand").click()
    expect(page.locator("table.matches tbody")).to_contain_text("No proposal")
    page.click("#find-matches")
    expect(page.locator(".messages")).to_contain_text(f"{tenant.code}: 2 proposal(s).")
    rows = page.locator("table.matches tbody tr")
    expect(rows).to_have_count(2)
    confirm_row = page.locator('tr[data-document="P00011 FA-1010"]')
    expect(confirm_row.locator(".score")).to_have_text("100")
    expect(confirm_row).to_contain_text(plan_cfdi(plan, "FA-1010").uuid)
    expect(confirm_row.locator("ul.reasons li.hit")).to_have_count(4)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "matches.png"), full_page=True)

    confirm_row.locator("button.confirm").click()
    expect(page.locator(".messages")).to_contain_text("SageConnect keeps the match")
    page.locator('tr[data-document="P00006 FA-1022"] button.reject').click()
    expect(page.locator(".messages")).to_contain_text("will not be proposed again")
    expect(page.locator("table.matches tbody tr")).to_have_count(1)  # the empty list's one row
    assert {m.document_number: (m.state, m.sage_write, m.decided_by) for m in InvoiceMatch.objects.all()} == {
        "FA-1010": (MatchState.CONFIRMED, SageWrite.KEPT, staff_user.username),
        "FA-1022": (MatchState.REJECTED, "", staff_user.username)}

    cycle(tenant)
    sent = SandboxPayment.objects.get(external_id="PY0000005")
    assert [line["uuid"] for line in sent.request["cfdis"]] == [plan_cfdi(plan, "FA-1010").uuid]
    assert Payment.objects.get(tenant=tenant, docnbr="PY0000010").state == Payment.State.WAITING
    page.goto(f"{live_server.url}/matches/?state=confirmed")
    expect(page.locator(".todo")).to_contain_text(f"FOLIOCFD = {plan_cfdi(plan, 'FA-1010').uuid}")
    page.screenshot(path=str(SCREENSHOTS / "matches-confirmed.png"), full_page=True)


@pytest.mark.parametrize("staff_page", list(WIDTHS), indirect=True)
def test_the_page_fits_the_screen_and_has_no_serious_accessibility_problem(staff_page, live_server, demo, staff_user):
    tenant, _plan = demo
    assert len(matching.find_matches(tenant)) == len(HAND_KEYED)
    _log_in(staff_page, live_server, staff_user.username)
    response = staff_page.goto(f"{live_server.url}/matches/")
    assert response.status == 200
    expect(staff_page.locator("h1")).to_have_text("Facturas capturadas a mano")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    staff_page.screenshot(path=str(SCREENSHOTS / f"matches-{staff_page.width_name}.png"), full_page=True)
    assert sideways_overflow(staff_page) <= 0
    assert unreachable_actions(staff_page) == []
    assert serious_accessibility_violations(staff_page) == []
