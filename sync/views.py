"""The staff pages: overview, runs, CFDIs, payments, POs, scheduler; JSON status.

Every view is for logged-in staff (sageconnect.access.staff_required); anyone
else logged in gets 403. Every action is a POST behind Django's CSRF check.
Queries live in sync.dashboard.
"""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_q.tasks import async_task

from cfdi import views as cfdi_files
from cfdi.models import Cfdi, CfdiStatus
from sageconnect.access import is_admin, staff_required
from sync import attention, charts, dashboard
from sync.engine.lease import release_gone_holder
from sync.local_time import zone_name
from sync.models import Outbound, Payment, SyncRun
from sync.retry import request_retry
from sync.scheduling import set_paused
from sync.templatetags.sync_labels import CFDI_KINDS, step_label
from tenants.models import STEP_NAMES, Tenant

RUN_TASK = "sync.tasks.run_manual_cycle"


def _listing(request: HttpRequest, **extra) -> dict:
    """What every list page needs besides its rows: filter choices and the query to page with."""
    query = request.GET.copy()
    query.pop("page", None)
    return {"tenants": Tenant.objects.order_by("code").values_list("code", flat=True), "steps": STEP_NAMES,
            "query_without_page": query.urlencode(), **extra}


# --- overview ------------------------------------------------------------------

def _charts(tenant: Tenant | None = None) -> dict:
    """The three charts of the last days, for one tenant or for all."""
    data = dashboard.chart_data(tenant)
    return {"charts": [charts.runs_chart(data), charts.needing_chart(data, dashboard.needing_label),
                       charts.durations_chart(data, step_label)],
            "chart_zone": zone_name(data.zone)}


@staff_required
def overview(request: HttpRequest) -> HttpResponse:
    return render(request, "sync/overview.html", {"rows": dashboard.overview_rows(), "steps": STEP_NAMES,
                                                  **_charts()})


@staff_required
def overview_fragment(request: HttpRequest) -> HttpResponse:
    # The auto-refresh swaps this table in place: no full reload.
    return render(request, "sync/_overview_table.html", {"rows": dashboard.overview_rows(), "steps": STEP_NAMES})


@staff_required
def tenant_detail(request: HttpRequest, code: str) -> HttpResponse:
    tenant = Tenant.objects.filter(code=code).first()
    if tenant is None:
        return render(request, "sync/not_found.html", {"what": _("tenant")}, status=404)
    runs = (SyncRun.objects.filter(tenant=tenant).select_related("tenant").defer(*dashboard.TENANT_SECRETS)
            .order_by("-started", "-id")[:10])
    return render(request, "sync/tenant_detail.html", {
        "tenant": tenant, "row": dashboard.overview_rows([tenant])[0], "runs": runs,
        **_charts(tenant)})


# --- records needing a person -------------------------------------------------------

@staff_required
def attention_list(request: HttpRequest) -> HttpResponse:
    page = dashboard.page_of(attention.filtered(request.GET), request.GET.get("page"))
    return render(request, "sync/attention_list.html", _listing(
        request, page=page, rows=attention.rows(page.object_list), kinds=Outbound.Kind.choices,
        reasons=[choice for choice in Outbound.Attention.choices if choice[0]],
        retries=attention.recent_retries(request.GET), showing_waiting=request.GET.get("show") == "waiting"))


@require_POST
@staff_required
def attention_act(request: HttpRequest) -> HttpResponse:
    """Retry, Resolve or Ignore the ticked records (or every one the filter lists), once confirmed."""
    action, note = request.POST.get("action", ""), request.POST.get("note", "").strip()
    query = request.POST.get("query", "")
    back = reverse("attention-list") + (f"?{query}" if query else "")
    if action not in attention.ACTIONS:
        messages.error(request, _("Choose Retry, Resolve or Ignore."))
        return redirect(back)
    every = request.POST.get("every") == "1"
    records = attention.chosen(request.POST.getlist("ids"), QueryDict(query) if every else None)
    if not records:
        messages.error(request, _("No record was chosen."))
        return redirect(back)
    if action != "retry" and not note:
        messages.error(request, _("Say in a note what was done, or why it is left as it is."))
        return redirect(back)
    if request.POST.get("confirmed") != "1":
        return render(request, "sync/attention_confirm.html", {
            "action": action, "note": note, "query": query, "every": every, "records": records[:20],
            "count": len(records), "tenants": len({r.tenant_id for r in records}),
            "ids": [r.pk for r in records]})
    done = attention.act(action, records, by=request.user.get_username(), note=note)
    if action == "retry":
        tenants = len({r.tenant_id for r in records if r.state != Outbound.State.CONFIRMED})
        messages.success(request, _("Retry of %(n)s record(s) queued: one task for each of %(t)s tenant(s); the "
                                    "list below says what became of it.") % {"n": done, "t": tenants})
    elif action == "resolve":
        messages.success(request, _("%(n)s record(s) resolved: they are sent again on the next cycle.") % {"n": done})
    else:
        messages.success(request, _("%(n)s record(s) ignored: they are not sent again until they change.")
                         % {"n": done})
    return redirect(back)


