"""Subcommands of `manage.py cfdi`: `check` here; another app adds its own with add_subcommand."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

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


# name -> (help, add_arguments, run). run returns the number of failures.
SUBCOMMANDS = {
    "check": (_("validate CFDI files (no database needed)"), add_check_arguments, run_check),
}


def add_subcommand(name: str, help_text: str, add_arguments: Callable, run: Callable) -> None:
    """Another app's subcommand of `manage.py cfdi` (sync adds `import`, which runs its engine)."""
    SUBCOMMANDS[name] = (help_text, add_arguments, run)


def dispatch(command, options) -> None:
    name = options.get("subcommand")
    if name not in SUBCOMMANDS:
        raise CommandError(_("Choose a subcommand: %(names)s") % {"names": ", ".join(SUBCOMMANDS)})
    failures = SUBCOMMANDS[name][2](command, options)
    if failures:
        raise CommandError(_("%(count)s file(s) with problems.") % {"count": failures}, returncode=1)
