"""Step 3, CFDI import: valid invoices (I) and credit notes (E) into Sage AP batches,
then each one's ERP status back to the portal.

Select: stored CFDIs of type I/E that passed validation and are not imported
(and those held back only because no Sage vendor had the issuer's RFC: the
providers step may have created it since), except those the portal rejected
or that were cancelled (cfdi.portal_status).
Look: Sage is asked which of them it already holds, before anything is built
or sent (sync.sage.confirm): those are recorded with Sage's batch and entry.
Build: the issuer RFC → VENDORID and its currency (sync.sage.queries.vendors_by_rfc)
— none: the CFDI waits for its vendor; SAT's status (sync.sat.status) —
cancelled: not imported, held while SAT does not know it or does not answer;
a credit note's related invoice as Sage holds it — not posted yet: it waits;
one AP invoice each (sync.cfdi_import.build_invoice) — one Sage could not hold
as the CFDI says needs a person, with the reason.
Send: batches of at most tenant.invoice_batch_max (sync.cfdi_import.send_batch:
Sage asked before every POST, one bad invoice isolated whatever Sage answers).
Record: the CFDI's outbound record (kind "cfdi_import", outside ids the batch
and entry); the engine keeps Cfdi.status in step (sync.projections).
Report back: each imported CFDI's ERP status goes to the portal once (kind
"cfdi_status"), as DELIVERED_ERP — the portal's own word (CfdiStage /
cfdi_status_group) for "delivered to the ERP".
SAT again: imported invoices not paid yet are asked again daily.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cfdi.models import Cfdi, CfdiStatus
from cfdi.portal_status import portal_refusal
from cfdi.validation import Problem
from sageconnect.bulk import update_rows
from sync.cfdi_import import (
    VENDOR_UNKNOWN,
    BatchRefused,
    Candidate,
    Unimportable,
    VendorFacts,
    build_invoice,
    credit_application,
    in_sage,
    send_batch,
)
from sync.engine.context import StepContext, StepResult
from sync.engine.crashpoints import crashpoint
from sync.engine.exporter import Built, Exporter, Job, Records, export
from sync.engine.outbox import Confirmed, Failed, Result, Unanswered, Waiting
from sync.models import Outbound
from sync.portal.batch import describe, match_results
from sync.portal.schemas import CfdiProgressRequest
from sync.sage import queries
from sync.sage.confirm import sage_documents
from sync.sage.values import trimmed
from sync.sage.webapi import SageWebApi
from sync.sat import status as sat_status
from sync.steps.portal_exporter import PortalExporter
from tenants.sage_db import sage_alias

logger = logging.getLogger(__name__)

KINDS = (Outbound.Kind.CFDI_IMPORT, Outbound.Kind.CFDI_STATUS)
IMPORTED_KINDS = ("I", "E")
ERP_STATUS = "DELIVERED_ERP"
STATUS_BATCH = 50
RFCS_PER_QUERY = 1000
# A cycle takes these only once their record no longer needs a person; a person's Retry takes them.
RETRIED_STATUSES = (CfdiStatus.FAILED, CfdiStatus.NEEDS_ATTENTION)


def run(ctx: StepContext) -> StepResult:
    if ctx.only_keys(Outbound.Kind.CFDI_IMPORT) != frozenset():
        check_settings(ctx.tenant)
        export(CfdiImport(ctx))
    if not ctx.dry_run:
        export(CfdiStatusReport(ctx))
        if ctx.only is None:
            sat_status.recheck_imported_unpaid(ctx)
    return ctx.result


def check_settings(tenant) -> None:
    if not tenant.invoice_distribution_code:
        raise BatchRefused(_(
            "Tenant %(tenant)s has no invoice distribution code: set 'invoice distribution code' on the tenant "
            "to the Sage AP distribution code imported invoices are charged to.") % {"tenant": tenant.code})


def check_distribution_code(alias: str, tenant) -> None:
    """The tenant's distribution code must exist in Sage (APRDC): if not, no invoice can go in — one
    problem for the tenant, not one per invoice. A company whose table cannot be read is left to
    Sage's own answer (sync.cfdi_import.names_tenant_setting)."""
    try:
        exists = queries.distribution_code(alias, tenant, code=tenant.invoice_distribution_code).exists()
    except DatabaseError as error:
        logger.warning("Tenant %s: APRDC could not be read (%s); distribution code not checked ahead",
                       tenant.code, str(error).splitlines()[0] if str(error) else type(error).__name__)
        return
    if not exists:
        raise BatchRefused(_(
            "Sage has no AP distribution code %(code)s: set 'invoice distribution code' on tenant %(tenant)s to "
            "one Sage has (A/P Distribution Codes), or create it in Sage. No invoice was sent.")
            % {"code": tenant.invoice_distribution_code, "tenant": tenant.code})


