"""What the portal says about a CFDI that decides whether it may be imported into Sage.

A CFDI the buyer's staff rejected on the portal, or one cancelled (by SAT, or in
the tenant), is not payable: it is not imported, and its page says why. One
already imported that is cancelled or rejected afterwards needs a person: Sage
is never changed by us to undo it, the problem says what to do there.

The facts come from the portal's CfdiMetadataResponse (focaltec/openapi.json):
`status` (free text; the rejected statuses are the ones the spec's list_5
`status` parameter names: REJECTED, REJECTED_BY_ADMIN, REJECTED_BY_CXP,
PAYMENT_CFDI_REJECTED), `cancelled_by_sat` and `cancelled_in_tenant` (booleans).
"""
from __future__ import annotations

from django.utils.translation import gettext as _

from cfdi.models import Cfdi, CfdiStatus
from cfdi.validation import Problem

REJECTED_STATUSES = frozenset({"REJECTED", "REJECTED_BY_ADMIN", "REJECTED_BY_CXP", "PAYMENT_CFDI_REJECTED"})
CANCELLED_BY_SAT = "portal_cancelled_by_sat"
CANCELLED_IN_TENANT = "portal_cancelled_in_tenant"
REJECTED = "portal_rejected"
AFTER_IMPORT = "portal_refused_after_import"
CODES = frozenset({CANCELLED_BY_SAT, CANCELLED_IN_TENANT, REJECTED, AFTER_IMPORT})


def portal_refusal(metadata: dict) -> Problem | None:
    """Why the portal's metadata says this CFDI is not to be paid; None when it does not."""
    status = str(metadata.get("status") or "").strip().upper()
    if metadata.get("cancelled_by_sat") is True:
        return Problem(CANCELLED_BY_SAT, _("SAT cancelled this CFDI (the portal says cancelled_by_sat): it is not "
                                           "payable and is not imported into Sage."))
    if metadata.get("cancelled_in_tenant") is True:
        return Problem(CANCELLED_IN_TENANT, _("The CFDI was cancelled on the portal by this company's staff "
                                              "(cancelled_in_tenant): it is not imported into Sage."))
    if status in REJECTED_STATUSES:
        return Problem(REJECTED, _("The CFDI was rejected on the portal (status %(status)s): it is not imported "
                                   "into Sage. If the rejection was a mistake, undo it on the portal; the next "
                                   "download picks the change up.") % {"status": status})
    return None


def _what_happened(refusal: Problem, metadata: dict) -> str:
    if refusal.code == CANCELLED_BY_SAT:
        return _("SAT cancelled this CFDI")
    if refusal.code == CANCELLED_IN_TENANT:
        return _("This company's staff cancelled the CFDI on the portal")
    return _("The CFDI was rejected on the portal (status %(status)s)") % {
        "status": str(metadata.get("status") or "").strip().upper()}


def _after_import(cfdi: Cfdi, refusal: Problem) -> Problem:
    return Problem(AFTER_IMPORT, _(
        "%(what)s after it was imported into Sage (AP batch %(batch)s, entry %(entry)s, document %(document)s): "
        "it is not payable. SageConnect changes nothing in Sage: if the batch is not posted, delete that entry; "
        "if it is posted, enter a credit note or adjustment for it in Sage AP and do not pay it. Then ask the "
        "supplier for the CFDI that replaces it, if any.") % {
        "what": _what_happened(refusal, cfdi.portal_metadata or {}),
        "batch": cfdi.sage_batch if cfdi.sage_batch is not None else "—",
        "entry": cfdi.sage_entry if cfdi.sage_entry is not None else "—",
        "document": cfdi.document_number or cfdi.uuid},
        {"reason_code": refusal.code})


def was_imported(cfdi: Cfdi) -> bool:
    return cfdi.status == CfdiStatus.IMPORTED or cfdi.imported_at is not None


def apply_portal_status(cfdi: Cfdi) -> bool:
    """Bring `cfdi`'s problems (and its intake status) in line with its portal metadata, in memory; True when
    changed.

    Not imported: a refusal is a problem and a VALID row becomes INVALID (so the
    import passes it by); when the portal lifts it, the problem goes and a row
    left with no problem is VALID again. Imported: a refusal is the problem
    AFTER_IMPORT, saying what to do in Sage; nothing is deleted anywhere. Whether
    an imported CFDI needs a person is its import record's to say (the sync
    engine raises it from this problem, and keeps the status in step).
    """
    refusal = portal_refusal(cfdi.portal_metadata or {})
    others = [p for p in cfdi.problems if p.get("code") not in CODES]
    status = cfdi.status
    if was_imported(cfdi):
        problems = others + [_after_import(cfdi, refusal).as_dict()] if refusal else others
    else:
        problems = others + [refusal.as_dict()] if refusal else others
        if refusal and status == CfdiStatus.VALID:
            status = CfdiStatus.INVALID
        elif not refusal and status == CfdiStatus.INVALID and not problems and cfdi.kind:
            status = CfdiStatus.VALID
    if (problems, status) == (cfdi.problems, cfdi.status):
        return False
    cfdi.problems, cfdi.status = problems, status
    return True


def after_import_problem(cfdi: Cfdi) -> dict | None:
    """The AFTER_IMPORT problem of an imported CFDI the portal refuses now; None when it has none."""
    return next((p for p in cfdi.problems if p.get("code") == AFTER_IMPORT), None)
