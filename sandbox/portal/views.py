"""The portal stand-in: the Focaltec paths SageConnect uses, answering in the spec's shapes.

Each view is wrapped by `portal_view`, which counts the request, lets fault
injection answer first, checks the tenant's PDPTenantKey/PDPTenantSecret,
refuses bodies that break the contract (as the real portal does), and, while
a test records, checks the request and the answer against the contract.
"""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from functools import wraps
from typing import Any, Callable
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from sandbox import access, faults
from sandbox.portal import contract, query
from sandbox.portal.errors import Refusal
from sandbox.portal.models import (
    BatchResultId,
    SandboxBatch,
    SandboxCfdi,
    SandboxPayment,
    SandboxPortalTenant,
    SandboxProvider,
    SandboxPurchaseOrder,
)

PAGE_SIZE_WHEN_ZERO = 200  # the real portal silently serves 200 when asked for 0
ASYNC_BATCH_OVER = 20  # bigger PO batches are queued, answered NEW, and polled for
PORTAL_TIME_ZONE = ZoneInfo("America/Mexico_City")
_FILE_SALT = "sandbox.portal.cfdi-file"

# ProviderRequest fields the ProviderResponse echoes under the same name and type.
_PROVIDER_ECHO = (
    "allow_invoice_reception", "allow_make_advance_payments", "cash_discount_days", "cash_discount_percentage",
    "country", "credit_days", "declaration_frequency", "delivers_other_product_services", "gln",
    "make_advance_payments", "max_cfdi_pending_doc", "max_payment_cfdi_pending", "only_se",
    "provider_id_accounts_payable", "require_consignment_note", "skip_reception_date_validation", "tax_id",
    "type", "unlimited_cfdi_pending_doc", "unlimited_payment_cfdi_pending", "upload_sipare",
    "use_advance_invoices", "use_cash_discount", "use_max_cfdi_pending_doc_tenant_config",
    "use_max_payment_cfdi_pending_tenant_config", "use_tenant_credit_days", "workflows", "companies",
)


def _error(status: int, code: str | int, description: str) -> JsonResponse:
    return JsonResponse({"code": code, "description": description}, status=status)


def _json(payload: Any) -> JsonResponse:
    return JsonResponse(payload, safe=False, json_dumps_params={"ensure_ascii": False})


# A read runs outside any transaction: on SQLite a transaction takes the database's one write lock
# (transaction_mode IMMEDIATE), so every portal read would wait for every writer of the installation, ours
# included, which the real portal's reads never do.
READ_METHODS = frozenset({"GET", "HEAD"})


def portal_view(*methods: str) -> Callable:
    def wrap(view: Callable) -> Callable:
        @csrf_exempt
        @wraps(view)
        def handle(request: HttpRequest, tenant_id: str, **kwargs) -> HttpResponse:
            # Sandbox tenants only, by their own key and secret; a refused call is not counted.
            tenant = access.portal_tenant(request, tenant_id)
            _check_contract_request(request)
            injected = faults.inject(request, f"portal:{tenant_id}")
            if injected is not None:
                if tenant is not None:
                    tenant.count_request(request.method)
                return injected
            response = _answer(view, request, tenant, methods, kwargs)
            _check_contract_response(request, response)
            return response
        return handle
    return wrap


def _answer(view, request, tenant, methods, kwargs) -> HttpResponse:
    refused = _refused(request, tenant, methods)
    if refused is not None or request.method in READ_METHODS:
        if tenant is not None:
            tenant.count_request(request.method)
        return refused if refused is not None else _run(view, request, tenant, kwargs)
    # A change and its count in one write transaction (one wait for SQLite's lock, not two), taken only
    # now: the checks above and the injected latency hold no lock. The view's own atomic is a savepoint.
    with transaction.atomic():
        tenant.count_request(request.method)
        return _run(view, request, tenant, kwargs, atomic=True)


