from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from tenants.seed_env import SeedEnvError, import_seed_env


class Command(BaseCommand):
    help = _("Create or update tenants from the older SageConnect's env files in DIR.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("directory", type=Path, help=_("Folder holding .env, .env.credentials.focaltec "
                                                           "and .env.credentials.database."))

    def handle(self, *args, directory: Path, **options) -> None:
        try:
            imported = import_seed_env(directory)
        except SeedEnvError as exc:
            raise CommandError(str(exc)) from exc
        for item in imported:
            verb = _("created") if item.created else _("updated")
            tenant = item.tenant
            self.stdout.write(_("Tenant %(code)s %(verb)s: portal tenant %(portal)s, Sage database %(db)s on %(host)s.")
                              % {"code": tenant.code, "verb": verb, "portal": tenant.portal_tenant_id,
                                 "db": tenant.sage_db_name, "host": tenant.sage_db_host})
