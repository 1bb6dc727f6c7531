"""`manage.py reconcile --tenant CODE [--json]`: where Sage and the portal disagree for one tenant.

Read-only: it lists each difference with what it is and the fixes it takes
(sync.reconcile); the fixes are applied on the reconcile page. --json prints
{"tenant", "checked", "acknowledged", "seconds", "differences": [{"kind",
"area", "key", "what", "sage", "portal", "fixes", "fingerprint"}]}.

Exit codes: 0 no difference; 1 some differences; 2 bad arguments (unknown
tenant); 3 Sage or the portal could not be read (one sentence naming the server).
"""
from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from sync import reconcile
from tenants.models import Tenant

EXIT_CLEAN, EXIT_DIFFERENCES, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


class Command(BaseCommand):
    help = _("Show where Sage and the portal disagree for one tenant, with the fix each difference takes.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", metavar="CODE", required=True, help=_("The tenant (its code)."))
        parser.add_argument("--json", dest="as_json", action="store_true", help=_("Print JSON instead of text."))

    def handle(self, *args, tenant: str, as_json: bool = False, **options) -> None:
        found = Tenant.objects.filter(code=tenant).first()
        if found is None:
            known = ", ".join(Tenant.objects.order_by("code").values_list("code", flat=True)) or _("none yet")
            raise CommandError(_("There is no tenant with code %(code)r. Known tenants: %(known)s.")
                               % {"code": tenant, "known": known}, returncode=EXIT_USAGE)
        try:
            report = reconcile.reconcile(found)
        except reconcile.ReconcileError as error:
            self.stderr.write(str(error))
            sys.exit(EXIT_UNREACHABLE)
        if as_json:
            self.stdout.write(json.dumps(report.as_json(), indent=2, ensure_ascii=False, default=str))
        else:
            self._table(report)
        sys.exit(EXIT_DIFFERENCES if report.differences else EXIT_CLEAN)

    def _table(self, report: reconcile.Report) -> None:
        checked = ", ".join(f"{reconcile.AREA_LABELS[area]} {count}" for area, count in report.checked.items())
        self.stdout.write(_("Tenant %(tenant)s: %(n)s difference(s); checked %(checked)s; %(acked)s marked resolved; "
                            "%(seconds)s s.") % {"tenant": report.tenant.code, "n": len(report.differences),
                                                 "checked": checked, "acked": report.acknowledged,
                                                 "seconds": f"{report.seconds:.1f}"})
        rows = [(d.label, d.key, " / ".join(str(label) for _fix, label in d.fix_choices), d.what)
                for d in report.differences]
        if not rows:
            return
        headers = (_("Difference"), _("Key"), _("Fixes"), _("What"))
        widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(3)]
        for row in [headers, *rows]:
            self.stdout.write("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])