def _refused(request, tenant, methods) -> HttpResponse | None:
    if request.method not in methods:
        refused = _error(405, "GENERAL__WRONG_METHOD", f"Method {request.method} not allowed")  # a spec error code
        refused["Allow"] = ", ".join(methods)  # RFC 9110 §15.5.6: a 405 must name what is allowed
        return refused
    if (tenant is None or request.headers.get("PDPTenantKey") != tenant.key
            or request.headers.get("PDPTenantSecret") != tenant.secret):
        return _error(401, "USERS__BAD_CREDENTIALS", "PDPTenantKey / PDPTenantSecret no válidos para esta empresa")
    problems = _body_violations(request)
    if problems:
        return _error(400, 400, "; ".join(problems[:5]))
    try:
        request.portal_query = query.read(request)
    except Refusal as refusal:
        return _error(refusal.status, refusal.code, refusal.description)
    return None


def _run(view, request, tenant, kwargs, *, atomic: bool = False) -> HttpResponse:
    try:
        if not atomic:
            return view(request, tenant, **kwargs)
        with transaction.atomic():
            return view(request, tenant, **kwargs)
    except Refusal as refusal:
        return _error(refusal.status, refusal.code, refusal.description)


def _body_violations(request: HttpRequest) -> list[str]:
    operation = contract.find_operation(request.method, request.path)
    if operation is None or contract.request_body_schema(operation) is None:
        return []
    try:
        payload = json.loads(request.body or b"null")
    except ValueError:
        return ["the body is not JSON"]
    return contract.schema_errors(contract.request_body_schema(operation), payload, reading=False)


def _check_contract_request(request: HttpRequest) -> None:
    if contract.is_recording():
        query = {name: request.GET.getlist(name) for name in request.GET}
        problems = contract.request_violations(request.method, request.path, query, request.headers, request.body)
        contract.record("request", request.method, request.path, problems)


def _check_contract_response(request: HttpRequest, response: HttpResponse) -> None:
    if contract.is_recording():
        problems = contract.response_violations(request.method, request.path, response.status_code, response.content)
        contract.record("response", request.method, request.path, problems)


def _body(request: HttpRequest) -> dict:
    return json.loads(request.body)


def _q(request: HttpRequest) -> dict[str, Any]:
    """The typed query parameters (sandbox.portal.query) of this request."""
    return getattr(request, "portal_query", {})


def _id_type(request: HttpRequest, name: str = "id_type") -> str:
    return _q(request).get(name, "INTERNAL")


def _paging(request: HttpRequest, tenant: SandboxPortalTenant) -> tuple[int, int]:
    offset, page_size = _q(request).get("offset", 0), _q(request).get("pageSize", 0)
    if offset < 0 or page_size < 0:
        raise Refusal(400, 400, "offset and pageSize cannot be negative")
    # Whatever is asked, a page holds at most the tenant's cap: a client that
    # does not follow `total` with further pages loses items.
    return offset, min(page_size or PAGE_SIZE_WHEN_ZERO, max(1, tenant.page_size_max))


def _page(queryset, request: HttpRequest, tenant: SandboxPortalTenant, render: Callable) -> JsonResponse:
    offset, page_size = _paging(request, tenant)
    total = queryset.count()
    return _json({"total": total, "items": [render(row) for row in queryset[offset:offset + page_size]]})


def _day_starts(day: dt.date) -> dt.datetime:
    """Midnight of `day` where the portal is: the spec's "00:00 horas" / "23:59:59" name no zone (unverified)."""
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=PORTAL_TIME_ZONE)


def _iso(moment: dt.datetime | dt.date | None) -> str | None:
    if moment is None:
        return None
    if isinstance(moment, dt.datetime):
        return moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f"{moment.isoformat()}T00:00:00.000Z"


# --- providers ---------------------------------------------------------------

# Kept in SandboxProvider.data but filled by the supplier's expedient, not by a ProviderRequest.
_EXPEDIENT_DATA = ("bank_accounts", "expedient_expired")


