"""`manage.py sync_schedules [--pause|--resume] [--tenant CODE]`."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from sync.scheduling import set_paused, sync_all_schedules
from tenants.models import Tenant


class Command(BaseCommand):
    help = _("Create or update each tenant's django-q2 schedule; pause or resume tenants.")

    def add_arguments(self, parser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--pause", action="store_true", help=_("Pause scheduled cycles."))
        group.add_argument("--resume", action="store_true", help=_("Resume scheduled cycles."))
        parser.add_argument("--tenant", metavar="CODE", help=_("Only this tenant (with --pause/--resume)."))

    def handle(self, *args, pause=False, resume=False, tenant=None, **options):
        if tenant and not Tenant.objects.filter(code=tenant).exists():
            known = ", ".join(Tenant.objects.values_list("code", flat=True)) or _("none yet")
            raise CommandError(_("There is no tenant with code %(code)r. Known tenants: %(known)s.")
                               % {"code": tenant, "known": known})
        if pause or resume:
            changed = set_paused(pause, tenant)
            self.stdout.write(_("%(n)s tenant(s) %(what)s.")
                              % {"n": changed, "what": _("paused") if pause else _("resumed")})
            return
        for schedule in sync_all_schedules():
            self.stdout.write(_("%(name)s: every %(minutes)s min, next %(next)s") % {
                "name": schedule.name, "minutes": schedule.minutes, "next": schedule.next_run})
