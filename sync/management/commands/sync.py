"""`manage.py sync [--tenant CODE] [--step NAME] [--dry-run]`: one cycle now.

Exit codes, for Windows Task Scheduler and cron:
0 every step that ran succeeded; 1 a step failed; 2 bad arguments;
3 another run holds a tenant's lease (nothing failed, nothing was done);
130 / 143 stopped by SIGINT / SIGTERM: the run in progress is recorded as
interrupted and its lease handed back, so the next run can start at once.
"""
from __future__ import annotations

import signal
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from sync.engine.context import counts_summary
from sync.engine.pipeline import Interrupted, run_tenant, step_names
from sync.models import StepRun, SyncRun
from tenants.models import Tenant

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LEASE_HELD = 0, 1, 2, 3


class Command(BaseCommand):
    help = _("Run one sync cycle now, for one tenant or all active tenants.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", metavar="CODE", help=_("Only this tenant (its code)."))
        parser.add_argument("--step", metavar="NAME", help=_("Only this step."))
        parser.add_argument("--dry-run", action="store_true",
                            help=_("Build and show every payload; send nothing, write nothing outside."))

    def handle(self, *args, tenant: str | None = None, step: str | None = None, dry_run: bool = False, **options):
        tenants = self._tenants(tenant)
        if step and step not in step_names():
            raise CommandError(
                _("There is no step %(step)r. Valid steps: %(names)s.")
                % {"step": step, "names": ", ".join(step_names())},
                returncode=EXIT_USAGE,
            )
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, _interrupt)
        try:
            runs = [self._cycle(t, step, dry_run) for t in tenants]
        except Interrupted as interrupted:
            self.stderr.write(_("Stopped by %(signal)s; a run in progress was recorded as interrupted and its "
                                "lease handed back.") % {"signal": signal.Signals(interrupted.signum).name})
            sys.exit(interrupted.code)
        sys.exit(exit_code(runs))

    def _tenants(self, code: str | None) -> list[Tenant]:
        if code is None:
            tenants = list(Tenant.objects.filter(active=True))
            if not tenants:
                raise CommandError(_("No active tenant to synchronise. Add one in the admin."), returncode=EXIT_USAGE)
            return tenants
        found = Tenant.objects.filter(code=code).first()
        if found is None:
            known = ", ".join(Tenant.objects.values_list("code", flat=True)) or _("none yet")
            raise CommandError(
                _("There is no tenant with code %(code)r. Known tenants: %(known)s.") % {"code": code, "known": known},
                returncode=EXIT_USAGE,
            )
        return [found]

    def _cycle(self, tenant: Tenant, step: str | None, dry_run: bool) -> SyncRun:
        self.stdout.write(_("%(tenant)s: starting%(dry)s") % {
            "tenant": tenant.code, "dry": _(" (dry run)") if dry_run else ""})
        run = run_tenant(tenant.pk, trigger=SyncRun.Trigger.MANUAL, dry_run=dry_run, only_step=step,
                         progress=self._progress(tenant), echo=self._echo if dry_run else None)
        if run.status == SyncRun.Status.SKIPPED and run.note:
            self.stderr.write(_("%(tenant)s: %(note)s") % {"tenant": tenant.code, "note": run.note})
        self.stdout.write(_("%(tenant)s: run %(id)s %(status)s") % {
            "tenant": tenant.code, "id": run.pk, "status": run.get_status_display()})
        return run

    def _progress(self, tenant: Tenant):
        def show(step_run: StepRun) -> None:
            counts = counts_summary(step_run.created_count, step_run.updated_count, step_run.skipped_count,
                                    step_run.failed_count)
            values = {"tenant": tenant.code, "step": step_run.step, "status": step_run.get_status_display(),
                      "counts": counts, "message": step_run.message}
            if step_run.message:
                line = _("%(tenant)s %(step)s: %(status)s — %(counts)s (%(message)s)") % values
            else:
                line = _("%(tenant)s %(step)s: %(status)s — %(counts)s") % values
            (self.stderr if step_run.status == StepRun.Status.FAILED else self.stdout).write(line)
            self.stdout.flush()
        return show

    def _echo(self, message: str) -> None:
        self.stdout.write(f"  {message}")


def _interrupt(signum, frame) -> None:
    # Between runs there is nothing to hand back; during one, the pipeline holds this until its run is written.
    raise Interrupted(signum)


def exit_code(runs: list[SyncRun]) -> int:
    if any(run.status in (SyncRun.Status.FAILED, SyncRun.Status.PARTIAL) for run in runs):
        return EXIT_FAILED
    if any(run.skip_reason == SyncRun.SkipReason.LEASE_HELD for run in runs):
        return EXIT_LEASE_HELD
    return EXIT_OK
