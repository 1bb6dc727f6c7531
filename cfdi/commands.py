"""Subcommands of `manage.py cfdi`; add one by adding to SUBCOMMANDS."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from cfdi.validation import check_cfdi


def add_check_arguments(parser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help=_("CFDI XML files to check"))
    parser.add_argument("--rfc", help=_("also check the receptor RFC is this company's RFC"))


def run_check(command, options) -> int:
    """Print each file's facts and problems; the number of files with problems."""
    failing = 0
    for name in options["files"]:
        path = Path(name)
        try:
            xml_bytes = path.read_bytes()
        except OSError as error:
            command.stdout.write(f"{name}\n  " + _("problem [unreadable]: %(error)s") % {"error": error.strerror})
            failing += 1
            continue
        result = check_cfdi(xml_bytes, tenant_rfc=options.get("rfc"))
        command.stdout.write(name)
        if result.facts is not None:
            command.stdout.write(_format_facts(result.facts))
        for problem in result.problems:
            command.stdout.write(f"  problem [{problem.code}]: {problem.message}")
        if result.ok:
            command.stdout.write("  " + _("ok"))
        else:
            failing += 1
    return failing


def _format_facts(facts) -> str:
    lines = [
        f"  UUID: {facts.uuid or '-'}  {_('type')}: {facts.kind}  {_('version')}: {facts.version}",
        f"  {_('issuer')}: {facts.issuer_rfc} {facts.issuer_name}",
        f"  {_('receptor')}: {facts.receptor_rfc} {facts.receptor_name}",
        f"  SubTotal {facts.subtotal}  Descuento {facts.discount}  {_('transferred')} {facts.taxes_transferred}  "
        f"{_('withheld')} {facts.taxes_withheld}  Total {facts.total} {facts.currency}",
    ]
    for paid in facts.paid_documents:
        lines.append(f"  {_('pays')} {paid.invoice_uuid}: {paid.amount_paid} ({_('instalment')} {paid.instalment})")
    return "\n".join(lines)


def add_import_arguments(parser) -> None:
    parser.add_argument("--tenant", required=True, help=_("the tenant's code"))
    parser.add_argument("--uuid", help=_("put this CFDI back in line first (the Retry of the staff pages)"))


def run_import(command, options) -> int:
    """Run the import step for one tenant; fails (exit 1) when an invoice failed or the step did."""
    # The engine lives in sync, which depends on cfdi: imported here, not at the top.
    from cfdi.models import Cfdi
    from sync.pipeline import run_tenant
    from sync.steps.cfdi_import import retry_import
    from tenants.models import Tenant

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


# name -> (help, add_arguments, run). run returns the number of failures.
SUBCOMMANDS = {
    "check": (_("validate CFDI files (no database needed)"), add_check_arguments, run_check),
    "import": (_("run the CFDI import step for a tenant"), add_import_arguments, run_import),
}


def dispatch(command, options) -> None:
    name = options.get("subcommand")
    if name not in SUBCOMMANDS:
        raise CommandError(_("Choose a subcommand: %(names)s") % {"names": ", ".join(SUBCOMMANDS)})
    failures = SUBCOMMANDS[name][2](command, options)
    if failures:
        raise CommandError(_("%(count)s file(s) with problems.") % {"count": failures}, returncode=1)
