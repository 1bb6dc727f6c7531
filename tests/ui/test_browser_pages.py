"""Every staff page at a laptop's width and at a phone's: nothing scrolls the page sideways, every
action can be reached and pressed, and axe-core finds no serious accessibility problem.

Screenshots of each page at each width land in var/screenshots/ (SAGECONNECT_SCREENSHOTS_DIR).
axe-core is vendored under tests/ui/vendor/axe-core (see its SOURCE.md): no network needed.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from playwright.sync_api import Page  # noqa: E402

from tests.ui.conftest import PASSWORD  # noqa: E402
from tests.ui.test_browser import SCREENSHOTS, browser  # noqa: E402,F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

AXE_VERSION = "4.14.1"
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
WIDTHS = {"laptop": (1366, 800), "phone": (390, 844)}
# What a person must be able to reach and press; hidden inputs and the skip link (shown on focus) aside.
ACTIONS = ("main a[href], main button, main select, main input:not([type=hidden]), main textarea, header a, "
           "header button")


def page_paths() -> dict[str, str]:
    from cfdi.models import Cfdi
    from sync.models import SyncRun

    run = SyncRun.objects.order_by("id").first()
    cfdi = Cfdi.objects.order_by("id").first()
    return {
        "overview": "/", "tenant": f"/tenants/{run.tenant.code}/", "attention": "/attention/", "runs": "/runs/",
        "run": f"/runs/{run.pk}/", "cfdis": "/cfdis/", "cfdi": f"/cfdis/{cfdi.pk}/", "payments": "/payments/",
        "pos": "/pos/", "scheduler": "/scheduler/", "attention-waiting": "/attention/?show=waiting",
        "matches": "/matches/",
    }


PAGES = ["overview", "tenant", "attention", "attention-waiting", "runs", "run", "cfdis", "cfdi", "payments", "pos",
         "scheduler", "matches"]


@pytest.fixture
def staff_page(browser, request):  # noqa: F811
    width, height = WIDTHS[request.param]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="es-MX")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.width_name = request.param
    yield page
    context.close()


def _log_in(page: Page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def _world_with_every_kind_of_row(world) -> None:
    from sync.models import Outbound

    world(2)
    # One more record a person must fix (beside the refused invoice), so the attention list has every kind of row.
    Outbound.objects.filter(kind="po").update(attention="permanent", state="failed")


def sideways_overflow(page: Page) -> int:
    """How many pixels the page itself scrolls sideways (0 = it fits)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def unreachable_actions(page: Page) -> list[str]:
    """Every visible action, scrolled into view (its own box first, then the page), must lie inside the
    viewport and be the element a tap at its centre lands on."""
    problems = []
    for element in page.locator(ACTIONS).all():
        if not element.is_visible():
            continue
        element.scroll_into_view_if_needed()
        problem = element.evaluate("""(el) => {
            const box = el.getBoundingClientRect();
            const label = (el.innerText || el.value || el.name || el.getAttribute('href') || el.tagName).trim();
            if (box.left < -1 || box.right > window.innerWidth + 1)
                return `${label}: outside the screen (${Math.round(box.left)}–${Math.round(box.right)})`;
            const hit = document.elementFromPoint(box.left + Math.min(box.width / 2, 4), box.top + box.height / 2);
            if (!hit || !(el === hit || el.contains(hit) || hit.contains(el)
                          || (el.labels && [...el.labels].some(l => l.contains(hit)))))
                return `${label}: covered by ${hit ? hit.outerHTML.slice(0, 80) : 'nothing'}`;
            return null;
        }""")
        if problem:
            problems.append(problem)
    return problems


def serious_accessibility_violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    assert page.evaluate("axe.version") == AXE_VERSION
    violations = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => `${v.impact} ${v.id}: ${v.help} — `
                      + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
    }""")
    return violations


@pytest.mark.parametrize("staff_page", list(WIDTHS), indirect=True)
@pytest.mark.parametrize("name", PAGES)
def test_it_fits_the_screen_and_reaches_every_action_without_serious_accessibility_problems(
        staff_page, name, live_server, world, staff_user):
    _world_with_every_kind_of_row(world)
    _log_in(staff_page, live_server, staff_user.username)
    response = staff_page.goto(f"{live_server.url}{page_paths()[name]}")
    assert response.status == 200
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    staff_page.screenshot(path=str(SCREENSHOTS / f"{name}-{staff_page.width_name}.png"), full_page=True)

    assert sideways_overflow(staff_page) <= 0
    assert unreachable_actions(staff_page) == []
    assert serious_accessibility_violations(staff_page) == []


@pytest.mark.parametrize("staff_page", list(WIDTHS), indirect=True)
def test_the_login_page_fits_and_has_no_serious_accessibility_problem(staff_page, live_server, db):
    staff_page.goto(f"{live_server.url}/login/")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    staff_page.screenshot(path=str(SCREENSHOTS / f"login-{staff_page.width_name}.png"), full_page=True)
    assert sideways_overflow(staff_page) <= 0
    assert unreachable_actions(staff_page) == []
    assert serious_accessibility_violations(staff_page) == []


@pytest.mark.parametrize("staff_page", ["phone"], indirect=True)
def test_it_marks_the_current_page_in_the_navigation_and_skips_to_the_content(
        staff_page, live_server, world, staff_user):
    world(1)
    _log_in(staff_page, live_server, staff_user.username)
    staff_page.goto(f"{live_server.url}/payments/")
    current = staff_page.locator("header nav a[aria-current=page]")
    assert current.count() == 1 and current.inner_text() == "Pagos"
    staff_page.keyboard.press("Tab")
    skip = staff_page.locator("a.skip")
    assert skip.evaluate("el => el === document.activeElement") and skip.is_visible()
    skip.press("Enter")
    assert staff_page.evaluate("document.activeElement.id") == "content"
