"""`manage.py match_invoices --tenant CODE [--json] [--confirm ID | --reject ID]`.

Without --confirm/--reject: look again for Sage invoices keyed by hand without
their CFDI UUID and list the proposals, best first, each with its score and
reasons (sync.matching). --confirm ID writes the UUID into the Sage document
(or, for a posted one, keeps the match, which is all Sage allows); --reject ID
means that pair is never proposed again.

Exit codes: 0 done; 1 the confirm or reject could not be done (said why);
2 bad arguments (unknown tenant).
"""
from __future__ import annotations

import getpass
import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from cfdi.models import InvoiceMatch
from sync import matching
from tenants.models import Tenant

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


class Command(BaseCommand):
    help = _("Match Sage invoices keyed by hand without their CFDI UUID to stored CFDIs; confirm or reject one.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", metavar="CODE", required=True, help=_("The tenant (its code)."))
        parser.add_argument("--json", dest="as_json", action="store_true", help=_("Print JSON instead of text."))
        decision = parser.add_mutually_exclusive_group()
        decision.add_argument("--confirm", type=int, metavar="ID", help=_("Confirm this proposal."))
        decision.add_argument("--reject", type=int, metavar="ID", help=_("Reject this proposal for good."))

    def handle(self, *args, tenant: str, as_json: bool = False, confirm: int | None = None, reject: int | None = None,
               **options) -> None:
        found = Tenant.objects.filter(code=tenant).first()
        if found is None:
            known = ", ".join(Tenant.objects.order_by("code").values_list("code", flat=True)) or _("none yet")
            raise CommandError(_("There is no tenant with code %(code)r. Known tenants: %(known)s.")
                               % {"code": tenant, "known": known}, returncode=EXIT_USAGE)
        who = _("%(user)s (command line)") % {"user": _user()}
        try:
            if confirm is not None:
                self._show([matching.confirm(confirm, by=who, tenant=found)], as_json, decided=True)
            elif reject is not None:
                self._show([matching.reject(reject, by=who, tenant=found)], as_json, decided=True)
            else:
                self._show(matching.find_matches(found), as_json)
        except matching.MatchRefused as refusal:
            self.stderr.write(str(refusal))
            sys.exit(EXIT_REFUSED)
        sys.exit(EXIT_OK)

    def _show(self, matches: list[InvoiceMatch], as_json: bool, *, decided: bool = False) -> None:
        if as_json:
            self.stdout.write(json.dumps([as_dict(match) for match in matches], indent=2, ensure_ascii=False))
            return
        if not matches:
            self.stdout.write(_("No proposal: every Sage invoice without a UUID is either matched or unlike any "
                                "CFDI waiting to be imported."))
        for match in matches:
            self.stdout.write(_("#%(id)s  %(score)s/100  Sage %(vendor)s %(number)s (%(where)s)  ↔  CFDI %(uuid)s "
                                "%(folio)s") % {
                "id": match.pk, "score": match.score, "vendor": match.vendor, "number": match.document_number,
                "where": matching.where(match), "uuid": match.cfdi.uuid, "folio": match.cfdi.document_number})
            for reason in match.reasons:
                mark = "✓" if reason.get("points") else "✗"
                self.stdout.write(f"    {mark} {matching.explain(reason)}")
            if decided:
                self.stdout.write("    " + matching.outcome(match))


def as_dict(match: InvoiceMatch) -> dict:
    cfdi = match.cfdi
    return {
        "id": match.pk, "tenant": match.tenant.code, "score": match.score, "state": match.state,
        "sage": {"vendor": match.vendor, "document_number": match.document_number, "posted": match.posted,
                 "batch": match.sage_batch, "entry": match.sage_entry,
                 "date": match.document_date.isoformat() if match.document_date else None,
                 "total": str(match.document_total) if match.document_total is not None else None,
                 "currency": match.document_currency},
        "cfdi": {"uuid": cfdi.uuid, "kind": cfdi.kind, "series_folio": cfdi.document_number,
                 "issuer_rfc": cfdi.issuer_rfc, "issuer_name": cfdi.issuer_name, "total": str(cfdi.total),
                 "currency": cfdi.currency, "issued": cfdi.issued.isoformat() if cfdi.issued else None,
                 "status": cfdi.status},
        "reasons": [{**reason, "text": matching.explain(reason)} for reason in match.reasons],
        "decided_by": match.decided_by, "decided_at": match.decided_at.isoformat() if match.decided_at else None,
        "sage_write": match.sage_write, "sage_error": match.sage_error,
    }


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in this environment (a service account without one)
        return "?"
