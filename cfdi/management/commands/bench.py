"""`manage.py bench cfdi --n 3000` (and the benchmarks cfdi.bench lists)."""
from django.core.management.base import BaseCommand, CommandError

from cfdi.bench import SUBCOMMANDS


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
