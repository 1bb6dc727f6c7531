"""`manage.py bench reconcile --size small|large`: the reconcile report (sync.reconcile) on a company of
that size, after one full cycle against the stand-ins (so the report compares a synced company, its
usual case), then with 1 % of the POs changed in Sage behind the PO steps' watermark (so it has
differences to find). Prints the report's wall time, its SQL queries on our database and on the Sage
company, the portal list calls it made, the records checked and the differences found."""
from __future__ import annotations

import datetime as dt
import os
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F
from django.utils.translation import gettext as _

from bench import isolation
from bench.measure import AccessLog, SqlCounter, peak_memory_mb
from bench.report import write_json
from bench.servers import StandIns
from bench.world import SIZES, add_latency, fill, make_tenant, plan_of
from sync import reconcile
from sync.engine.pipeline import run_tenant
from sync.sage.models import POPORL
from tenants.sage_db import sage_alias

CODE = "benchrec"


def add_reconcile_arguments(parser) -> None:
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--latency-ms", type=int, default=40, help=_("added by the stand-ins to every request"))
    parser.add_argument("--workers", type=int, default=4, help=_("gunicorn worker processes for the stand-ins"))


def run_reconcile(command, options) -> int:
    size = options["size"]
    if not isolation.inside():
        folder = isolation.fresh_dir(f"reconcile-{size}")
        command.stdout.write(_("bench reconcile: throw-away installation in %(dir)s") % {"dir": folder})
        # SAT's 120 calls a minute would make the cycle before the report last half an hour at large.
        os.environ.setdefault("SAGECONNECT_SAT_CALLS_PER_MINUTE", "100000")
        code = isolation.rerun_inside(folder, ["reconcile", "--size", size, "--latency-ms",
                                               str(options["latency_ms"]), "--workers", str(options["workers"])])
        if code:
            raise CommandError(_("The reconcile benchmark stopped (exit %(code)s); see above.") % {"code": code},
                               returncode=code)
        return 0
    started = time.perf_counter()

    def say(text: str) -> None:
        command.stdout.write(f"[{time.perf_counter() - started:7.1f} s] {text}")
        command.stdout.flush()

    call_command("migrate", verbosity=0)
    servers = StandIns(settings.VAR_DIR, workers=options["workers"])
    tenant = make_tenant(CODE, base_url=servers.url, sage_file=str(settings.VAR_DIR / "sage_reconcile.sqlite3"),
                         webapi_company="BENCHREC")
    today = dt.date.today()
    tenant.start_date = today - dt.timedelta(days=120)
    tenant.vendor_group_code = "NAC"  # the sandbox company's vendor group: new vendors are made, not refused
    tenant.save()
    say(_("building the %(size)s plan: %(s)s") % {"size": size, "s": SIZES[size]})
    fill(tenant, plan_of(SIZES[size], today=today))
    add_latency(tenant, options["latency_ms"])
    results = {}
    with servers:
        log = AccessLog(servers.access_log)
        say(_("one full cycle first…"))
        run = run_tenant(tenant.pk)
        say(_("cycle: %(status)s") % {"status": run.status})
        results["synced"] = measure(tenant, log, say, _("report on the synced company"))
        changed = drift(tenant)
        say(_("changed %(n)s POs in Sage behind the watermark") % {"n": changed})
        results["one_percent_drift"] = measure(tenant, log, say, _("report after one PO in a hundred drifted"))
    path = isolation.bench_root() / f"reconcile-{size}.json"
    write_json(path, {"size": size, "latency_ms": options["latency_ms"], "results": results,
                      "peak_memory_mb": peak_memory_mb()})
    say(_("figures written to %(path)s") % {"path": path})
    return 0


def drift(tenant) -> int:
    """1 % of the POs get one more unit on each line, their audit stamp untouched."""
    alias = sage_alias(tenant)
    seqs = sorted(set(POPORL.objects.using(alias).values_list("PORHSEQ", flat=True)))[::100]
    return POPORL.objects.using(alias).filter(PORHSEQ__in=seqs).update(OQORDERED=F("OQORDERED") + 1) and len(seqs)


def measure(tenant, log: AccessLog, say, title: str) -> dict:
    log.skip_to_end()
    with SqlCounter(["default", sage_alias(tenant)]) as sql:
        began = time.perf_counter()
        report = reconcile.reconcile(tenant)
        seconds = time.perf_counter() - began
    time.sleep(0.5)  # gunicorn writes its access log line after the answer
    calls = log.take()
    kinds: dict[str, int] = {}
    for difference in report.differences:
        kinds[difference.kind] = kinds.get(difference.kind, 0) + 1
    http = {key: count for key, count in calls.items() if not key.endswith("server_ms")}
    found = {"seconds": round(seconds, 2), "area_seconds": report.area_seconds, "sql": dict(sql.counts),
             "http_calls": http,
             "checked": report.checked, "differences": len(report.differences), "by_kind": kinds}
    say(f"{title}: {found['seconds']} s {report.area_seconds}, SQL {found['sql']}, HTTP {http}, "
        f"checked {report.checked}, differences {kinds}")
    return found
