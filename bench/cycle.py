"""`manage.py bench cycle --size small|large`: our cycle at size against the seed-style baseline.

(a) a first full cycle, (d) the baseline doing the same work the old way on
its own freshly seeded portal tenant, (b) a cycle with no change, (c) a cycle
after 1 % of the POs changed in Sage; each step's wall time, the HTTP calls
the stand-ins served (from gunicorn's access log, retries and downloads
included), the fewest portal calls the API allows for that work, SQL queries
on our database and on the Sage company, and peak memory.
"""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from bench import isolation
from bench.baseline import run_baseline
from bench.measure import AccessLog, MemoryDuring, Meter, Phase, SqlCounter, peak_memory_mb
from bench.minimum import allowed_concurrency, floor_seconds, minimum_calls
from bench.report import machine, portal_calls, table, total, write_json
from bench.servers import StandIns
from bench.world import SIZES, add_latency, change_pos, fill, make_tenant, plan_of
from cfdi.models import Cfdi
from sageconnect.outside_calls import limit_for
from sandbox.portal.models import SandboxCfdi, SandboxPortalTenant, SandboxProvider
from sync.engine.pipeline import run_tenant
from tenants.sage_db import sage_alias

OURS, BASE = "bench", "benchbase"


def add_cycle_arguments(parser) -> None:
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--latency-ms", type=int, default=40, help=_("added by the stand-ins to every request"))
    parser.add_argument("--workers", type=int, default=4, help=_("gunicorn worker processes for the stand-ins"))
    parser.add_argument("--profile", action="store_true",
                        help=_("profile the first cycle with pyinstrument (var/bench/profile-<size>.txt)"))
    parser.add_argument("--skip-baseline", action="store_true", help=_("our cycles only"))
    parser.add_argument("--own-process", action="store_true", help=_(
        "only our first cycle, run as `manage.py sync` in a process of its own, as a worker runs it: its time "
        "and its resident memory, without the bench's plan and baseline in the same process"))
    parser.add_argument("--baseline-sample", type=int, default=0,
                        help=_("run the baseline on every n-th record and scale up (default: 1 small, 5 large)"))


def run_cycle(command, options) -> int:
    size = options["size"]
    if not isolation.inside():
        folder = isolation.fresh_dir(f"cycle-{size}")
        command.stdout.write(_("bench cycle: throw-away installation in %(dir)s") % {"dir": folder})
        args = ["cycle", "--size", size, "--latency-ms", str(options["latency_ms"]),
                "--workers", str(options["workers"]), "--baseline-sample", str(options["baseline_sample"])]
        args += [flag for flag, on in (("--profile", options["profile"]), ("--skip-baseline", options["skip_baseline"]),
                                       ("--own-process", options["own_process"])) if on]
        code = isolation.rerun_inside(folder, args)
        if code:
            raise CommandError(_("The cycle benchmark stopped (exit %(code)s); see above.") % {"code": code},
                               returncode=code)
        return 0
    return Bench(command, options).run()