def selected(tenant, keys: frozenset[str] | None = None) -> Iterator[Cfdi]:
    """Not imported and not refused: VALID and INVALID rows (importable() keeps those whose one problem is
    a missing vendor), and those whose import record waits (SAT, a vendor, a posting) or was resolved by a
    person since it failed. A person's Retry takes the rows named whatever their status."""
    rows = Cfdi.objects.filter(tenant=tenant, kind__in=IMPORTED_KINDS)
    if keys is None:
        again = Outbound.objects.filter(tenant=tenant, kind=Outbound.Kind.CFDI_IMPORT).filter(
            Q(state=Outbound.State.WAITING) | Q(attention="", state__in=(Outbound.State.FAILED,
                                                                          Outbound.State.PENDING))).values("key")
        rows = rows.filter(Q(status__in=(CfdiStatus.VALID, CfdiStatus.INVALID))
                           | Q(status__in=RETRIED_STATUSES, uuid__in=again))
    else:
        rows = rows.filter(status__in=(CfdiStatus.VALID, CfdiStatus.INVALID, *RETRIED_STATUSES),
                           uuid__in=[key.upper() for key in keys])
    # JSON containment is not portable (SQLite has none): the few rows with problems are sorted out here.
    return (row for row in rows.order_by("issued", "uuid") if importable(row))


def importable(cfdi: Cfdi) -> bool:
    # Rejected or cancelled on the portal: never payable, whatever our own checks say.
    if portal_refusal(cfdi.portal_metadata) is not None:
        return False
    # A row with a problem qualifies only when a missing vendor is its one problem.
    return all(p.get("code") == VENDOR_UNKNOWN for p in cfdi.problems)


def why_not_importable(cfdi: Cfdi) -> str:
    """'' when a retry may import it; else the reasons, in one sentence."""
    blocking = [p for p in cfdi.problems if p.get("code") != VENDOR_UNKNOWN]
    if cfdi.kind in IMPORTED_KINDS and not blocking and importable(cfdi):
        return ""
    return "; ".join(p.get("message", p.get("code", "")) for p in blocking) or _("not an invoice or credit note")


