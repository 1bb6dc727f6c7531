"""`manage.py cfdi import --tenant CODE [--uuid U]`: the CFDI import step for one tenant.

`manage.py cfdi` is cfdi's command (cfdi.commands); this subcommand runs the
engine, so it lives in sync and sync adds it when it loads (sync/apps.py).
"""
from __future__ import annotations

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from cfdi.commands import add_subcommand
from cfdi.models import Cfdi
from sync.engine.pipeline import run_tenant
from sync.retry import retry_import
from tenants.models import Tenant


def add_import_arguments(parser) -> None:
    parser.add_argument("--tenant", required=True, help=_("the tenant's code"))
    parser.add_argument("--uuid", help=_("put this CFDI back in line first (the Retry of the staff pages)"))


def run_import(command, options) -> int:
    """Run the import step for one tenant; fails (exit 1) when an invoice failed or the step did."""
    tenant = Tenant.objects.filter(code=options["tenant"]).first()
    if tenant is None:
        raise CommandError(_("No tenant with code '%(code)s'.") % {"code": options["tenant"]})
    try:
        run = (retry_import(tenant.pk, options["uuid"]) if options.get("uuid")
               else run_tenant(tenant.pk, only_step="cfdi_import", echo=command.stdout.write))
    except Cfdi.DoesNotExist:
        raise CommandError(_("Tenant %(code)s has no CFDI %(uuid)s.") % {"code": tenant.code, "uuid": options["uuid"]})
    except ValueError as error:
        raise CommandError(str(error))
    steps = list(run.steps.all())
    for step in steps:
        command.stdout.write(_("%(step)s: %(status)s — %(created)s imported, %(skipped)s already in Sage, "
                               "%(failed)s failed. %(message)s") % {
            "step": step.step, "status": step.status, "created": step.created_count,
            "skipped": step.skipped_count, "failed": step.failed_count, "message": step.message})
    if run.note:
        command.stdout.write(run.note)
    if not steps:
        # e.g. another run holds the tenant's lease: the operator must know nothing was imported.
        raise CommandError(_("Nothing ran for tenant %(code)s: %(reason)s") % {
            "code": tenant.code, "reason": run.note or run.skip_reason or run.status}, returncode=1)
    if any(step.status == "failed" for step in steps):
        raise CommandError(_("The CFDI import of tenant %(code)s did not finish cleanly; see the messages above.")
                           % {"code": tenant.code}, returncode=1)
    return 0


def register() -> None:
    add_subcommand("import", _("run the CFDI import step for a tenant"), add_import_arguments, run_import)