def provider_json(provider: SandboxProvider, *, hide_bank_information: bool = False) -> dict:
    body = {key: provider.data[key] for key in _PROVIDER_ECHO if provider.data.get(key) is not None}
    expedient = {"status": provider.expedient_status, "expired": bool(provider.data.get("expedient_expired"))}
    if provider.expedient_accepted is not None:
        expedient["approved"] = _iso(provider.expedient_accepted)
    if provider.data.get("bank_accounts") and not hide_bank_information:
        # ExpedientResponse.bank_accounts: {key: ExpedientBankAccountResponse{status, value: BankAccountResponse}}
        expedient["bank_accounts"] = {f"bank_account_{index}": {"status": "ACCEPTED", "value": account}
                                      for index, account in enumerate(provider.data["bank_accounts"])}
    body.update({
        "id": provider.portal_id, "tenant_id": provider.portal_tenant.tenant_id, "name": provider.name,
        "rfc": provider.rfc, "status": provider.status, "expedient_status": provider.expedient_status,
        "expedient": expedient,
    })
    if provider.data.get("currency"):
        body["currency_str"] = provider.data["currency"]
    if provider.external_id:
        body["external_id"] = provider.external_id
    return body


def _provider(tenant, provider_id: str, id_type: str) -> SandboxProvider:
    field = "external_id" if id_type == "EXTERNAL" else "portal_id"
    provider = SandboxProvider.objects.filter(portal_tenant=tenant,
                                              **{field: provider_id}).select_related("portal_tenant").first()
    if provider is None:
        raise Refusal(404, "PROVIDERS__NOT_FOUND", f"Provider {provider_id} ({id_type}) not found")
    return provider


# list_2's filters (focaltec/openapi.json, GET …/providers), each a condition on the stand-in's rows.
# The paging and response-shaping parameters (offset, pageSize, hideBankInformation) are read elsewhere.
PROVIDER_FILTERS: dict[str, Callable[[Any], Q]] = {
    "statusExpedient": lambda value: Q(expedient_status=value),
    "expedientAcceptedFrom": lambda day: Q(expedient_accepted__gte=day),
    "expedientAcceptedTo": lambda day: Q(expedient_accepted__lte=day),
    "emptyExternalId": lambda empty: Q(external_id="") if empty else ~Q(external_id=""),
    "status": lambda value: Q(status=value),
    "rfc": lambda value: Q(rfc=value.upper()),
    "externalId": lambda value: Q(external_id=value),
    # "Razón social del proveedor": whether the real portal matches exactly or by part is not said (README).
    "name": lambda value: Q(name__icontains=value),
    "ids": lambda values: Q(portal_id__in=values),
    "external_ids": lambda values: Q(external_id__in=values),
    "type": lambda value: Q(data__type=value),
    # A provider without the flag has no expired expedient (a negated JSON lookup would drop it: NULL).
    "expiredExpedient": lambda expired: (
        Q(data__expedient_expired=True) if expired
        else Q(data__expedient_expired=False) | Q(data__expedient_expired__isnull=True)),
}


def _filtered(rows: QuerySet, filters: dict[str, Callable[[Any], Q]], params: dict[str, Any]) -> QuerySet:
    for name, condition in filters.items():
        if name in params:
            rows = rows.filter(condition(params[name]))
    return rows


@portal_view("GET")
def providers(request, tenant):
    params = _q(request)
    rows = _filtered(SandboxProvider.objects.filter(portal_tenant=tenant).select_related("portal_tenant"),
                     PROVIDER_FILTERS, params)
    hide = params.get("hideBankInformation", False)
    return _page(rows, request, tenant, lambda row: provider_json(row, hide_bank_information=hide))


@portal_view("GET", "PUT")
def provider(request, tenant, provider_id: str):
    if request.method == "GET":
        return _json(provider_json(_provider(tenant, provider_id, _id_type(request))))
    found = _provider(tenant, provider_id, _id_type(request, "idType"))
    body = _body(request)
    found.name, found.rfc = body["name"], body["rfc"]
    found.status = "ENABLED" if body["enabled"] else "DISABLED"
    found.external_id = body.get("external_id") or found.external_id
    # What the portal keeps outside the ProviderRequest (its expedient) survives an update.
    found.data = {**{key: found.data[key] for key in _EXPEDIENT_DATA if key in found.data}, **body}
    found.save()
    return _json(provider_json(found))


@portal_view("PUT")
def provider_external_id(request, tenant, provider_id: str):
    found = _provider(tenant, provider_id, "INTERNAL")
    found.external_id = _body(request)["external_id"]
    found.save(update_fields=["external_id", "updated"])
    return _json(provider_json(found))


# --- purchase orders ---------------------------------------------------------

