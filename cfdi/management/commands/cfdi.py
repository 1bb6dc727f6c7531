"""`manage.py cfdi check FILE…` (and the subcommands other apps add to cfdi.commands, e.g. sync's `import`)."""
from django.core.management.base import BaseCommand

from cfdi.commands import SUBCOMMANDS, dispatch


class Command(BaseCommand):
    help = "CFDI documents: check files, import into Sage."
    # `cfdi check` must run where there is no database: no system checks.
    requires_system_checks = []

    def add_arguments(self, parser):
        subparsers = parser.add_subparsers(dest="subcommand")
        for name, (help_text, add_arguments, _run) in SUBCOMMANDS.items():
            add_arguments(subparsers.add_parser(name, help=help_text))

    def handle(self, *args, **options):
        dispatch(self, options)
