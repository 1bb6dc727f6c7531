"""The staff page of invoices keyed by hand: proposals with their score and reasons; Look again,
Confirm, Reject (sync.matching). Staff only; every action a POST behind Django's CSRF check."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cfdi.models import InvoiceMatch, MatchState
from sageconnect.access import staff_required
from sync import dashboard, matching
from tenants.models import Tenant

SHOWN_STATES = [(MatchState.PROPOSED, MatchState.PROPOSED.label), (MatchState.CONFIRMED, MatchState.CONFIRMED.label),
                (MatchState.REJECTED, MatchState.REJECTED.label)]


@staff_required
def match_list(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state") or MatchState.PROPOSED
    rows = InvoiceMatch.objects.filter(state=state).select_related("cfdi", "tenant").defer(
        *dashboard.TENANT_SECRETS)
    if request.GET.get("tenant"):
        rows = rows.filter(tenant__code=request.GET["tenant"])
    if request.GET.get("cfdi", "").isdigit():  # from a CFDI's page: the Sage documents that may be it
        rows = rows.filter(cfdi_id=int(request.GET["cfdi"]))
    order = ("-score", "cfdi__issued", "id") if state == MatchState.PROPOSED else ("-decided_at", "-id")
    page = dashboard.page_of(rows.order_by(*order), request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "sync/match_list.html", {
        "page": page, "rows": [_row(match) for match in page.object_list], "states": SHOWN_STATES, "state": state,
        "tenants": Tenant.objects.order_by("code").values_list("code", flat=True),
        "query_without_page": query.urlencode(), "query": request.GET.urlencode()})


def _row(match: InvoiceMatch) -> dict:
    return {"match": match,
            "reasons": [(reason.get("points", 0), matching.explain(reason)) for reason in match.reasons],
            "does": matching.what_confirming_does(match), "outcome": matching.outcome(match),
            "where": matching.where(match),
            "open": match.state == MatchState.PROPOSED or (
                match.state == MatchState.CONFIRMED and match.sage_write in ("failed", "pending"))}


@require_POST
@staff_required
def match_find(request: HttpRequest) -> HttpResponse:
    tenants = Tenant.objects.filter(active=True).order_by("code")
    if request.POST.get("tenant"):
        tenants = Tenant.objects.filter(code=request.POST["tenant"])
    for tenant in tenants:
        try:
            found = matching.find_matches(tenant)
        except matching.MatchRefused as refusal:
            messages.error(request, str(refusal))
            continue
        messages.success(request, _("%(tenant)s: %(n)s proposal(s).") % {"tenant": tenant.code, "n": len(found)})
    return _back(request)


@require_POST
@staff_required
def match_confirm(request: HttpRequest, match_id: int) -> HttpResponse:
    get_object_or_404(InvoiceMatch, pk=match_id)
    try:
        match = matching.confirm(match_id, by=request.user.get_username())
    except matching.MatchRefused as refusal:
        messages.error(request, str(refusal))
    else:
        level = messages.error if match.sage_write == "failed" else messages.success
        level(request, f"{match.vendor} {match.document_number} ↔ {match.cfdi.uuid}: {matching.outcome(match)}")
    return _back(request)


@require_POST
@staff_required
def match_reject(request: HttpRequest, match_id: int) -> HttpResponse:
    get_object_or_404(InvoiceMatch, pk=match_id)
    try:
        match = matching.reject(match_id, by=request.user.get_username())
    except matching.MatchRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"{match.vendor} {match.document_number} ↔ {match.cfdi.uuid}: "
                                  f"{matching.outcome(match)}")
    return _back(request)


def _back(request: HttpRequest) -> HttpResponse:
    # Back to the list as it was filtered: only our own query string, never a URL from the form.
    query = QueryDict(request.POST.get("query", "")).urlencode()
    return redirect(reverse("match-list") + (f"?{query}" if query else ""))