def purchase_order_json(order: SandboxPurchaseOrder, providers: dict[str, SandboxProvider] | None = None) -> dict:
    sent = order.request
    body = {key: sent[key] for key in ("external_id", "currency", "date", "delivery_date", "delivery_contact",
                                       "requested_by_contact", "subtotal", "total", "exchange_rate", "comments",
                                       "reference", "warehouse", "vat_sum", "withhold_tax_sum", "cfdi_use",
                                       "cfdi_payment_method", "cfdi_payment_form", "acceptance_status",
                                       "company_external_id") if sent.get(key) is not None}
    body.update({
        "id": order.portal_id, "tenant_id": order.portal_tenant.tenant_id, "status": order.status,
        "number": sent.get("num") or sent["external_id"], "total_lines": len(sent["lines"]),
        "addresses": sent["addresses"], "metadata": sent.get("metadata", []),
        "lines": [_line_json(line) for line in sent["lines"]],
    })
    if providers is not None:
        provider = providers.get(sent["provider_external_id"])
    else:
        provider = SandboxProvider.objects.filter(portal_tenant=order.portal_tenant,
                                                  external_id=sent["provider_external_id"]).first()
    if provider is not None:
        body["provider_id"], body["provider_name"] = provider.portal_id, provider.name
    return body


def _line_json(line: dict) -> dict:
    body = {"external_id": line["external_id"], "item_code": line["code"], "description": line["description"],
            "price": line["price"], "quantity": line["quantity"], "subtotal": line["subtotal"],
            "line_total": line["total"]}
    for source, target in (("num", "line_num"), ("unit_of_measure", "unit_of_measure"), ("comments", "comments")):
        if line.get(source) is not None:
            body[target] = line[source]
    return body


def _order(tenant, po_id: str, id_type: str) -> SandboxPurchaseOrder:
    field = "external_id" if id_type == "EXTERNAL" else "portal_id"
    order = SandboxPurchaseOrder.objects.filter(portal_tenant=tenant,
                                                **{field: po_id}).select_related("portal_tenant").first()
    if order is None:
        raise Refusal(404, "PURCHASE_ORDERS__NOT_FOUND", f"Purchase order {po_id} ({id_type}) not found")
    return order


def _check_provider_known(tenant, order: dict) -> None:
    if not SandboxProvider.objects.filter(portal_tenant=tenant, external_id=order["provider_external_id"]).exists():
        raise Refusal(400, "PROVIDERS__NOT_FOUND",
                      f"No provider with external_id {order['provider_external_id']} for purchase order "
                      f"{order['external_id']}")


# Which status a purchase order may move to from which. The spec names the refusals
# (CfdiExternResponse.error_code: PURCHASE_ORDERS__NOT_OPEN, PURCHASE_ORDERS__UNEXPECTED_STATUS)
# but not the table itself: this one is ours (README, "Unverified against the real portal").
PO_MOVES = {"GENERATED": {"OPEN", "CANCELLED"}, "OPEN": {"CANCELLED", "CLOSED"}}
FINAL_PO_STATUSES = ("CANCELLED", "CLOSED")


def _check_move(order: SandboxPurchaseOrder, target: str, *, content_changed: bool = False) -> None:
    if order.status in FINAL_PO_STATUSES and (target != order.status or content_changed):
        raise Refusal(400, "PURCHASE_ORDERS__NOT_OPEN",
                      f"Purchase order {order.external_id} is {order.status}: it is not open to changes")
    if target != order.status and target not in PO_MOVES.get(order.status, ()):
        raise Refusal(400, "PURCHASE_ORDERS__UNEXPECTED_STATUS",
                      f"Purchase order {order.external_id} cannot go from {order.status} to {target}")


def _create_order(tenant, order: dict) -> SandboxPurchaseOrder:
    _check_provider_known(tenant, order)
    try:
        with transaction.atomic():
            return SandboxPurchaseOrder.objects.create(
                portal_tenant=tenant, external_id=order["external_id"], status=order["status"], request=order)
    except IntegrityError:
        raise Refusal(409, "PURCHASE_ORDERS__DUPLICATED",
                      f"A purchase order with external_id {order['external_id']} already exists") from None