class CfdiImport(Exporter[Cfdi]):
    kind = Outbound.Kind.CFDI_IMPORT
    name = "cfdi_import"
    target = "sage"
    look_always = True      # Sage is asked before anything is sent: a CFDI may be in Sage by any door
    found_is_final = True   # in Sage is in Sage: never sent twice
    tenant_errors = (BatchRefused,)

    def __init__(self, ctx: StepContext) -> None:
        super().__init__(ctx)
        self.alias = sage_alias(ctx.tenant)
        self.batch_size = max(1, ctx.tenant.invoice_batch_max)
        self._webapi: SageWebApi | None = None

    def close(self) -> None:
        if self._webapi is not None:
            self._webapi.close()

    def key(self, item: Cfdi) -> str:
        return item.uuid

    def changed(self, keys: frozenset[str] | None) -> Iterator[list[Cfdi]]:
        cfdis = list(selected(self.ctx.tenant, keys))
        if cfdis:
            yield cfdis

    def lookup(self, items: list[Cfdi], records: Records) -> dict[str, Confirmed]:
        found = in_sage(self.ctx, self.alias, [cfdi.uuid for cfdi in items])
        for uuid, held in found.items():
            if self.ctx.dry_run:
                self.ctx.log(_("CFDI %(uuid)s is already in Sage (%(note)s)") % {"uuid": uuid, "note": held.note})
        return found

    def build(self, items: list[Cfdi], records: Records,
              found: dict[str, Confirmed]) -> dict[str, Built | Failed | Waiting | Confirmed]:
        vendors = vendor_ids(self.alias, self.ctx.tenant, {cfdi.issuer_rfc for cfdi in items})
        related = sage_documents(self.alias, self.ctx.tenant,
                                 {u for c in items if c.kind == "E" for u in c.related_uuids})
        built: dict[str, Built | Failed | Waiting | Confirmed] = {}
        changed, known = [], []
        for cfdi in items:
            vendor = vendors.get(cfdi.issuer_rfc.upper())
            if set_vendor_problem(self.ctx, cfdi, known=vendor is not None):
                changed.append(cfdi)
            if vendor is None:
                built[cfdi.uuid] = Waiting(VENDOR_UNKNOWN, next(p["message"] for p in cfdi.problems
                                                                if p.get("code") == VENDOR_UNKNOWN))
            else:
                known.append((cfdi, vendor))
        update_rows(changed, ["problems", "status", "updated"])
        sat = sat_status.verdicts(self.ctx, [cfdi for cfdi, _vendor in known])
        for cfdi, vendor in known:
            verdict = sat[cfdi.uuid]
            if verdict is False:
                self.ctx.result.skipped += 1  # cancelled at SAT: its problem says so, it is not imported
            elif isinstance(verdict, Waiting):
                built[cfdi.uuid] = sat_status.not_found_for_long(records.get(cfdi.uuid)) or verdict
            else:
                built[cfdi.uuid] = self.invoice(cfdi, vendor, related)
        return built

    def invoice(self, cfdi: Cfdi, vendor: VendorFacts, related: dict) -> Built | Failed | Waiting:
        application = credit_application(cfdi, vendor.vendor_id, related) if cfdi.kind == "E" else None
        if application is not None and application.wait:
            return Waiting("credit_note_invoice_not_posted", application.note)
        try:
            apply_to = application.apply_to if application else None
            invoice = build_invoice(cfdi, self.ctx.tenant, vendor, apply_to=apply_to)
        except Unimportable as problem:
            self.ctx.log(_("CFDI %(uuid)s not sent: %(problem)s") % {"uuid": cfdi.uuid, "problem": problem})
            return Failed(str(problem), code="unimportable", needs=problem.needs())
        candidate = Candidate(cfdi, invoice, application.note if application else "")
        return Built(invoice.payload(), request=candidate, action="import", label=cfdi.uuid)

    def send(self, jobs: list[Job[Cfdi]]) -> dict[str, Result]:
        if self._webapi is None:
            check_distribution_code(self.alias, self.ctx.tenant)
            self._webapi = SageWebApi(self.ctx.tenant)
        answers: dict[str, Result] = {}
        send_batch(self.ctx, self._webapi, self.alias, [job.request for job in jobs], answers)
        return answers


def vendor_ids(alias: str, tenant, rfcs: set[str]) -> dict[str, VendorFacts]:
    """Issuer RFC → Sage vendor (VENDORID and currency); an active vendor wins over an inactive one."""
    wanted = sorted(rfc.upper() for rfc in rfcs if rfc)
    found: dict[str, tuple[bool, VendorFacts]] = {}
    for start in range(0, len(wanted), RFCS_PER_QUERY):
        vendors = list(queries.vendors_by_rfc(alias, tenant, rfcs=wanted[start:start + RFCS_PER_QUERY]))
        rfc_of = vendor_rfcs(alias, tenant, vendors)
        for vendor in vendors:
            vendor_id = trimmed(vendor.VENDORID)
            rfc = rfc_of.get(vendor_id, "")
            better = (vendor.SWACTV == 1, VendorFacts(vendor_id, trimmed(vendor.CURNCODE).upper()))
            if rfc and (rfc not in found or better[0] and not found[rfc][0]):
                found[rfc] = better
    return {rfc: facts for rfc, (_active, facts) in found.items()}


def vendor_rfcs(alias: str, tenant, vendors: list) -> dict[str, str]:
    if tenant.vendor_rfc_source != "OPTFIELD":
        return {trimmed(v.VENDORID): trimmed(getattr(v, tenant.vendor_rfc_source)).upper() for v in vendors}
    rows = queries.vendor_optional_fields(alias, tenant, vendor_ids=[trimmed(v.VENDORID) for v in vendors])
    return {trimmed(row.VENDORID): trimmed(row.VALUE).upper() for row in rows
            if trimmed(row.OPTFIELD).upper() == tenant.vendor_rfc_optfield.strip().upper()}


