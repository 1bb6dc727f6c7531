"""Retry in a real browser: a failed invoice, its error, Retry, and the import really
running against the stand-ins over HTTP.

The Retry button queues a django-q2 task on the ORM broker; the test then runs that
queued task itself, synchronously in the test's thread, with the function and arguments
read back from the broker's queue row, as a cluster worker would.
"""
from __future__ import annotations

import os
import re

import pytest
from django.utils.module_loading import import_string
from django_q.models import OrmQ

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from playwright.sync_api import expect  # noqa: E402

from cfdi.models import Cfdi, CfdiStatus  # noqa: E402
from sandbox.company import write_company  # noqa: E402
from sandbox.faults import clear_faults  # noqa: E402
from sandbox.portal.seed import seed_portal  # noqa: E402
from sync.engine.pipeline import run_tenant  # noqa: E402
from sync.sage.models import APVEN  # noqa: E402
from tenants.sage_db import sage_alias  # noqa: E402
from tests.support import needs_system  # noqa: E402
from tests.sync.cfdi.world import import_history, make_plan, to_import  # noqa: E402
from tests.ui.conftest import SAGE_ALIAS  # noqa: E402
from tests.ui.test_browser import SCREENSHOTS, browser, log_in, page  # noqa: E402,F401 (fixtures)

pytestmark = [pytest.mark.django_db(transaction=True, databases=["default", SAGE_ALIAS]), needs_system("chromium")]


@pytest.fixture
def sandbox_tenant(sage_test_alias, sage_tenant, live_server, cfdi_storage_dir, settings):
    """A tenant whose Sage company, Web API and portal are the stand-ins, filled from one plan."""
    plan = make_plan()
    tenant = sage_tenant
    tenant.portal_url = f"{live_server.url}/sandbox/portal"
    tenant.webapi_url = f"{live_server.url}/sandbox/sage"
    tenant.sat_status_url = f"{live_server.url}/sandbox/sat/ConsultaCFDIService.svc"
    tenant.invoice_distribution_code = "INV"
    tenant.save()
    write_company(sage_alias(tenant), plan)
    seed_portal(tenant, plan)
    yield tenant, plan
    clear_faults()


def run_queued_tasks() -> list[str]:
    """Run what the page queued, as a worker would: function and arguments from the queue row."""
    done = []
    for queued in OrmQ.objects.order_by("id"):
        task = queued.task
        import_string(task["func"])(*task["args"], **task["kwargs"])
        done.append(task["func"])
        queued.delete()
    return done


def test_it_imports_a_failed_invoice_when_staff_press_retry(live_server, sandbox_tenant, staff_user, page):
    tenant, plan = sandbox_tenant
    assert run_tenant(tenant.pk, only_step="cfdi_download").steps.get().status == "succeeded"
    victim = sorted(to_import(plan))[0]
    vendor_id = next(c.vendor_id for c in plan.cfdis if c.uuid == victim)
    vendors = APVEN.objects.using(sage_alias(tenant)).filter(VENDORID=vendor_id)
    vendors.update(SWACTV=0)  # Sage refuses invoices of an inactive vendor
    run_tenant(tenant.pk, only_step="cfdi_import")
    cfdi = Cfdi.objects.get(tenant=tenant, uuid=victim)
    assert cfdi.status == CfdiStatus.FAILED
    error = import_history(cfdi).get().error_code
    vendors.update(SWACTV=1)  # a person fixed the vendor in Sage

    log_in(page, live_server, staff_user.username)
    page.goto(f"{live_server.url}/cfdis/?status=failed")
    page.click(f"text={victim}")
    expect(page.locator("#cfdi-status")).to_have_text("failed")
    expect(page.locator("table.attempts")).to_contain_text(error)
    page.click("#retry")
    expect(page.locator(".messages")).to_contain_text(f"Re-import of {victim} queued")
    # Queued, and nothing changed yet: the page says so and still shows the failure.
    expect(page.locator("#retry-state")).to_contain_text("queued")
    expect(page.locator("#cfdi-status")).to_have_text("failed")

    assert run_queued_tasks() == ["sync.tasks.run_retry_request"]

    page.reload()
    expect(page.locator("#cfdi-status")).to_have_text("imported")
    expect(page.locator("#retry-state")).to_contain_text("done")
    cfdi.refresh_from_db()
    expect(page.locator("#sage-batch")).to_have_text(str(cfdi.sage_batch))
    expect(page.locator("#sage-entry")).to_have_text(str(cfdi.sage_entry))
    expect(page.locator("table.attempts tbody tr")).to_have_count(3)  # refused, retry asked, imported
    expect(page.locator("#retry")).to_have_count(0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "invoice-after-retry.png"), full_page=True)
    assert re.fullmatch(r"\d+", page.locator("#sage-entry").inner_text())