# list_1's filters (focaltec/openapi.json, GET …/purchase-orders), each a condition on the stand-in's rows;
# offset and pageSize are read by _paging. The stand-in honours all of them, so none is refused.
PURCHASE_ORDER_FILTERS: dict[str, Callable[[Any], Q]] = {
    "providerExternalId": lambda value: Q(request__provider_external_id=value),
    "status": lambda value: Q(status=value),
    "ids": lambda values: Q(portal_id__in=values),
    "external_ids": lambda values: Q(external_id__in=values),
}


def _provider_id_filter(tenant, rows: QuerySet, provider_id: str) -> QuerySet:
    """provider_id is the portal's own provider id; an order names its provider by external_id only."""
    provider = SandboxProvider.objects.filter(portal_tenant=tenant, portal_id=provider_id).first()
    if provider is None or not provider.external_id:
        return rows.none()
    return rows.filter(request__provider_external_id=provider.external_id)


@portal_view("GET", "POST")
def purchase_orders(request, tenant):
    if request.method == "GET":
        params = _q(request)
        rows = _filtered(SandboxPurchaseOrder.objects.filter(portal_tenant=tenant).select_related("portal_tenant"),
                         PURCHASE_ORDER_FILTERS, params)
        if "provider_id" in params:
            rows = _provider_id_filter(tenant, rows, params["provider_id"])
        # One query for the page's providers, not one per order.
        offset, page_size = _paging(request, tenant)
        page = list(rows[offset:offset + page_size])
        providers = {row.external_id: row for row in SandboxProvider.objects.filter(
            portal_tenant=tenant, external_id__in={order.request["provider_external_id"] for order in page})}
        return _json({"total": rows.count(),
                      "items": [purchase_order_json(order, providers) for order in page]})
    return _json(purchase_order_json(_create_order(tenant, _body(request))))


@portal_view("GET", "PUT")
def purchase_order(request, tenant, po_id: str):
    found = _order(tenant, po_id, _id_type(request))
    if request.method == "PUT":
        body = _body(request)
        if body["external_id"] != found.external_id:
            raise Refusal(400, 400,
                          f"The body's external_id {body['external_id']} is not the order's {found.external_id}")
        _check_provider_known(tenant, body)
        _check_move(found, body["status"], content_changed=_content(body) != _content(found.request))
        found.request, found.status = body, body["status"]
        found.save()
    return _json(purchase_order_json(found))


def _content(order: dict) -> dict:
    return {key: value for key, value in order.items() if key != "status"}


@portal_view("PUT")
def purchase_order_status(request, tenant, po_id: str):
    found = _order(tenant, po_id, _id_type(request))
    target = _body(request)["status"]
    _check_move(found, target)
    found.status = target
    found.request = {**found.request, "status": found.status}
    found.save()
    return _json({"internal_id": found.portal_id, "external_id": found.external_id, "status": found.status,
                  "errors": []})


def _upsert_one(tenant, order: dict) -> dict:
    result = {"external_id": order["external_id"], "errors": []}
    existing = SandboxPurchaseOrder.objects.filter(portal_tenant=tenant, external_id=order["external_id"]).first()
    try:
        _check_provider_known(tenant, order)
    except Refusal as refusal:
        return {**result, "status": "ERROR",
                "errors": [{"error_code": str(refusal.code), "error_message": refusal.description,
                            "error_source": "CORE"}]}
    if existing is None:
        existing = SandboxPurchaseOrder.objects.create(portal_tenant=tenant, external_id=order["external_id"],
                                                       status=order["status"], request=order)
        return {**result, "status": "CREATED", "internal_id": existing.portal_id}
    try:
        _check_move(existing, order["status"], content_changed=_content(order) != _content(existing.request))
    except Refusal as refusal:
        return {**result, "status": "ERROR", "internal_id": existing.portal_id,
                "errors": [{"error_code": str(refusal.code), "error_message": refusal.description,
                            "error_source": "CORE"}]}
    existing.request, existing.status = order, order["status"]
    existing.save()
    return {**result, "status": "UPDATED", "internal_id": existing.portal_id}