# --- runs ----------------------------------------------------------------------

@staff_required
def run_list(request: HttpRequest) -> HttpResponse:
    page = dashboard.page_of(dashboard.filtered_runs(request.GET), request.GET.get("page"))
    return render(request, "sync/run_list.html", _listing(
        request, page=page, runs=page.object_list, statuses=SyncRun.Status.choices))


@staff_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    try:
        run, steps, failed = dashboard.run_detail(run_id)
    except SyncRun.DoesNotExist:
        return render(request, "sync/not_found.html", {"what": _("run")}, status=404)
    return render(request, "sync/run_detail.html", {"run": run, "steps": steps, "failed": failed})


# --- CFDIs ---------------------------------------------------------------------

@staff_required
def cfdi_list(request: HttpRequest) -> HttpResponse:
    page = dashboard.page_of(dashboard.filtered_cfdis(request.GET), request.GET.get("page"))
    return render(request, "cfdi/cfdi_list.html", _listing(
        request, page=page, statuses=CfdiStatus.choices,
        kinds=[(kind, CFDI_KINDS[kind]) for kind in ("I", "E", "P")]))


@staff_required
def cfdi_detail(request: HttpRequest, cfdi_id: int) -> HttpResponse:
    try:
        detail = dashboard.cfdi_detail(cfdi_id)
    except Cfdi.DoesNotExist:
        return render(request, "sync/not_found.html", {"what": "CFDI"}, status=404)
    return render(request, "cfdi/cfdi_detail.html", {
        "cfdi": detail.cfdi, "attempts": detail.attempts, "payments": detail.payments, "detail": detail,
        "invoice": cfdi_files.invoice_for_people(detail.cfdi),
        "has_addenda_copy": cfdi_files.has_addenda_copy(detail.cfdi),
        "can_retry": dashboard.can_retry(detail.cfdi), "retry": detail.retry, "record": detail.record,
    })


@staff_required
def cfdi_original(request: HttpRequest, cfdi_id: int) -> FileResponse:
    return cfdi_files.original_download(get_object_or_404(Cfdi, pk=cfdi_id))


@staff_required
def cfdi_addenda(request: HttpRequest, cfdi_id: int) -> FileResponse:
    return cfdi_files.addenda_download(get_object_or_404(Cfdi, pk=cfdi_id))


def _import_records(cfdis: list[Cfdi]) -> list[Outbound]:
    """The import records of these CFDIs, made (waiting, not tried yet) for those that have none."""
    found = {(r.tenant_id, r.key): r for r in Outbound.objects.filter(
        kind=Outbound.Kind.CFDI_IMPORT, tenant_id__in={c.tenant_id for c in cfdis}, key__in=[c.uuid for c in cfdis])}
    missing = [Outbound(tenant_id=c.tenant_id, kind=Outbound.Kind.CFDI_IMPORT, key=c.uuid,
                        state=Outbound.State.WAITING, reason=_("Not tried yet."))
               for c in cfdis if (c.tenant_id, c.uuid) not in found]
    Outbound.objects.bulk_create(missing, ignore_conflicts=True)
    if missing:
        found.update({(r.tenant_id, r.key): r for r in Outbound.objects.filter(
            kind=Outbound.Kind.CFDI_IMPORT, tenant_id__in={c.tenant_id for c in missing},
            key__in=[c.key for c in missing])})
    return [found[(c.tenant_id, c.uuid)] for c in cfdis if (c.tenant_id, c.uuid) in found]


@require_POST
@staff_required
def cfdi_retry(request: HttpRequest, cfdi_id: int) -> HttpResponse:
    cfdi = get_object_or_404(Cfdi, pk=cfdi_id)
    if not dashboard.can_retry(cfdi):
        messages.error(request, _("This CFDI cannot be imported again: it is imported already, or its problems "
                                  "must be fixed at the source."))
    else:
        (retry,) = request_retry(_import_records([cfdi]), by=request.user.get_username())
        messages.success(request, _("Re-import of %(uuid)s queued (request %(id)s); this page says what became "
                                    "of it.") % {"uuid": cfdi.uuid, "id": retry.pk})
    return redirect("cfdi-detail", cfdi_id=cfdi.pk)


