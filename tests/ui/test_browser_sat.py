"""A person at a browser sees why an invoice was not imported: SAT reports it cancelled.
The import really runs against the portal, Sage and SAT stand-ins over HTTP."""
from __future__ import annotations

import os

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from playwright.sync_api import expect  # noqa: E402

from cfdi.models import Cfdi, CfdiStatus  # noqa: E402
from sandbox.sat.register import mark_cancelled_at_sat  # noqa: E402
from sync.engine.pipeline import run_tenant  # noqa: E402
from sync.sat.client import reset_rate_limit  # noqa: E402
from tests.sync.cfdi.world import to_import  # noqa: E402
from tests.ui.conftest import SAGE_ALIAS  # noqa: E402
from tests.ui.test_browser import SCREENSHOTS, browser, log_in, page  # noqa: E402,F401 (fixtures)
from tests.ui.test_browser_retry import sandbox_tenant  # noqa: E402,F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", SAGE_ALIAS])


def test_it_shows_on_the_invoice_page_that_sat_cancelled_it(live_server, sandbox_tenant, staff_user, page):
    reset_rate_limit()
    tenant, plan = sandbox_tenant
    assert run_tenant(tenant.pk, only_step="cfdi_download").steps.get().status == "succeeded"
    cancelled = sorted(to_import(plan))[0]
    mark_cancelled_at_sat(cancelled)
    run_tenant(tenant.pk, only_step="cfdi_import")
    cfdi = Cfdi.objects.get(tenant=tenant, uuid=cancelled)
    assert cfdi.status == CfdiStatus.INVALID

    log_in(page, live_server, staff_user.username)
    page.goto(f"{live_server.url}/cfdis/{cfdi.pk}/")
    expect(page.locator("#cfdi-status")).to_have_text("invalid")
    expect(page.locator("#sat-state")).to_have_text("Cancelado")
    expect(page.locator("#sat-cancellation")).to_have_text("Cancelado con aceptación")
    expect(page.locator("ul.problems")).to_contain_text("SAT reports this CFDI cancelled")
    expect(page.locator("#retry")).to_have_count(0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "invoice-cancelled-at-sat.png"), full_page=True)