@portal_view("PUT")
def batch_purchase_orders(request, tenant):
    orders = _body(request)["purchase_orders"]
    results = [_upsert_one(tenant, order) for order in orders]
    finished = {"type": "SYNC", "status": "PROCESSED", "orders_status": results}
    if len(orders) > ASYNC_BATCH_OVER:
        finished["type"] = "ASYNC"
    batch = SandboxBatch.objects.create(portal_tenant=tenant, kind="purchase_orders", response=finished)
    if finished["type"] == "ASYNC":
        # Queued on the real portal: the caller polls the batch status for the per-order results.
        return _json({"id": batch.portal_id, "type": "ASYNC", "status": "NEW", "orders_status": []})
    return _json({"id": batch.portal_id, **finished})


@portal_view("GET")
def purchase_order_batch_status(request, tenant, batch_id: str):
    batch = SandboxBatch.objects.filter(portal_tenant=tenant, kind="purchase_orders", portal_id=batch_id).first()
    if batch is None:
        raise Refusal(404, "PURCHASE_ORDERS__BATCH_NOT_FOUND", f"Batch {batch_id} not found")
    return _json({"id": batch.portal_id, **batch.response})


# --- CFDIs -------------------------------------------------------------------

def cfdi_json(cfdi: SandboxCfdi, *, hide_validations: bool = False, retrieve_history: bool = False) -> dict:
    item = dict(cfdi.item)
    item["id"] = cfdi.portal_id
    item["status"] = cfdi.status
    metadata = dict(item.get("metadata", {}))
    metadata.update({"status": cfdi.status, "type": cfdi.cfdi_type, "created_at": _iso(cfdi.uploaded),
                     "cancelled_by_sat": cfdi.cancelled_by_sat, "cancelled_in_tenant": cfdi.cancelled_in_tenant})
    if cfdi.erp_status:
        metadata["erp_status"] = cfdi.erp_status
    if not hide_validations:
        # CfdiValidation: what the portal checked with SAT when the CFDI arrived.
        metadata["validations"] = [{"group": "SAT", "type": "SAT_CFDI_STATUS", "valid": not cfdi.cancelled_by_sat,
                                    "code": "SAT_CANCELLED" if cfdi.cancelled_by_sat else "SAT_ACTIVE"}]
    if retrieve_history:
        # CfdiHistoryResponse: the stand-in remembers only the arrival and the present status.
        metadata["history"] = [{"created_at": _iso(cfdi.uploaded), "status": "IN_RECEPTION"},
                               {"created_at": _iso(cfdi.updated), "previous_status": "IN_RECEPTION",
                                "status": cfdi.status,
                                **({"status_erp": cfdi.erp_status} if cfdi.erp_status else {})}]
    item["metadata"] = metadata
    return item


def _cfdi_render(request: HttpRequest) -> Callable[[SandboxCfdi], dict]:
    params = _q(request)
    return lambda row: cfdi_json(row, hide_validations=params.get("hideValidations", False),
                                 retrieve_history=params.get("retrieveHistory", False))


def _cfdi(tenant, cfdi_id: str, id_type: str) -> SandboxCfdi:
    lookup = {"uuid": cfdi_id.upper()} if id_type == "EXTERNAL" else {"portal_id": cfdi_id}
    cfdi = SandboxCfdi.objects.filter(portal_tenant=tenant, **lookup).first()
    if cfdi is None:
        raise Refusal(404, "CFDI__NOT_FOUND", f"CFDI {cfdi_id} ({id_type}) not found")
    return cfdi


# list_5's filters (focaltec/openapi.json, GET …/cfdis), each a condition on the stand-in's rows.
# The spec does not say which date from/to filter on: the stand-in reads them as the issue date
# (README, "Unverified against the real portal"); createdFrom/createdUntil are the day it reached the portal.
CFDI_FILTERS: dict[str, Callable[[Any], Q]] = {
    "from": lambda day: Q(issued__gte=day),
    "to": lambda day: Q(issued__lte=day),
    "createdFrom": lambda day: Q(uploaded__gte=_day_starts(day)),
    "createdUntil": lambda day: Q(uploaded__lt=_day_starts(day + dt.timedelta(days=1))),
    "providerId": lambda value: Q(item__metadata__provider_id=value),
    "providerExternalId": lambda value: Q(provider_external_id=value),
    "cfdiIds": lambda values: Q(portal_id__in=values),
    "uuids": lambda values: Q(uuid__in=[value.upper() for value in values]),
    "cfdiType": lambda value: Q(cfdi_type=value),
    "documentTypes": lambda values: Q(item__type__in=values),
    "stage": lambda value: Q(stage=value),
    "status": lambda value: Q(status=value),
    "serie": lambda value: Q(item__cfdi__serie=value),
    "folio": lambda value: Q(item__cfdi__folio=value),
}