def set_vendor_problem(ctx: StepContext, cfdi: Cfdi, *, known: bool) -> bool:
    """Sets (or clears) the missing-vendor problem on `cfdi`; True when it is to be saved."""
    others = [p for p in cfdi.problems if p.get("code") != VENDOR_UNKNOWN]
    if known:
        problems, status = others, (CfdiStatus.VALID if not others else cfdi.status)
    else:
        problem = Problem(VENDOR_UNKNOWN, _(
            "No Sage vendor has the issuer's RFC %(rfc)s (%(name)s); create or fix the vendor first. "
            "The invoice is imported on the first cycle after that.") % {"rfc": cfdi.issuer_rfc,
                                                                         "name": cfdi.issuer_name})
        problems, status = others + [problem.as_dict()], CfdiStatus.INVALID
    if (problems, status) == (cfdi.problems, cfdi.status):
        return False
    cfdi.problems = problems
    if ctx.dry_run:
        return False
    cfdi.status, cfdi.updated = status, timezone.now()
    return True


# ---------------------------------------------------------------------------
# Report back to the portal

class CfdiStatusReport(PortalExporter[Cfdi]):
    """Each imported CFDI's ERP status to the portal, once. Setting a status the portal already has changes
    nothing there, so one a crash left unconfirmed is simply sent again: there is nothing to look up."""
    kind = Outbound.Kind.CFDI_STATUS
    name = "cfdi_status"
    batch_size = STATUS_BATCH

    def key(self, item: Cfdi) -> str:
        return item.uuid

    def changed(self, keys: frozenset[str] | None) -> Iterator[list[Cfdi]]:
        told = Outbound.objects.filter(tenant_id=self.ctx.tenant_id, kind=self.kind).filter(
            Q(state=Outbound.State.CONFIRMED) | ~Q(attention="")).values("key")
        rows = Cfdi.objects.filter(tenant_id=self.ctx.tenant_id, status=CfdiStatus.IMPORTED)
        if keys is not None:
            rows = rows.filter(uuid__in=[key.upper() for key in keys])
        cfdis = [cfdi for cfdi in rows.exclude(uuid__in=told) if cfdi.portal_metadata.get("portal_cfdi_id")]
        if cfdis:
            yield cfdis

    def build(self, items: list[Cfdi], records: Records,
              found: dict[str, Confirmed]) -> dict[str, Built | Failed | Waiting | Confirmed]:
        built: dict[str, Built | Failed | Waiting | Confirmed] = {}
        for cfdi in items:
            update = CfdiProgressRequest(cfdi_id=cfdi.portal_metadata["portal_cfdi_id"], new_status=ERP_STATUS,
                                         uuid=cfdi.uuid)
            built[cfdi.uuid] = Built(update.model_dump(mode="json"), request=update, action="erp_status",
                                     outside_id=update.cfdi_id, label=f"cfdis {cfdi.uuid} {ERP_STATUS}")
        return built

    def send(self, jobs: list[Job[Cfdi]]) -> dict[str, Result]:
        answer = self.portal.update_cfdi_erp_status([job.request for job in jobs])
        crashpoint("cfdi_import:status_sent")
        matched = match_results(answer.results, {job.key: (job.key, job.request.cfdi_id) for job in jobs})
        results: dict[str, Result] = {}
        for job in jobs:
            result = matched.by_key.get(job.key)
            if result is None:
                # Whether the portal applied it is unknown: it is sent again.
                results[job.key] = Unanswered(_("the portal's batch answer names no result for this CFDI"))
            elif result.error_code:
                results[job.key] = Failed(f"{result.error_code}: {result.error_message}", code=str(result.error_code),
                                          permanent=True)
            else:
                results[job.key] = Confirmed(job.request.cfdi_id, counted="")
        for result in matched.unmatched:
            self.ctx.log(_("The portal's batch answer has a result that matches no CFDI sent: %(result)s")
                         % {"result": describe(result)})
        if matched.unmatched and not matched.unanswered(job.key for job in jobs):
            # Every CFDI has its answer and still something else came back: the answer is not what was sent.
            self.ctx.result.failed += len(matched.unmatched)
        return results
