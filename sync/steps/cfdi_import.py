"""Step 3, CFDI import: valid invoices (I) and credit notes (E) into Sage AP batches.

Select: stored CFDIs of type I/E that passed validation and are not imported
(and those held back only because no Sage vendor had the issuer's RFC: the
providers step may have created it since), except those the portal rejected
or that were cancelled (cfdi.portal_status).
Build: the issuer RFC → VENDORID and its currency (sync.sage.queries.vendors_by_rfc),
a credit note's related invoice as Sage holds it (sync.sage.confirm), one AP
invoice each (sync.cfdi_import.build_invoice), batches of at most
tenant.invoice_batch_max. A CFDI Sage could not hold as it says (another
currency than its vendor's, a tax the tenant maps to no Sage authority) waits
for a person, with the reason; the others go on.
SAT first: sync.sat.status — a CFDI SAT reports cancelled is not imported;
imported invoices not paid yet are asked again daily.
Send and record: sync.cfdi_import.send_batch — Sage asked before every POST,
one bad invoice isolated whatever Sage answers, batch + entry per invoice.
Report back: each imported CFDI's ERP status goes to the portal once
(SyncLink kind "cfdi_status"), as DELIVERED_ERP — the portal's own word
(CfdiStage / cfdi_status_group) for "delivered to the ERP".
"""
from __future__ import annotations

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from django.utils import timezone
from django.utils.translation import gettext as _

from cfdi.models import Cfdi, CfdiStatus, ImportAttempt, ImportOutcome
from cfdi.portal_status import portal_refusal
from cfdi.validation import Problem
from sync import idempotence
from sync.cfdi_import import (
    VENDOR_UNKNOWN, BatchRefused, Candidate, Unimportable, VendorFacts, build_invoice, credit_application,
    not_in_sage, record_problem, send_batch,
)
from sync.crashpoints import crashpoint
from sync.models import SyncLink
from sync.portal.client import PortalClient
from sync.portal.batch import describe, match_results
from sync.portal.errors import PortalError
from sync.portal.schemas import CfdiProgressRequest
from sync.sat import status as sat_status
from sync.sage import queries
from sync.sage.confirm import sage_documents
from sync.sage.values import trimmed
from sync.sage.webapi import SageWebApi
from sync.steps.base import StepContext, StepResult
from tenants.sage_db import sage_alias

logger = logging.getLogger(__name__)

IMPORTED_KINDS = ("I", "E")
ERP_STATUS = "DELIVERED_ERP"
STATUS_BATCH = 50
RFCS_PER_QUERY = 1000


def run(ctx: StepContext) -> StepResult:
    tenant = ctx.tenant
    check_settings(tenant)
    cfdis = list(selected(tenant))
    if cfdis:
        alias = sage_alias(tenant)
        candidates = with_vendors(ctx, alias, not_in_sage(ctx, alias, cfdis))
        candidates = sat_status.cleared_for_import(ctx, candidates)
        if ctx.dry_run:
            for candidate in candidates:
                ctx.would_send("sage", candidate.cfdi_uuid, candidate.payload())
            return ctx.result
        import_all(ctx, alias, candidates)
    if not ctx.dry_run:
        report_back(ctx)
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


def selected(tenant) -> Iterator[Cfdi]:
    # JSON containment is not portable (SQLite has none): the few INVALID
    # rows are sorted out in Python by importable().
    rows = Cfdi.objects.filter(tenant=tenant, kind__in=IMPORTED_KINDS,
                               status__in=(CfdiStatus.VALID, CfdiStatus.INVALID))
    return (row for row in rows.order_by("issued", "uuid") if importable(row))


def importable(cfdi: Cfdi) -> bool:
    # Rejected or cancelled on the portal: never payable, whatever our own checks say.
    if portal_refusal(cfdi.portal_metadata) is not None:
        return False
    # An INVALID row qualifies only when a missing vendor is its one problem.
    if cfdi.status == CfdiStatus.VALID:
        return True
    return bool(cfdi.problems) and all(p.get("code") == VENDOR_UNKNOWN for p in cfdi.problems)


