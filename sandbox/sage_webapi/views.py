"""The Sage 300 Web API stand-in: /sandbox/sage/Sage300WebApi/v1.0/-/{COMPANY}/{MODULE}/{Resource}.

A company is the sandbox tenant whose `webapi_company` it is; its records live
in that tenant's sandbox Sage database. Answers and errors take Sage's shapes
(EXTERNAL.md §2), and every call first goes through the fault injector.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox import access, faults
from sandbox.sage_webapi import invoices, payments, posted, vendors
from sandbox.sage_webapi.common import Audit, SageError
from sandbox.sage_webapi.odata import Column, ODataError, parse_count, parse_filter, parse_key
from sync.sage.models import APBTA, APIBC, APOBL, APVEN
from tenants.sage_db import SageDatabaseUnavailable, sage_alias

DEFAULT_PAGE = 100
_RESOURCE = re.compile(r"^(?P<name>[A-Za-z]+)(?:\((?P<key>.*)\))?$")


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": {"lang": "en-US", "value": message}}}


def fault_body(status: int, code: str | None = None, message: str | None = None) -> dict[str, Any]:
    """The error body of an injected failure, by its HTTP status (or the code a rule names)."""
    codes = {401: "Unauthorized", 403: "Forbidden", 404: "ResourceNotFound", 429: "TooManyRequests"}
    code = code or codes.get(status, "InternalServerError" if status >= 500 else "General")
    return error_body(code, message or f"Injected fault ({status}).")


def sage_error(error: SageError) -> JsonResponse:
    return JsonResponse(error_body(error.code, error.message), status=error.status)


class Call:
    """One request to the stand-in, resolved to its tenant and Sage database."""

    def __init__(self, request: HttpRequest, company: str) -> None:
        self.request = request
        self.company = company.upper()
        # Sandbox tenants only, by their own generated credentials (sandbox/access.py).
        self.tenant = access.sage_tenant(request, self.company)
        if self.tenant is None:
            raise SageError("Unauthorized", access.SAGE_REFUSAL)
        try:
            self.alias = sage_alias(self.tenant)
        except SageDatabaseUnavailable as exc:
            raise SageError("DBLinkError", str(exc)) from None
        self.audit = Audit(self.tenant.webapi_user, self.company)

    def body(self) -> Any:
        content_type = self.request.headers.get("Content-Type", "")
        if not content_type.startswith("application/json"):
            raise SageError("InvalidPayload", "Content-Type must be application/json.")
        try:
            return json.loads(self.request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise SageError("InvalidPayload", "The request body is not valid JSON.") from None

    def context(self, resource: str) -> str:
        root = self.request.build_absolute_uri(self.request.path).split("/Sage300WebApi/")[0]
        return f"{root}/Sage300WebApi/v1.0/-/{self.company}/AP/$metadata#{resource}"


@csrf_exempt
def resource(request: HttpRequest, company: str, module: str, path: str) -> HttpResponse:
    injected = faults.inject(request, f"sage:{company.upper()}", error_body=fault_body)
    if injected is not None:
        return injected
    try:
        call = Call(request, company)
        match = _RESOURCE.match(path)
        handler = HANDLERS.get((module.upper(), match.group("name") if match else ""))
        if match is None or handler is None:
            raise SageError("ResourceNotFound", f"The resource {module}/{path} does not exist.")
        try:
            key = parse_key(match.group("key")) if match.group("key") is not None else None
        except ODataError as exc:
            raise SageError("InvalidEntityKey", str(exc)) from None
        if request.method == "POST" and key is not None:
            # Developer Reference §12.1: a POST with a key other than $template or $process.
            raise SageError("InvalidAction", f"POST {module}/{path}: a POST takes no entity key here.")
        return handler(call, request.method or "GET", key)
    except ODataError as exc:
        return sage_error(SageError("InvalidParameters", str(exc)))
    except DatabaseError as exc:
        # Sage answers a broken company database as a DBLinkError, not a crash page.
        return sage_error(SageError("DBLinkError", f"The company database {company.upper()} failed: "
                                                   f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"))
    except SageError as exc:
        return sage_error(exc)


def not_allowed(method: str, resource_name: str) -> SageError:
    # Developer Reference §12.1 MethodNotAllowed: "the request is not supported by the specified resource".
    return SageError("MethodNotAllowed", f"{method} is not supported on {resource_name}.")


def collection(call: Call, resource_name: str, rows: QuerySet, columns: dict[str, Column],
               to_records: Callable[[list[Any], list[str] | None], list[dict]]) -> JsonResponse:
    """An OData collection answer: $filter, $skip, $top, $select, $count."""
    params = call.request.GET
    rows = rows.filter(parse_filter(params.get("$filter"), columns))
    skip = parse_count(params.get("$skip"), 0) or 0
    top = parse_count(params.get("$top"), DEFAULT_PAGE)
    select = [name.strip() for name in params.get("$select", "").split(",") if name.strip()] or None
    body: dict[str, Any] = {"odata.context": call.context(resource_name)}
    if params.get("$count", "").lower() == "true" or params.get("$inlinecount") == "allpages":
        body["odata.count"] = rows.count()
    body["value"] = to_records(list(rows[skip:skip + top]), select)
    return JsonResponse(body)


def invoice_batches(call: Call, method: str, key: Any) -> JsonResponse:
    alias = call.alias
    if method == "GET" and key is None:
        rows = APIBC.objects.using(alias).order_by("CNTBTCH")
        return collection(call, "APInvoiceBatches", rows, invoices.COLUMNS,
                          lambda batches, select: [_selected(invoices.batch_record(alias, batch), select)
                                                   for batch in batches])
    if method == "GET":
        return JsonResponse(invoices.batch_record(alias, invoices.find_batch(alias, key)))
    if method == "POST":
        rule = faults.rule_for(f"sage:{call.company}")
        number = invoices.create_batch(alias, call.body(), call.audit,
                                       recalculate_taxes=bool(rule and rule.recalculate_taxes))
        return JsonResponse(invoices.batch_record(alias, invoices.find_batch(alias, number)), status=201)
    if method == "PATCH" and key is not None:
        batch = invoices.update_batch(alias, key, call.body(), call.audit)
        return JsonResponse(invoices.batch_record(alias, batch))
    raise not_allowed(method, "APInvoiceBatches")


def payment_batches(call: Call, method: str, key: Any) -> JsonResponse:
    alias = call.alias
    if method == "GET" and key is None:
        rows = APBTA.objects.using(alias).order_by("PAYMTYPE", "CNTBTCH")
        return collection(call, "APPaymentAndAdjustmentBatches", rows, payments.COLUMNS,
                          lambda batches, select: [_selected(payments.batch_record(alias, batch), select)
                                                   for batch in batches])
    if method == "GET":
        return JsonResponse(payments.batch_record(alias, payments.find_batch(alias, key)))
    if method == "POST":
        selector, number = payments.create_batch(alias, call.body(), call.audit)
        batch = payments.find_batch(alias, {"BatchSelector": selector, "BatchNumber": number})
        return JsonResponse(payments.batch_record(alias, batch), status=201)
    if method == "PATCH" and key is not None:
        batch = payments.update_batch(alias, key, call.body(), call.audit)
        return JsonResponse(payments.batch_record(alias, batch))
    raise not_allowed(method, "APPaymentAndAdjustmentBatches")


def vendor_resource(call: Call, method: str, key: Any) -> JsonResponse:
    alias = call.alias
    if method == "GET" and key is None:
        rows = APVEN.objects.using(alias).order_by("VENDORID")
        return collection(call, "APVendors", rows, vendors.COLUMNS,
                          lambda page, select: vendors.records(alias, page, select))
    if method == "GET":
        return JsonResponse(vendors.records(alias, [vendors.find(alias, key)])[0])
    if method == "POST":
        vendor = vendors.create(alias, call.body(), call.audit)
        return JsonResponse(vendors.records(alias, [vendor])[0], status=201)
    if method == "PATCH" and key is not None:
        vendor = vendors.update(alias, key, call.body(), call.audit)
        return JsonResponse(vendors.records(alias, [vendor])[0])
    raise not_allowed(method, "APVendors")


def posted_documents(call: Call, method: str, key: Any) -> JsonResponse:
    if method != "GET" or key is not None:
        raise not_allowed(method, "APPostedDocuments")
    rows = APOBL.objects.using(call.alias).order_by("IDVEND", "IDINVC")
    return collection(call, "APPostedDocuments", rows, posted.COLUMNS,
                      lambda documents, select: [posted.record(document, select) for document in documents])


def _selected(record: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    return {name: value for name, value in record.items() if not select or name in select}


HANDLERS: dict[tuple[str, str], Callable[[Call, str, Any], JsonResponse]] = {
    ("AP", "APInvoiceBatches"): invoice_batches,
    ("AP", "APPaymentAndAdjustmentBatches"): payment_batches,
    ("AP", "APVendors"): vendor_resource,
    ("AP", "APPostedDocuments"): posted_documents,
}
