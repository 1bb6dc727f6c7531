"""A full cycle of the demo company (`sandbox company --tenant demo --seed 1`), through `manage.py sync`,
in Spanish and in English: every line it writes — each step's log, the steps' results, the run's note,
the reasons on the records it left waiting or needing a person, the command's own output — and every
staff page after it are in the language in force, with nothing of the other (tests/untranslated.py).

Over real HTTP to the portal, Sage Web API and SAT stand-ins, on a real sandbox Sage database."""
from __future__ import annotations

import html
import re
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import translation

from sync.models import Outbound, StepRun, SyncRun
from tests.sync.conftest import SAGE_DB
from tests.sync.test_invoice_matching import PO_STEPS, demo_plan, wire_demo
from tests.untranslated import problems

pytestmark = SAGE_DB

HEADERS = {"es": {"HTTP_ACCEPT_LANGUAGE": "es-MX,es;q=0.9"}, "en": {"HTTP_ACCEPT_LANGUAGE": "en"}}
TAG = re.compile(r"<[^>]+>")


@pytest.fixture
def demo(sage_tenant, live_server, settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "cfdi": {
        "BACKEND": "cfdi.storage.AtomicFileSystemStorage", "OPTIONS": {"location": str(tmp_path / "cfdi")}}}
    tenant, plan = wire_demo(sage_tenant, live_server)
    for step in PO_STEPS:  # the whole cycle: wire_demo switches the PO steps off
        setattr(tenant, f"step_{step}", True)
    tenant.save()
    assert len(plan.cfdis) == len(demo_plan(tenant).cfdis)
    return tenant


def _sync(tenant, language: str, *extra: str) -> list[str]:
    out, err = StringIO(), StringIO()
    with translation.override(language):
        with pytest.raises(SystemExit):
            call_command("sync", "--tenant", tenant.code, *extra, stdout=out, stderr=err)
    return (out.getvalue() + err.getvalue()).splitlines()


def _written_lines(tenant) -> list[str]:
    """Everything the cycles wrote that a person reads, as stored."""
    lines = []
    for step_run in StepRun.objects.filter(run__tenant=tenant):
        lines += [*step_run.log, step_run.message]
    lines += SyncRun.objects.filter(tenant=tenant).values_list("note", flat=True)
    for reason, error in Outbound.objects.filter(tenant=tenant).values_list("reason", "last_error"):
        lines.append(reason)
    return [line for line in lines if line]


def _page_lines(tenant, language: str) -> dict[str, list[str]]:
    from cfdi.models import Cfdi

    client = Client()
    client.force_login(User.objects.create_user(f"staff-{language}", is_staff=True))
    run = SyncRun.objects.filter(tenant=tenant).order_by("id").first()
    cfdi = Cfdi.objects.filter(tenant=tenant).order_by("id").first()
    urls = ["/", f"/tenants/{tenant.code}/", "/attention/", "/attention/?show=waiting", "/runs/", f"/runs/{run.pk}/",
            "/cfdis/", f"/cfdis/{cfdi.pk}/", "/payments/", "/pos/", "/scheduler/", "/matches/"]
    pages = {}
    for url in urls:
        response = client.get(url, **HEADERS[language])
        assert response.status_code == 200, url
        page = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
        pages[url] = [html.unescape(" ".join(TAG.sub(" ", cell).split()))
                      for cell in re.split(r"<(?:td|th|li|p|dd|dt|pre|h\d|span|a|button|option|label)\b", page)]
    return pages


def _foreign_on_pages(tenant, language: str) -> dict[str, dict[str, str]]:
    """Page text is mixed with our data, so only the other language's phrases are looked for there."""
    found = {}
    for url, cells in _page_lines(tenant, language).items():
        bad = {cell: why for cell, why in problems(cells, language).items() if why.startswith("carries")}
        if bad:
            found[url] = bad
    return found


@pytest.mark.parametrize("language", ["es", "en"])
def test_a_demo_cycle_writes_and_shows_only_the_language_in_force(demo, language):
    tenant = demo
    output = _sync(tenant, language, "--dry-run") + _sync(tenant, language) + _sync(tenant, language)
    written = _written_lines(tenant)
    # A cycle that did nothing would prove nothing: the demo's invoices, payments and POs were worked on.
    assert StepRun.objects.filter(run__tenant=tenant, run__dry_run=False, created_count__gt=0).count() >= 3
    assert len(written) > 50 and len(output) > 20

    assert not (bad := problems(written, language)), _listed(bad)
    assert not (bad := problems(output, language)), _listed(bad)
    assert not (bad := _foreign_on_pages(tenant, language)), _listed(bad)


def _listed(found: dict) -> str:
    return "\n".join(f"{key}: {value}" for key, value in sorted(found.items()))