def with_vendors(ctx: StepContext, alias: str, cfdis: list[Cfdi]) -> list[Candidate]:
    vendors = vendor_ids(alias, ctx.tenant, {cfdi.issuer_rfc for cfdi in cfdis})
    related = sage_documents(alias, ctx.tenant, {u for c in cfdis if c.kind == "E" for u in c.related_uuids})
    candidates, changed = [], []
    for cfdi in cfdis:
        vendor = vendors.get(cfdi.issuer_rfc.upper())
        if set_vendor_problem(ctx, cfdi, known=vendor is not None):
            changed.append(cfdi)
        if vendor is None:
            ctx.result.failed += 1
            continue
        candidate = build(ctx, cfdi, vendor, related)
        if candidate is not None:
            candidates.append(candidate)
    Cfdi.objects.bulk_update(changed, ["problems", "status", "updated"])
    return candidates


def build(ctx: StepContext, cfdi: Cfdi, vendor: VendorFacts, related: dict) -> Candidate | None:
    """The candidate to send; None when the CFDI waits (its reason shown) or cannot go in as it stands."""
    application = credit_application(cfdi, vendor.vendor_id, related) if cfdi.kind == "E" else None
    if application is not None and application.wait:
        note_waiting(ctx, cfdi, application.note)
        return None
    try:
        invoice = build_invoice(cfdi, ctx.tenant, vendor, apply_to=application.apply_to if application else None)
    except Unimportable as problem:
        if not ctx.dry_run:
            record_problem(ctx, Candidate(cfdi, None), "unimportable", str(problem),
                           status=CfdiStatus.NEEDS_ATTENTION)
        ctx.log(_("CFDI %(uuid)s not sent: %(problem)s") % {"uuid": cfdi.uuid, "problem": problem})
        return None
    return Candidate(cfdi, invoice, application.note if application else "")


def note_waiting(ctx: StepContext, cfdi: Cfdi, reason: str) -> None:
    """Why a CFDI is not sent this cycle, on its page once (not again every cycle while nothing changed)."""
    ctx.result.skipped += 1
    ctx.log(_("CFDI %(uuid)s: %(reason)s") % {"uuid": cfdi.uuid, "reason": reason})
    if ctx.dry_run:
        return
    last = cfdi.import_attempts.order_by("-attempted_at", "-id").first()
    if last is None or last.outcome != ImportOutcome.RETRYABLE or last.message != reason:
        ImportAttempt.objects.create(cfdi=cfdi, outcome=ImportOutcome.RETRYABLE, error_code="waiting",
                                     message=reason)


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
            "The invoice is imported on the first cycle after that.") % {"rfc": cfdi.issuer_rfc, "name": cfdi.issuer_name})
        problems, status = others + [problem.as_dict()], CfdiStatus.INVALID
    if (problems, status) == (cfdi.problems, cfdi.status) or ctx.dry_run:
        return False
    cfdi.problems, cfdi.status, cfdi.updated = problems, status, timezone.now()
    return True


def import_all(ctx: StepContext, alias: str, candidates: list[Candidate]) -> None:
    if not candidates:
        return
    check_distribution_code(alias, ctx.tenant)
    size = max(1, ctx.tenant.invoice_batch_max)
    webapi = SageWebApi(ctx.tenant)
    try:
        for start in range(0, len(candidates), size):
            ctx.heartbeat()
            send_batch(ctx, webapi, alias, candidates[start:start + size])
    finally:
        webapi.close()


# ---------------------------------------------------------------------------
# Report back to the portal

