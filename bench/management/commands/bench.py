"""`manage.py bench cfdi|cycle|reconcile|tenants|pages` (README "Benchmark"); installed by bench.settings,
which manage.py picks."""
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from bench.cfdi import add_cfdi_arguments, run_cfdi
from bench.cycle import add_cycle_arguments, run_cycle
from bench.pages import add_pages_arguments, run_pages
from bench.reconcile import add_reconcile_arguments, run_reconcile
from bench.tenants import add_tenants_arguments, run_tenants

# name -> (help, add_arguments, run). run returns the number of failures.
SUBCOMMANDS = {
    "cfdi": (_("CFDI parse + validate + store throughput"), add_cfdi_arguments, run_cfdi),
    "cycle": (_("a tenant's full cycle at size against the stand-ins, and the seed-style baseline"),
              add_cycle_arguments, run_cycle),
    "reconcile": (_("the reconcile report on a synced company of that size, then with one PO in a hundred drifted"),
                  add_reconcile_arguments, run_reconcile),
    "tenants": (_("many small tenants through a django-q2 cluster with 1, then 2 workers"),
                add_tenants_arguments, run_tenants),
    "pages": (_("each staff page's server time and queries on this site's data (after ./demo.sh)"),
              add_pages_arguments, run_pages),
}


class Command(BaseCommand):
    help = "Throughput benchmarks."

    def add_arguments(self, parser):
        subparsers = parser.add_subparsers(dest="benchmark")
        for name, (help_text, add_arguments, _run) in SUBCOMMANDS.items():
            add_arguments(subparsers.add_parser(name, help=help_text))

    def handle(self, *args, **options):
        name = options.get("benchmark")
        if name not in SUBCOMMANDS:
            raise CommandError("Choose a benchmark: " + ", ".join(SUBCOMMANDS))
        if SUBCOMMANDS[name][2](self, options):
            raise CommandError("Some documents failed their checks; the figure is not meaningful.", returncode=1)
