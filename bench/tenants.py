"""`manage.py bench tenants --tenants 50 --workers 1,2`: many small tenants through a real django-q2 cluster.

For each worker count, a fresh throw-away installation (var/bench/tenants-w<N>/):
the same tenants, each with its own small Sage company and portal tenant,
the stand-ins under gunicorn with the per-request latency, and a `qcluster`
subprocess (ORM broker) with that many workers. One first cycle per tenant is
queued at once; the figure is the time until the last one has finished.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django_q.models import Schedule
from django_q.tasks import async_task

from bench import isolation
from bench.report import machine, write_json
from bench.servers import StandIns
from bench.world import SIZES, add_latency, fill, make_tenant, plan_of
from sageconnect.processes import DIE_WITH_PARENT_VARIABLE, die_with_parent, kill_group
from sync.models import SyncRun


def add_tenants_arguments(parser) -> None:
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--workers", default="1,2", help=_("comma-separated worker counts, run one after the other"))
    parser.add_argument("--latency-ms", type=int, default=40)
    parser.add_argument("--size", choices=sorted(SIZES), default="mini", help=_("each tenant's size"))


def worker_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise CommandError(_("--workers takes worker counts separated by commas, e.g. 1,2; not %(v)r.") % {"v": text})
    return counts


def run_tenants(command, options) -> int:
    counts = worker_counts(options["workers"])
    if isolation.inside():
        return Pass(command, options, counts[0]).run()
    results = {}
    for workers in counts:
        folder = isolation.fresh_dir(f"tenants-w{workers}")
        command.stdout.write(_("bench tenants: %(n)s tenants, %(w)s worker(s), installation in %(dir)s")
                             % {"n": options["tenants"], "w": workers, "dir": folder})
        code = isolation.rerun_inside(folder, [
            "tenants", "--tenants", str(options["tenants"]), "--workers", str(workers),
            "--latency-ms", str(options["latency_ms"]), "--size", options["size"]])
        if code:
            raise CommandError(_("The pass with %(w)s worker(s) stopped (exit %(code)s); see above.")
                               % {"w": workers, "code": code}, returncode=code)
        results[workers] = json.loads((folder / "result.json").read_text())
    summary = {"tenants": options["tenants"], "size": options["size"], "latency_ms": options["latency_ms"],
               "machine": machine(), "passes": results}
    first = results[counts[0]]["seconds"]
    for workers in counts:
        seconds = results[workers]["seconds"]
        command.stdout.write(_("%(w)s worker(s): %(s).1f s for %(n)s tenants (cycles ended: %(ended)s), "
                               "%(r).2f × the %(f)s-worker time")
                             % {"w": workers, "s": seconds, "n": options["tenants"],
                                "ended": ended(results[workers]["statuses"]), "r": seconds / first, "f": counts[0]})
    if any(SyncRun.Status.PARTIAL in results[workers]["statuses"] for workers in counts):
        # Read as a failure otherwise ("0 succeeded" before): the plans are built with such invoices.
        command.stdout.write(_("A plan with invoices already keyed by hand in Sage (the same document number, "
                               "without the UUID) ends partial: the import refuses those and leaves them to "
                               "staff, as it should."))
    if len(counts) > 1:
        summary["ratio"] = round(results[counts[-1]]["seconds"] / first, 3)
    write_json(isolation.bench_root() / "tenants.json", summary)
    command.stdout.write(_("figures written to %(path)s") % {"path": isolation.bench_root() / "tenants.json"})
    return 0


def ended(statuses: dict[str, int]) -> str:
    """"partial: 50": how many cycles ended how, in the words the run log uses."""
    return ", ".join(f"{SyncRun.Status(status).label}: {count}" for status, count in sorted(statuses.items()))


class Pass:
    def __init__(self, command, options, workers: int) -> None:
        self.command, self.options, self.workers = command, options, workers
        self.var_dir = Path(settings.VAR_DIR)
        self.started = time.perf_counter()

    def say(self, text: str) -> None:
        self.command.stdout.write(f"[{time.perf_counter() - self.started:7.1f} s] {text}")
        self.command.stdout.flush()

    def run(self) -> int:
        call_command("migrate", verbosity=0)
        # Two tenants at once may each have 16 calls under way (the portal window's ceiling): 4 × 8 threads
        # made the stand-ins, not our workers, the queue (a cycle 1.25 s with two workers against 0.97 s).
        with StandIns(self.var_dir, workers=4, threads=16) as servers:
            tenants = self.setup(servers.url)
            # Saving a tenant schedules it; here the cycles are queued by hand, all at once.
            Schedule.objects.all().delete()
            seconds, statuses = self.through_cluster(tenants)
        succeeded = statuses.get("succeeded", 0)
        self.say(_("%(n)s cycles in %(s).1f s with %(w)s worker(s): %(st)s") % {
            "n": len(tenants), "s": seconds, "w": self.workers, "st": statuses})
        write_json(self.var_dir / "result.json", {"workers": self.workers, "seconds": round(seconds, 3),
                                                  "statuses": statuses, "succeeded": succeeded})
        return 0

    def setup(self, url: str) -> list:
        size = SIZES[self.options["size"]]
        today = dt.date.today()
        tenants = []
        for index in range(self.options["tenants"]):
            code = f"t{index:03d}"
            tenant = make_tenant(code, base_url=url, sage_file=str(self.var_dir / f"sage_{code}.sqlite3"),
                                 webapi_company=f"T{index:03d}")
            plan = plan_of(size, today=today, seed=index + 1, company_rfc=f"BEN880115{index:03d}")
            tenant.rfc, tenant.start_date = plan.company_rfc, today - dt.timedelta(days=120)
            tenant.save()
            fill(tenant, plan)
            add_latency(tenant, self.options["latency_ms"])
            tenants.append(tenant)
            if (index + 1) % 10 == 0:
                self.say(_("%(n)s tenants written") % {"n": index + 1})
        return tenants

    def through_cluster(self, tenants) -> tuple[float, dict[str, int]]:
        # The broker's queue is in this installation's own database: the default cluster name is ours alone.
        env = {**os.environ, "Q_WORKERS": str(self.workers)}
        # Its own process group, dying with this process: the sentinel and workers it forks go with it.
        env[DIE_WITH_PARENT_VARIABLE] = str(int(signal.SIGTERM))
        cluster = subprocess.Popen([sys.executable, "manage.py", "cluster"], cwd=settings.BASE_DIR, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, process_group=0,
                                   preexec_fn=die_with_parent(signal.SIGKILL))
        try:
            started = time.perf_counter()
            for tenant in tenants:
                async_task("sync.tasks.run_scheduled_cycle", tenant.pk)
            last = -1
            while True:
                done = SyncRun.objects.filter(finished__isnull=False).count()
                if done != last:
                    self.say(_("%(d)s/%(n)s cycles finished") % {"d": done, "n": len(tenants)})
                    last = done
                if done >= len(tenants):
                    break
                if cluster.poll() is not None:
                    raise CommandError(_("qcluster stopped (exit %(code)s).") % {"code": cluster.returncode})
                time.sleep(0.5)
            seconds = time.perf_counter() - started
        finally:
            cluster.send_signal(signal.SIGTERM)
            try:
                cluster.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
            kill_group(cluster)
        statuses: dict[str, int] = {}
        for status in SyncRun.objects.values_list("status", flat=True):
            statuses[status] = statuses.get(status, 0) + 1
        return seconds, statuses