def _with_purchase_order(rows: QuerySet, key: str, wanted: str) -> QuerySet:
    """metadata.purchase_orders[] holds the CFDI's POs (PurchaseOrderRelationInvoice); SQLite cannot
    search inside a JSON list, so the few candidates are looked at here."""
    matching = [row.pk for row in rows.only("pk", "item")
                if any(isinstance(po, dict) and po.get(key) == wanted
                       for po in (row.item.get("metadata", {}).get("purchase_orders") or []))]
    return rows.filter(pk__in=matching)


@portal_view("GET")
def cfdis(request, tenant):
    params = _q(request)
    rows = _filtered(SandboxCfdi.objects.filter(portal_tenant=tenant), CFDI_FILTERS, params)
    if "purchaseOrderId" in params:
        rows = _with_purchase_order(rows, "purchase_order_id", params["purchaseOrderId"])
    if "purchaseOrderExternalId" in params:
        rows = _with_purchase_order(rows, "purchase_order_external_id", params["purchaseOrderExternalId"])
    return _page(rows, request, tenant, _cfdi_render(request))


@portal_view("GET")
def cfdi(request, tenant, cfdi_id: str):
    return _json(_cfdi_render(request)(_cfdi(tenant, cfdi_id, _id_type(request))))


@portal_view("GET")
def cfdi_files(request, tenant, cfdi_id: str):
    found = _cfdi(tenant, cfdi_id, "INTERNAL")
    # The lifetime travels inside the signed value, so the link cannot be stretched.
    signature = signing.TimestampSigner(salt=_FILE_SALT).sign(f"{tenant.pk}.{found.pk}.{tenant.file_url_seconds}")
    now = timezone.now()
    # Like an S3 pre-signed URL: the object in the path, the signature in the query string.
    return _json({
        "xml": request.build_absolute_uri(
            f"/sandbox/portal/files/{found.uuid}.xml?{urlencode({'signature': signature})}"),
        "valid_from": _iso(now), "valid_to": _iso(now + dt.timedelta(seconds=tenant.file_url_seconds)),
    })


def _file_error(code: str, status: int = 403) -> HttpResponse:
    return HttpResponse(f"<Error><Code>{code}</Code></Error>".encode(), status=status, content_type="application/xml")


@csrf_exempt  # a storage link, not a form: a wrong method gets 405, not a CSRF page
@require_GET
def cfdi_file(request, name: str):
    """The pre-signed link: no PDP headers, only a signature that expires, as on the real storage."""
    if "PDPTenantKey" in request.headers or "PDPTenantSecret" in request.headers:
        # Stricter than S3 on purpose: the tenant's credentials must never travel to the storage host.
        return _file_error("UnexpectedCredentials: PDP headers sent to a storage link", 400)
    signer = signing.TimestampSigner(salt=_FILE_SALT)
    token = request.GET.get("signature", "")
    try:
        tenant_pk, cfdi_pk, seconds = signer.unsign(token).split(".")
        signer.unsign(token, max_age=int(seconds))
    except signing.SignatureExpired:
        return _file_error("AccessDenied: Request has expired")
    except (signing.BadSignature, ValueError):
        return _file_error("SignatureDoesNotMatch")
    found = SandboxCfdi.objects.filter(portal_tenant_id=int(tenant_pk),
                                       pk=int(cfdi_pk)).select_related("portal_tenant").first()
    if found is None:
        return _file_error("NoSuchKey", 404)
    injected = faults.inject(request, f"portal:{found.portal_tenant.tenant_id}")
    if injected is not None:
        return injected
    return HttpResponse(bytes(found.xml), content_type="application/xml")


def _result_id(tenant: SandboxPortalTenant, external_id: str, portal_id: str) -> str:
    """A batch result's `id`: "Id externo" as the spec describes it, or the portal's own id (the switch)."""
    return portal_id if tenant.batch_result_id == BatchResultId.PORTAL else external_id