@require_POST
@staff_required
def cfdi_bulk_retry(request: HttpRequest) -> HttpResponse:
    query = request.POST.get("query", "")
    back = reverse("cfdi-list") + (f"?{query}" if query else "")
    chosen = dashboard.retryable(dashboard.filtered_cfdis(QueryDict(query)))
    if request.POST.get("confirmed") != "1":
        return render(request, "sync/attention_confirm.html", {
            "action": "retry", "query": query, "count": len(chosen), "tenants": len({c.tenant_id for c in chosen}),
            "cfdi_list": True, "records": []})
    requests = request_retry(_import_records(chosen), by=request.user.get_username())
    messages.success(request, _("%(n)s re-import(s) queued: one task for each of %(t)s tenant(s).")
                     % {"n": len(chosen), "t": len(requests)})
    return redirect(back)


# --- payments and purchase orders ------------------------------------------------

@staff_required
def payment_list(request: HttpRequest) -> HttpResponse:
    page = dashboard.page_of(dashboard.filtered_payments(request.GET), request.GET.get("page"))
    return render(request, "sync/payment_list.html", _listing(
        request, page=page, rows=dashboard.payment_rows(page.object_list), states=Payment.State.choices))


@staff_required
def po_list(request: HttpRequest) -> HttpResponse:
    page = dashboard.page_of(dashboard.filtered_po_records(request.GET), request.GET.get("page"))
    return render(request, "sync/po_list.html", _listing(
        request, page=page, rows=dashboard.po_rows(page.object_list), states=Outbound.State.choices))


# --- scheduler -----------------------------------------------------------------

@staff_required
def scheduler(request: HttpRequest) -> HttpResponse:
    return render(request, "sync/scheduler.html", {"rows": dashboard.overview_rows(waiting=False), "steps": STEP_NAMES,
                                                   "is_admin": is_admin(request.user)})


@require_POST
@staff_required
def release_lease(request: HttpRequest) -> HttpResponse:
    """An admin frees a lease whose holder is gone; while the holder may still run, nobody can."""
    if not is_admin(request.user):
        raise PermissionDenied(_("Only SageConnect admins can release a lease."))
    tenant = get_object_or_404(Tenant, code=request.POST.get("tenant", ""))
    if release_gone_holder(tenant.pk, _("admin %(user)s") % {"user": request.user.get_username()}):
        messages.success(request, _("The lease of %(tenant)s was released; its next run can start.")
                         % {"tenant": tenant.code})
    else:
        messages.error(request, _("The lease of %(tenant)s was not released: it is free, or its holder may still "
                                  "be running (it is released only when its process has ended or its time ran out).")
                       % {"tenant": tenant.code})
    return redirect("scheduler")


@require_POST
@staff_required
def pause(request: HttpRequest) -> HttpResponse:
    return _set_paused(request, True)


@require_POST
@staff_required
def resume(request: HttpRequest) -> HttpResponse:
    return _set_paused(request, False)


def _set_paused(request: HttpRequest, paused: bool) -> HttpResponse:
    code = request.POST.get("tenant") or None
    if code and not Tenant.objects.filter(code=code).exists():
        messages.error(request, _("There is no tenant %(code)s.") % {"code": code})
        return redirect("scheduler")
    changed = set_paused(paused, code)
    what = code or _("all tenants")
    text = _("Paused %(what)s (%(n)s changed).") if paused else _("Resumed %(what)s (%(n)s changed).")
    messages.success(request, text % {"what": what, "n": changed})
    return _back(request)


@require_POST
@staff_required
def run_now(request: HttpRequest) -> HttpResponse:
    tenant = get_object_or_404(Tenant, code=request.POST.get("tenant", ""))
    step = request.POST.get("step") or None
    if step and step not in STEP_NAMES:
        messages.error(request, _("There is no step %(step)s.") % {"step": step})
        return redirect("scheduler")
    async_task(RUN_TASK, tenant.pk, step, task_name=f"run now {tenant.code} {step or 'all'}")
    messages.success(request, _("A run of %(tenant)s (%(step)s) is queued.")
                     % {"tenant": tenant.code, "step": step or _("all steps")})
    return _back(request)


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect("scheduler")


# --- JSON ----------------------------------------------------------------------

@staff_required
def api_status(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"tenants": dashboard.tenant_status(dashboard.overview_rows())})


@staff_required
def api_stats(request: HttpRequest) -> JsonResponse:
    return JsonResponse(dashboard.stats())

