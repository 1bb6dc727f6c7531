"""`manage.py bench pages [--repeat 5]`: each staff page's server time and query count on this site's data
(after `./demo.sh`, the demo tenant's), through Django's whole request path (middleware, view, template).

A throw-away staff user asks each page `--repeat` times after one warm-up; the figure is the median.
Pages over the budget (100 ms) are marked; the command then exits 1. Figures go to var/bench/pages.json.
"""
from __future__ import annotations

import statistics
import time
import uuid

from django.contrib.auth.models import User
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils.translation import gettext as _

from bench import isolation
from bench.report import machine, write_json
from cfdi.models import Cfdi
from sync.models import SyncRun
from tenants.models import Tenant

BUDGET_MS = 100.0


def add_pages_arguments(parser) -> None:
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--language", default="es", help=_("the language the pages are asked in"))


def page_urls() -> list[str]:
    tenant = Tenant.objects.order_by("id").first()
    run = SyncRun.objects.order_by("-id").first()
    cfdi = Cfdi.objects.order_by("id").first()
    urls = ["/", "/attention/", "/attention/?show=waiting", "/runs/", "/cfdis/", "/payments/", "/pos/",
            "/scheduler/", "/matches/", "/api/status"]
    if tenant:
        urls.insert(1, f"/tenants/{tenant.code}/")
    if run:
        urls.insert(4, f"/runs/{run.pk}/")
    if cfdi:
        urls.insert(6, f"/cfdis/{cfdi.pk}/")
    return urls


def run_pages(command, options) -> int:
    user = User.objects.create_user(f"bench-pages-{uuid.uuid4().hex[:8]}", is_staff=True)
    over = 0
    results = {}
    try:
        client = Client(HTTP_ACCEPT_LANGUAGE=options["language"], HTTP_HOST="localhost")
        client.force_login(user)
        for url in page_urls():
            client.get(url)  # warm-up: templates and translations loaded once
            times, queries, status = [], 0, 0
            for _round in range(max(1, options["repeat"])):
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    response = client.get(url)
                    times.append((time.perf_counter() - started) * 1000)
                queries, status = len(captured), response.status_code
            median = statistics.median(times)
            results[url] = {"ms": round(median, 1), "queries": queries, "status": status}
            flag = "" if median <= BUDGET_MS and status == 200 else "  <-- " + _("over budget or not 200")
            over += bool(flag)
            command.stdout.write(f"{median:8.1f} ms {queries:4d} q  {status}  {url}{flag}")
    finally:
        user.delete()
    write_json(isolation.bench_root() / "pages.json", {"budget_ms": BUDGET_MS, "pages": results, "machine": machine()})
    if over:
        raise CommandError(_("%(n)s page(s) over %(ms)s ms or not answered 200.") % {"n": over, "ms": BUDGET_MS})
    return 0