def report_back(ctx: StepContext) -> None:
    tenant = ctx.tenant
    # FAILED links were refused by the portal: shown in the run log, not resent every cycle.
    told = set(SyncLink.objects.filter(
        tenant=tenant, kind=SyncLink.Kind.CFDI_STATUS, state__in=(SyncLink.State.CONFIRMED, SyncLink.State.FAILED),
    ).values_list("sage_key", flat=True))
    updates = [
        CfdiProgressRequest(cfdi_id=cfdi.portal_metadata["portal_cfdi_id"], new_status=ERP_STATUS, uuid=cfdi.uuid)
        for cfdi in Cfdi.objects.filter(tenant=tenant, status=CfdiStatus.IMPORTED).exclude(uuid__in=told)
        if cfdi.portal_metadata.get("portal_cfdi_id")
    ]
    if not updates:
        return
    with PortalClient(tenant) as portal:
        for start in range(0, len(updates), STATUS_BATCH):
            send_statuses(ctx, portal, updates[start:start + STATUS_BATCH])


def send_statuses(ctx: StepContext, portal: PortalClient, updates: list[CfdiProgressRequest]) -> None:
    # Setting a status the portal already has changes nothing there, so a link
    # left PENDING by a crash is simply sent again: no lookup is needed.
    links = idempotence.mark_pending_many(ctx, SyncLink.Kind.CFDI_STATUS, {u.uuid: ERP_STATUS for u in updates})
    try:
        answer = portal.update_cfdi_erp_status(updates)
        crashpoint("cfdi_import:status_sent")
    except PortalError as error:
        ctx.result.failed += len(updates)
        ctx.log(_("The ERP status of %(n)s CFDI(s) could not reach the portal (%(error)s); sent again next cycle.")
                % {"n": len(updates), "error": error})
        return
    matched = match_results(answer.results, {u.uuid: (u.uuid, u.cfdi_id) for u in updates})
    told = []
    for update in updates:
        result = matched.by_key.get(update.uuid)
        snapshot = update.model_dump(mode="json")
        if result is not None and not result.error_code:
            told.append((links[update.uuid], update.cfdi_id, snapshot))
            continue
        ctx.result.failed += 1
        if result is None:
            # Whether the portal applied it is unknown: the link stays PENDING and it is sent again next cycle.
            error = _("the portal's batch answer names no result for this CFDI")
            idempotence.record_failure(ctx, links[update.uuid], action="erp_status", error=error, permanent=False,
                                       snapshot=snapshot)
        else:
            error = f"{result.error_code}: {result.error_message}"
            idempotence.record_failure(ctx, links[update.uuid], action="erp_status", error=error, permanent=True,
                                       snapshot=snapshot)
        ctx.log(_("The ERP status of CFDI %(uuid)s did not reach the portal: %(error)s")
                % {"uuid": update.uuid, "error": error})
    for result in matched.unmatched:
        ctx.log(_("The portal's batch answer has a result that matches no CFDI sent: %(result)s")
                % {"result": describe(result)})
    if matched.unmatched and not matched.unanswered(u.uuid for u in updates):
        # Every CFDI has its answer and still something else came back: the answer is not what was sent.
        ctx.result.failed += len(matched.unmatched)
    idempotence.confirm_many(ctx, told, action="erp_status")


def retry_import(tenant_id: int, cfdi_uuid: str):
    """The Retry of the staff pages: put one CFDI back in line and run the import step.

    Returns the SyncRun. A CFDI with problems other than a missing vendor is
    not importable and is refused with the reason.
    """
    from sync.models import SyncRun
    from sync.pipeline import run_tenant

    cfdi = Cfdi.objects.get(tenant_id=tenant_id, uuid=cfdi_uuid.strip().upper())
    blocking = [p for p in cfdi.problems if p.get("code") != VENDOR_UNKNOWN]
    if cfdi.kind not in IMPORTED_KINDS or blocking:
        reasons = "; ".join(p.get("message", p.get("code", "")) for p in blocking) or _("not an invoice or credit note")
        raise ValueError(_("CFDI %(uuid)s cannot be imported: %(reasons)s") % {"uuid": cfdi.uuid, "reasons": reasons})
    if cfdi.status != CfdiStatus.IMPORTED:
        cfdi.status = CfdiStatus.VALID if not cfdi.problems else CfdiStatus.INVALID
        cfdi.save(update_fields=["status", "updated"])
    return run_tenant(tenant_id, trigger=SyncRun.Trigger.RETRY, only_step="cfdi_import")