@portal_view("PUT")
def batch_cfdis(request, tenant):
    results = []
    for update in _body(request)["cfdis"]:
        found = SandboxCfdi.objects.filter(portal_tenant=tenant, uuid=update["uuid"].upper()).first()
        if found is None or found.portal_id != update["cfdi_id"]:
            results.append({"id": _result_id(tenant, update["uuid"], update["cfdi_id"]), "error_code": 1800,
                            "item": {}, "error_message": f"CFDI {update['uuid']} / {update['cfdi_id']} not found"})
            continue
        found.erp_status = update["new_status"]
        found.save(update_fields=["erp_status", "updated"])
        results.append({"id": _result_id(tenant, update["uuid"], found.portal_id), "error_code": 0,
                        "error_message": "", "item": cfdi_json(found)})
    batch = SandboxBatch.objects.create(portal_tenant=tenant, kind="cfdis", response={"results": results})
    return _json({"id": batch.portal_id, "results": results})


# --- payments ----------------------------------------------------------------

def payment_json(payment: SandboxPayment) -> dict:
    sent = payment.request
    keys = ("external_id", "currency", "payment_date", "total_amount", "provider_external_id", "operation_type",
            "reference", "comments", "bank_account_id")
    body = {key: sent[key] for key in keys if sent.get(key) is not None}
    body.update({
        "id": payment.portal_id, "tenant_id": payment.portal_tenant.tenant_id, "status": payment.status,
        "cfdis": [{key: line[key] for key in ("uuid", "amount", "payment_amount", "currency", "exchange_rate")}
                  for line in sent["cfdis"]],
    })
    return body


def _create_payment(tenant, sent: dict) -> SandboxPayment:
    if sent.get("external_id") and SandboxPayment.objects.filter(portal_tenant=tenant,
                                                                 external_id=sent["external_id"]).exists():
        raise Refusal(409, "PAYMENT__DUPLICATED", f"A payment with external_id {sent['external_id']} already exists")
    for line in sent["cfdis"]:
        uuid = (line.get("uuid") or "").strip().upper()
        if not uuid:
            raise Refusal(400, 2390, "Every CFDI to pay needs its uuid; one came empty")
        found = SandboxCfdi.objects.select_for_update().filter(portal_tenant=tenant, uuid=uuid).first()
        if found is None:
            raise Refusal(400, 1800, f"CFDI {uuid} does not exist on the portal")
        if found.total and found.paid >= found.total:
            raise Refusal(400, 1827, f"CFDI {uuid} is already paid")
        found.paid += Decimal(str(line["amount"]))
        found.save(update_fields=["paid", "updated"])
    return SandboxPayment.objects.create(portal_tenant=tenant, external_id=sent.get("external_id") or "", request=sent)


@portal_view("POST")
def payments(request, tenant):
    return _json(payment_json(_create_payment(tenant, _body(request))))


@portal_view("GET")
def payment(request, tenant, payment_id: str):
    field = "external_id" if _id_type(request) == "EXTERNAL" else "portal_id"
    found = SandboxPayment.objects.filter(portal_tenant=tenant,
                                          **{field: payment_id}).select_related("portal_tenant").first()
    if found is None:
        raise Refusal(404, "PAYMENT__NOT_FOUND", f"Payment {payment_id} not found")
    return _json(payment_json(found))


@portal_view("POST")
def batch_payments(request, tenant):
    results = []
    for sent in _body(request)["payments"]:
        try:
            with transaction.atomic():
                created = _create_payment(tenant, sent)
        except Refusal as refusal:
            code = refusal.code if isinstance(refusal.code, int) else refusal.status
            # Refused: the portal made no payment, so in the portal-id reading there is no id to give.
            results.append({"id": _result_id(tenant, sent.get("external_id") or "", ""), "error_code": code,
                            "error_message": refusal.description, "item": {}})
            continue
        results.append({"id": _result_id(tenant, sent.get("external_id") or "", created.portal_id), "error_code": 0,
                        "error_message": "", "item": payment_json(created)})
    batch = SandboxBatch.objects.create(portal_tenant=tenant, kind="payments", response={"results": results})
    return _json({"id": batch.portal_id, "results": results})