class Bench:
    def __init__(self, command, options) -> None:
        self.command, self.options = command, options
        self.size_name = options["size"]
        self.size = SIZES[self.size_name]
        self.var_dir = settings.VAR_DIR
        self.nth = options["baseline_sample"] or (5 if self.size_name == "large" else 1)
        self.started = time.perf_counter()
        self._last_echo = 0.0

    def say(self, text: str) -> None:
        elapsed = time.perf_counter() - self.started
        self.command.stdout.write(f"[{elapsed:7.1f} s] {text}")
        self.command.stdout.flush()

    def throttled(self, text: str) -> None:
        # Steps echo per record; at size that is thousands of lines: one every 5 s.
        now = time.perf_counter()
        if now - self._last_echo >= 5:
            self._last_echo = now
            self.say("    " + text[:160])

    def run(self) -> int:
        call_command("migrate", verbosity=0)
        servers = StandIns(self.var_dir, workers=self.options["workers"])
        ours, base = self.setup(servers.url)
        with servers:
            self.say(_("stand-ins served by gunicorn at %(url)s (%(w)s workers × 8 threads), %(ms)s ms per request")
                     % {"url": servers.url, "w": self.options["workers"], "ms": self.options["latency_ms"]})
            self.say(_("SAT status checks: up to %(n)s a minute here (a site's default is 120): the SAT stand-in is on "
                       "this machine and SAT's own limit is not ours to measure")
                     % {"n": settings.SAT_CALLS_PER_MINUTE})
            if self.options["own_process"]:
                document = self.measure_own_process(ours, base)
            else:
                document = self.measure(ours, base, AccessLog(servers.access_log))
        partial = ("-own-process" if self.options["own_process"]
                   else "-ours-only" if self.options["skip_baseline"] else "")
        path = isolation.bench_root() / f"cycle-{self.size_name}{partial}.json"
        write_json(path, document)
        if not self.options["own_process"]:
            self.summary(document)
        self.say(_("figures written to %(path)s") % {"path": path})
        return 0

    def setup(self, url: str):
        self.say(_("building the %(size)s plan: %(s)s") % {"size": self.size_name, "s": self.size})
        today = dt.date.today()
        self.plan = plan_of(self.size, today=today)
        sage_file = str(self.var_dir / "sage_bench.sqlite3")
        ours = make_tenant(OURS, base_url=url, sage_file=sage_file, webapi_company="BENCH")
        base = make_tenant(BASE, base_url=url, sage_file=sage_file, webapi_company="BENCHBASE")
        for tenant in (ours, base):
            tenant.start_date = today - dt.timedelta(days=120)
            tenant.save()
        self.say(_("writing the Sage company and seeding the baseline's portal tenant…"))
        fill(base, self.plan)
        for tenant in (ours, base):
            add_latency(tenant, self.options["latency_ms"])
        self.aliases = ["default", sage_alias(ours), sage_alias(base)]
        self.say(_("setup done"))
        return ours, base

    def reseed_for_ours(self, ours, base) -> None:
        """The portal forgets the baseline's tenant (provider ids are unique portal-wide), then is seeded for ours."""
        with self.sql.not_counting():
            SandboxPortalTenant.objects.filter(tenant_id=base.portal_tenant_id).delete()
            fill(ours, self.plan, company=False)

    def measure(self, ours, base, log: AccessLog) -> dict:
        log.skip_to_end()
        with SqlCounter(self.aliases) as sql:
            self.sql = sql
            meter = Meter(sql, log)
            baseline: dict[str, list[Phase]] = {"first": [], "no_change": []}
            if not self.options["skip_baseline"]:
                self.say(_("(d) seed-style baseline, first cycle (every %(n)s. record)") % {"n": self.nth})
                baseline["first"] = run_baseline(base, meter, first=True, nth=self.nth, echo=self.say)
                self.say(_("(d) seed-style baseline, second cycle with no change"))
                baseline["no_change"] = run_baseline(base, meter, first=False, nth=self.nth, echo=self.say)
            self.say(_("seeding the portal afresh for our tenant…"))
            self.reseed_for_ours(ours, base)
            cycles = {"first": self.profiled(lambda: self.cycle("(a) first cycle", ours, meter))}
            cycles["no_change"] = self.cycle("(b) cycle with no change", ours, meter)
            changed = change_pos(ours, 0.01)
            self.say(_("changed %(n)s POs in Sage") % {"n": len(changed)})
            cycles["one_percent"] = self.cycle("(c) cycle after 1 % of POs changed", ours, meter)
        return self.document(cycles, baseline, len(changed))

    def measure_own_process(self, ours, base) -> dict:
        with SqlCounter(self.aliases) as sql:
            self.sql = sql
            self.say(_("seeding the portal afresh for our tenant…"))
            self.reseed_for_ours(ours, base)
        self.say(_("(a) first cycle, in a process of its own: manage.py sync --tenant %(code)s") % {"code": OURS})
        command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "sync", "--tenant", OURS]
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=settings.BASE_DIR, env=os.environ.copy(),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        with MemoryDuring(pid=child.pid) as memory:
            _out, err = child.communicate()
        wall = time.perf_counter() - started
        # 0: every step succeeded; 1: a step failed (the large plan's refused providers do it, by design).
        if child.returncode not in (0, 1):
            raise CommandError(_("manage.py sync stopped (exit %(code)s): %(err)s")
                               % {"code": child.returncode, "err": err[-2000:]})
        self.say(_("  cycle: %(s).1f s, exit code %(code)s; resident memory of that process at most %(peak)s MB")
                 % {"s": wall, "code": child.returncode, "peak": memory.peak_mb})
        return {"size": self.size_name, "own_process": {"wall_seconds": round(wall, 3), "exit_code": child.returncode,
                                                        "peak_memory_mb": memory.peak_mb}}

    def profiled(self, work):
        if not self.options["profile"]:
            return work()
        try:
            # A development tool, needed only with --profile.
            from pyinstrument import Profiler
        except ImportError:
            raise CommandError(_("--profile needs pyinstrument: pip install pyinstrument")) from None
        profiler = Profiler()
        profiler.start()
        try:
            return work()
        finally:
            profiler.stop()
            path = isolation.bench_root() / f"profile-{self.size_name}.txt"
            path.write_text(profiler.output_text(unicode=True, show_all=False))
            self.say(_("profile written to %(path)s") % {"path": path})

    def cycle(self, title: str, tenant, meter: Meter) -> dict:
        self.say(title)
        phases: list[Phase] = []
        held = [self._count(Cfdi.objects.filter(tenant=tenant))]
        looking = [0.0]  # the bench's own looks between steps, which hold the pipeline's thread up

        def step_done(step_run) -> None:
            began = time.perf_counter()
            phase = meter.close(Phase(
                name=step_run.step, status=step_run.status, message=step_run.message[:200],
                counts={"created": step_run.created_count, "updated": step_run.updated_count,
                        "skipped": step_run.skipped_count, "failed": step_run.failed_count}))
            # The step's own wall time: steps run side by side, so the time since the last step
            # ended is not this step's. Its calls and queries are those since then (see summary).
            phase.seconds = step_run.duration or 0.0
            with self.sql.not_counting():
                # Only the download step stores CFDI rows: its downloads are the rows it added, whatever
                # other steps ended while it ran.
                downloads = 0
                if step_run.step == "cfdi_download":
                    now = self._count(Cfdi.objects.filter(tenant=tenant))
                    downloads, held[0] = now - held[0], now
                phase.minimum = minimum_calls(step_run, downloads=downloads, **self.listings(tenant))
            meter.restart()
            phases.append(phase)
            calls = portal_calls(phase, OURS)
            self.say(f"  {phase.name:<20} {phase.seconds:7.2f} s  {step_run.status:<9} portal r/w/dl "
                     f"{calls['reads']}/{calls['writes']}/{calls['downloads']}  SQL {sum(phase.sql.values())}  "
                     f"{phase.counts}")
            looking[0] += time.perf_counter() - began

        meter.restart()
        started = time.perf_counter()
        with MemoryDuring() as memory:
            run = run_tenant(tenant.pk, progress=step_done, echo=self.throttled)
        wall = time.perf_counter() - started - looking[0]
        phases.append(meter.close(Phase(name="(run bookkeeping)", status=run.status)))
        phases[-1].seconds = 0.0  # inside the wall time already
        self.say(_("  cycle: %(s).1f s, %(status)s; resident memory during the cycle %(start)s → at most %(peak)s "
                   "MB (the bench process's peak so far, plan building included: %(mb)s MB)") % {
            "s": wall, "status": run.status, "start": memory.start_mb, "peak": memory.peak_mb,
            "mb": peak_memory_mb()})
        windows = {system: limit_for(system, code).windows
                   for system, code in (("portal", tenant.code), ("sage_webapi", tenant.code))}
        self.say(_("  adaptive windows (every width taken since the bench started): %(windows)s")
                 % {"windows": windows})
        return {"wall_seconds": round(wall, 3), "status": run.status, "note": run.note,
                "peak_memory_mb": peak_memory_mb(), "cycle_memory_mb": {"start": memory.start_mb,
                                                                        "peak": memory.peak_mb},
                "phases": phases, "windows": windows}

    def _count(self, queryset) -> int:
        with self.sql.not_counting():
            return queryset.count()

    def listings(self, tenant) -> dict[str, int]:
        portal = {"portal_tenant__tenant_id": tenant.portal_tenant_id}
        return {"accepted_providers": SandboxProvider.objects.filter(expedient_status="ACCEPTED", **portal).count(),
                "cfdis_listed": SandboxCfdi.objects.filter(**portal).count(),
                "payment_cfdis": SandboxCfdi.objects.filter(cfdi_type="PAYMENT_CFDI", **portal).count()}

    def document(self, cycles: dict, baseline: dict, changed: int) -> dict:
        def phases_json(phases):
            return [p.as_json() for p in phases]

        ours_first = total(cycles["first"]["phases"])
        ours_first.seconds = cycles["first"]["wall_seconds"]
        latency, allowed = self.options["latency_ms"], allowed_concurrency()
        floor = floor_seconds(ours_first.minimum, latency, allowed)
        base_first = total(baseline["first"])
        base_seconds = base_first.seconds * self.nth
        ours_calls = portal_calls(ours_first, OURS)
        base_calls = portal_calls(base_first, BASE)
        least = ours_first.minimum
        least_total = sum(least.values())
        ours_total = ours_calls["reads"] + ours_calls["writes"] + ours_calls["downloads"]
        no_change = total(cycles["no_change"]["phases"])
        no_change_calls = portal_calls(no_change, OURS)
        return {
            "size": self.size_name, "plan": vars(self.size), "latency_ms": self.options["latency_ms"],
            "gunicorn_workers": self.options["workers"], "baseline_every_nth": self.nth, "machine": machine(),
            "cycles": {name: {**c, "phases": phases_json(c["phases"])} for name, c in cycles.items()},
            "baseline": {name: phases_json(p) for name, p in baseline.items()},
            "pos_changed": changed,
            "targets": {
                "first_cycle_seconds": round(ours_first.seconds, 2),
                "baseline_first_cycle_seconds": round(base_seconds, 2),
                "baseline_measured_seconds": round(base_first.seconds, 2),
                "speedup_vs_baseline": round(base_seconds / ours_first.seconds, 2) if ours_first.seconds else None,
                "portal_calls_first_cycle": ours_total,
                "portal_calls_baseline_first_cycle": (base_calls["reads"] + base_calls["writes"]
                                                      + base_calls["downloads"]) * self.nth,
                "minimum_portal_calls_first_cycle": least_total,
                "calls_over_minimum": round(ours_total / least_total, 3) if least_total else None,
                "network_floor_seconds": round(floor, 2),
                "network_floor_concurrency": allowed,
                "first_cycle_over_floor_seconds": round(ours_first.seconds - floor, 2),
                "first_cycle_times_floor": round(ours_first.seconds / floor, 2) if floor else None,
                "sat_calls_per_minute": settings.SAT_CALLS_PER_MINUTE,
                "no_change_seconds": cycles["no_change"]["wall_seconds"],
                "no_change_portal_writes": no_change_calls["writes"],
                "no_change_sage_writes": sum(v for k, v in no_change.http.items() if k.startswith("sage:")
                                             and k.endswith(":writes")),
                "no_change_sql_queries": sum(no_change.sql.values()),
                "one_percent_seconds": cycles["one_percent"]["wall_seconds"],
            },
        }

    def summary(self, document: dict) -> None:
        self.command.stdout.write("")
        for name in ("first", "no_change", "one_percent"):
            for line in table(f"ours, {name} ({self.cycles_title(name)})",
                              self._phases(document["cycles"][name]["phases"]),
                              OURS, "BENCH", floor=(self.options["latency_ms"], allowed_concurrency()),
                              wall=document["cycles"][name]["wall_seconds"]):
                self.command.stdout.write(line)
        for name in ("first", "no_change"):
            for line in table(f"baseline, {name} (measured on every {self.nth}. record)",
                              self._phases(document["baseline"][name]), BASE, "BENCHBASE"):
                self.command.stdout.write(line)
        targets = document["targets"]
        self.command.stdout.write(_(
            "Steps run side by side (a dependency graph): each step's seconds are its own; its calls and SQL are "
            "those made since the step before it ended, so steps that overlapped share theirs; the totals are "
            "exact. The floor: the fewest portal calls × %(ms)s ms ÷ %(n)s calls at once (the portal publishes no "
            "limit; %(n)s is what we allow a tenant); Sage's Web API and our own work are not in it.")
            % {"ms": self.options["latency_ms"], "n": targets["network_floor_concurrency"]})
        self.command.stdout.write(_("first cycle %(s).1f s; network floor %(f).1f s; %(d)+.1f s over it (%(x)s×)") % {
            "s": targets["first_cycle_seconds"], "f": targets["network_floor_seconds"],
            "d": targets["first_cycle_over_floor_seconds"], "x": targets["first_cycle_times_floor"]})
        self.command.stdout.write("targets: " + ", ".join(f"{k}={v}" for k, v in document["targets"].items()))

    @staticmethod
    def cycles_title(name: str) -> str:
        return {"first": "a", "no_change": "b", "one_percent": "c"}[name]

    @staticmethod
    def _phases(rows: list[dict]) -> list[Phase]:
        return [Phase(name=r["name"], seconds=r["seconds"], sql=r["sql"], http=r["http"], minimum=r["minimum_calls"],
                      counts=r["counts"], status=r["status"], message=r["message"]) for r in rows]
