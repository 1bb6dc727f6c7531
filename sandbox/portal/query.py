"""Query parameters of the portal stand-in, read the way Focaltec's spec declares them.

Every query parameter of an operation in focaltec/openapi-subset.json is read
here with its declared type (integer, boolean, date, enum, array), and a value
off that type is refused with 400 before the view runs. A parameter the stand-in
cannot honour is refused too (NOT_IMPLEMENTED, with the reason), so no filter is
ever silently ignored; a parameter the operation does not declare is refused.
tests/portal/test_filters.py walks the spec's parameter list and proves each is
either honoured or refused.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest

from sandbox.portal import contract
from sandbox.portal.errors import Refusal

# Enumerations the spec gives only in a parameter's prose (focaltec/openapi.json, the
# parameter's "description"), enforced as if they were schema enums.
PROSE_ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    # list_2 statusExpedient: "Los valores válidos para esta variable son: SENT, REJECTED, ACCEPTED, EDITED,
    # NO_EXPEDIENT"
    ("list_2", "statusExpedient"): ("SENT", "REJECTED", "ACCEPTED", "EDITED", "NO_EXPEDIENT"),
    # list_2 type: "Los valores válidos para esta variable son: REGULAR, CUSTOMS_AGENT, FOREIGN"
    ("list_2", "type"): ("REGULAR", "CUSTOMS_AGENT", "FOREIGN"),
    # list_5 status: "Algunos de los estatus permitidos son los siguientes: …" — "some of": the real
    # portal may know more (README, "Unverified against the real portal").
    ("list_5", "status"): (
        "TO_SEND", "REJECTED", "IN_RECEPTION", "REJECTED_BY_ADMIN", "REJECTED_BY_CXP", "IN_REVIEW",
        "PENDING_PAYMENT", "PAYMENT_POSTPONE", "IN_PAYMENT_ORDER", "SEND_TO_EXECUTE", "PAID",
        "PENDING_ATTACH_PAYMENT_CFDI", "NO_NEED_ATTACH_PAYMENT_CFDI", "PENDING_APPLICATION", "APPLIED",
        "PENDING_ATTACH", "PAYMENT_CFDI_IN_REVIEW", "PAYMENT_CFDI_REJECTED", "ATTACHED", "DELIVERED_ERP",
    ),
}

# Filters the spec lists that the stand-in has no data for: refused, never ignored.
NOT_IMPLEMENTED: dict[tuple[str, str], str] = {
    ("list_5", "warehouseDeliveryId"): "the sandbox portal keeps no warehouse deliveries",
    ("list_5", "warehouseDeliveryExternalId"): "the sandbox portal keeps no warehouse deliveries",
    ("list_5", "companyExternalId"): "the sandbox portal keeps no companies inside a tenant",
}
NOT_IMPLEMENTED_CODE = "SANDBOX__FILTER_NOT_IMPLEMENTED"


def read(request: HttpRequest) -> dict[str, Any]:
    """The request's query parameters, typed as the operation declares them; Refusal(400) otherwise."""
    operation = contract.find_operation(request.method, request.path)
    if operation is None:
        return {}
    declared = {p["name"]: p for p in operation.spec.get("parameters", []) if p.get("in") == "query"}
    unknown = sorted(set(request.GET) - set(declared))
    if unknown:
        raise Refusal(400, 400, f"{operation.operation_id} takes no query parameter {', '.join(unknown)} "
                                f"(it takes: {', '.join(sorted(declared)) or 'none'})")
    values: dict[str, Any] = {}
    for name, parameter in declared.items():
        raw = request.GET.getlist(name)
        if not raw:
            if parameter.get("required"):
                raise Refusal(400, 400, f"Required request parameter '{name}' is not present")
            continue
        reason = NOT_IMPLEMENTED.get((operation.operation_id, name))
        if reason is not None:
            raise Refusal(400, NOT_IMPLEMENTED_CODE, f"The filter {name} is not available: {reason}")
        values[name] = typed(operation.operation_id, name, parameter.get("schema", {}), raw)
    return values


def typed(operation_id: str, name: str, schema: dict, raw: list[str]) -> Any:
    if schema.get("type") == "array":
        items = schema.get("items", {})
        values = [_one(operation_id, name, items, value) for value in raw]
        if schema.get("uniqueItems") and len(set(values)) != len(values):
            raise Refusal(400, 400, f"{name} repeats a value")
        return values
    if len(raw) > 1:
        raise Refusal(400, 400, f"{name} is given {len(raw)} times; it takes one value")
    return _one(operation_id, name, schema, raw[0])


def _one(operation_id: str, name: str, schema: dict, value: str) -> Any:
    kind = schema.get("type", "string")
    if kind == "integer":
        try:
            return int(value)
        except ValueError:
            raise Refusal(400, 400, f"{name} must be an integer, not {value!r}") from None
    if kind == "boolean":
        if value not in ("true", "false"):
            raise Refusal(400, 400, f"{name} must be true or false, not {value!r}")
        return value == "true"
    if schema.get("format") == "date":
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise Refusal(400, 400, f"{name} must be a date yyyy-mm-dd, not {value!r}") from None
    allowed = schema.get("enum") or PROSE_ENUMS.get((operation_id, name))
    if allowed and value not in allowed:
        raise Refusal(400, 400, f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value
