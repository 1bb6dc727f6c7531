"""The reconcile page: one tenant's differences between Sage and the portal, each with its fixes
(sync.reconcile). Reading it writes nothing; a fix is a POST behind Django's CSRF check. Staff only."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from sageconnect.access import staff_required
from sync import reconcile
from tenants.models import Tenant


@staff_required
def reconcile_index(request: HttpRequest) -> HttpResponse:
    code = request.GET.get("tenant")
    if code and Tenant.objects.filter(code=code).exists():
        return redirect("reconcile-tenant", code=code)
    return render(request, "sync/reconcile.html", {
        "tenants": Tenant.objects.order_by("code").values_list("code", flat=True), "report": None})


@staff_required
def reconcile_tenant(request: HttpRequest, code: str) -> HttpResponse:
    tenant = get_object_or_404(Tenant, code=code)
    report, error = None, ""
    try:
        report = reconcile.reconcile(tenant)
    except reconcile.ReconcileError as problem:
        error = str(problem)
    return render(request, "sync/reconcile.html", {
        "tenants": Tenant.objects.order_by("code").values_list("code", flat=True), "tenant": tenant,
        "report": report, "error": error, "area_labels": reconcile.AREA_LABELS,
        "areas": report.by_area() if report else []})


@require_POST
@staff_required
def reconcile_fix(request: HttpRequest, code: str) -> HttpResponse:
    tenant = get_object_or_404(Tenant, code=code)
    kind, key, fix = request.POST.get("kind", ""), request.POST.get("key", ""), request.POST.get("fix", "")
    try:
        difference = reconcile.apply_fix(tenant, kind, key, fix, by=request.user.get_username(),
                                         note=request.POST.get("note", ""),
                                         fingerprint=request.POST.get("fingerprint", ""))
    except (reconcile.FixRefused, reconcile.ReconcileError) as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, reconcile.fix_outcome(fix) % {"key": difference.key})
    return redirect(reverse("reconcile-tenant", args=[tenant.code]))
