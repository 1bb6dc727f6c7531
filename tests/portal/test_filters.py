"""Every query parameter Focaltec's spec lists for the operations we use is honoured by the stand-in
or refused with 400 — never silently ignored. The walk reads the parameter list from the spec itself
(focaltec/openapi-subset.json): a parameter added there without a case here fails the walk."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

import pytest
import requests
from django.utils import timezone

from sandbox.portal import contract
from sandbox.portal.models import SandboxCfdi, SandboxPayment, SandboxProvider, SandboxPurchaseOrder
from sandbox.portal.query import NOT_IMPLEMENTED, NOT_IMPLEMENTED_CODE
from tests.portal.conftest import PORTAL_KEY, PORTAL_SECRET
from tests.portal.factories import purchase_order

HEADERS = {"PDPTenantKey": PORTAL_KEY, "PDPTenantSecret": PORTAL_SECRET}
PAGE = {"offset": 0, "pageSize": 50}
MX = dt.timezone(dt.timedelta(hours=-6))


@dataclass
class World:
    url: str
    providers: dict[str, SandboxProvider]
    cfdis: dict[str, SandboxCfdi]

    def get(self, path: str, params: dict | None = None) -> requests.Response:
        return requests.get(f"{self.url}{path}", params=params, headers=HEADERS, timeout=10)

    def put(self, path: str, body: dict, params: dict | None = None) -> requests.Response:
        return requests.put(f"{self.url}{path}", params=params, json=body, headers=HEADERS, timeout=10)


def _provider(stand_in, **values) -> SandboxProvider:
    data = {"country": "MX", "currency": "MXN", "type": values.pop("type", "REGULAR"), "allow_invoice_reception": True}
    data.update(values.pop("data", {}))
    return SandboxProvider.objects.create(portal_tenant=stand_in, data=data, **values)


def _cfdi(stand_in, key: str, *, provider: SandboxProvider, issued: dt.date, uploaded: dt.datetime,
          kind: str = "INVOICE", document: str = "CFDI", stage: str = "PENDING_TO_PAY", status: str = "PENDING_PAYMENT",
          serie: str = "FA", folio: str = "1", orders: list[dict] | None = None) -> SandboxCfdi:
    uuid = f"{key * 8}-0000-4000-8000-{key * 12}".upper()
    return SandboxCfdi.objects.create(
        portal_tenant=stand_in, uuid=uuid, cfdi_type=kind, issued=issued, uploaded=uploaded, stage=stage, status=status,
        provider_external_id=provider.external_id,
        item={"type": document, "cfdi": {"timbre": {"uuid": uuid}, "serie": serie, "folio": folio},
              "metadata": {"provider_id": provider.portal_id, "provider_external_id": provider.external_id,
                           "purchase_orders": orders or []}},
        xml=b"<x/>")


@pytest.fixture
def world(portal_tenant, stand_in) -> World:
    accepted = _provider(stand_in, external_id="V1", rfc="ACE800101AB1", name="Aceros del Norte",
                         expedient_status="ACCEPTED", expedient_accepted=dt.date(2026, 11, 1),
                         data={"bank_accounts": [{"bank_name": "BANORTE", "account": "0001",
                                                  "clabe": "072580000000000011"}]})
    disabled = _provider(stand_in, external_id="", rfc="PAP800101AB2", name="Papelera Azteca", status="DISABLED",
                         expedient_status="SENT", type="FOREIGN", data={"expedient_expired": True})
    late = _provider(stand_in, external_id="V3", rfc="TRA800101AB3", name="Transportes del Norte",
                     expedient_status="ACCEPTED", expedient_accepted=dt.date(2026, 11, 20), type="CUSTOMS_AGENT")
    at = lambda day, hour=12: dt.datetime.combine(day, dt.time(hour), tzinfo=MX)  # noqa: E731
    cfdis = {
        "a": _cfdi(stand_in, "a", provider=accepted, issued=dt.date(2026, 10, 1), uploaded=at(dt.date(2026, 10, 2)),
                   orders=[{"purchase_order_id": "f" * 24, "purchase_order_external_id": "PO000001"}], folio="10"),
        "b": _cfdi(stand_in, "b", provider=late, issued=dt.date(2026, 10, 20), uploaded=at(dt.date(2026, 11, 25), 23),
                   kind="CREDIT_NOTE", stage="FINISHED", status="REJECTED", serie="NC", folio="11"),
        "c": _cfdi(stand_in, "c", provider=late, issued=dt.date(2026, 11, 24), uploaded=at(dt.date(2026, 11, 26), 0),
                   kind="PAYMENT_CFDI", document="FOREIGN", folio="12"),
    }
    return World(portal_tenant.portal_url, {"p1": accepted, "p2": disabled, "p3": late}, cfdis)


def _ids(answer: requests.Response, field: str = "id") -> set[str]:
    assert answer.status_code == 200, answer.text
    return {item[field] for item in answer.json()["items"]}


def _providers(world: World, params: dict) -> set[str]:
    return _ids(world.get("/api/1.0/extern/tenants/acme-portal/providers", params))


def _cfdi_keys(world: World, params: dict) -> set[str]:
    found = _ids(world.get("/api/1.0/extern/tenants/acme-portal/cfdis", {**PAGE, **params}))
    return {key for key, row in world.cfdis.items() if row.portal_id in found}


def _provider_keys(world: World, params: dict) -> set[str]:
    found = _providers(world, params)
    return {key for key, row in world.providers.items() if row.portal_id in found}


ALL_PROVIDERS, ALL_CFDIS = {"p1", "p2", "p3"}, {"a", "b", "c"}


def filters_providers(params: dict, expected: set[str]) -> Callable[[World], None]:
    def check(world: World) -> None:
        assert expected != ALL_PROVIDERS, "a case must tell the filter's answer from the unfiltered one"
        assert _provider_keys(world, params) == expected
    return check


def filters_cfdis(params: dict, expected: set[str]) -> Callable[[World], None]:
    def check(world: World) -> None:
        assert expected != ALL_CFDIS, "a case must tell the filter's answer from the unfiltered one"
        assert _cfdi_keys(world, params) == expected
    return check


def pages_providers(world: World) -> None:
    first = world.get("/api/1.0/extern/tenants/acme-portal/providers", {"offset": 0, "pageSize": 2}).json()
    rest = world.get("/api/1.0/extern/tenants/acme-portal/providers", {"offset": 2, "pageSize": 2}).json()
    assert (first["total"], len(first["items"]), len(rest["items"])) == (3, 2, 1)
    listed = {i["id"] for i in first["items"]} | {i["id"] for i in rest["items"]}
    assert listed == {p.portal_id for p in world.providers.values()}


def pages_cfdis(world: World) -> None:
    path = "/api/1.0/extern/tenants/acme-portal/cfdis"
    first, rest = world.get(path, {"offset": 0, "pageSize": 2}).json(), world.get(path,
                                                                                  {"offset": 2, "pageSize": 2}).json()
    assert (first["total"], len(first["items"]), len(rest["items"])) == (3, 2, 1)


def hides_bank_information(world: World) -> None:
    shown = world.get("/api/1.0/extern/tenants/acme-portal/providers", {"externalId": "V1"}).json()["items"][0]
    hidden = world.get("/api/1.0/extern/tenants/acme-portal/providers",
                       {"externalId": "V1", "hideBankInformation": "true"}).json()["items"][0]
    assert shown["expedient"]["bank_accounts"] and "bank_accounts" not in hidden["expedient"]


def _cfdi_item(world: World, params: dict) -> dict:
    answer = world.get("/api/1.0/extern/tenants/acme-portal/cfdis", {**PAGE, "uuids": world.cfdis["a"].uuid, **params})
    return answer.json()["items"][0]["metadata"]


def hides_validations(world: World) -> None:
    assert "validations" in _cfdi_item(world, {}) and "validations" not in _cfdi_item(world,
                                                                                      {"hideValidations": "true"})


def retrieves_history(world: World) -> None:
    assert "history" not in _cfdi_item(world, {}) and _cfdi_item(world, {"retrieveHistory": "true"})["history"]


def one_cfdi(world: World) -> None:
    row = world.cfdis["a"]
    path = "/api/1.0/extern/tenants/acme-portal/cfdis/{}"
    assert world.get(path.format(row.portal_id)).json()["id"] == row.portal_id
    assert world.get(path.format(row.uuid.lower()), {"id_type": "EXTERNAL"}).json()["id"] == row.portal_id
    assert world.get(path.format(row.uuid), {"id_type": "INTERNAL"}).status_code == 404
    shown = world.get(path.format(row.portal_id), {"hideValidations": "false", "retrieveHistory": "true"}).json()
    hidden = world.get(path.format(row.portal_id), {"hideValidations": "true", "retrieveHistory": "false"}).json()
    assert "validations" in shown["metadata"] and "history" in shown["metadata"]
    assert "validations" not in hidden["metadata"] and "history" not in hidden["metadata"]


def one_provider(world: World) -> None:
    row = world.providers["p1"]
    path = "/api/1.0/extern/tenants/acme-portal/providers/{}"
    assert world.get(path.format(row.portal_id)).json()["id"] == row.portal_id
    assert world.get(path.format("V1"), {"id_type": "EXTERNAL"}).json()["id"] == row.portal_id
    assert world.get(path.format("V1"), {"id_type": "INTERNAL"}).status_code == 404


def updates_provider(world: World) -> None:
    row = world.providers["p1"]
    body = {"name": "Aceros del Norte SA", "rfc": row.rfc, "country": "MX", "currency": "MXN", "credit_days": 30,
            "enabled": True, "type": "REGULAR", "allow_invoice_reception": True, "use_advance_invoices": False,
            "unlimited_payment_cfdi_pending": True, "use_tenant_credit_days": True,
            "require_consignment_note": "NOT_REQUIRED"}
    path = "/api/1.0/extern/tenants/acme-portal/providers/{}"
    assert world.put(path.format("V1"), body, {"idType": "INTERNAL"}).status_code == 404
    assert world.put(path.format("V1"), body, {"idType": "EXTERNAL"}).json()["name"] == "Aceros del Norte SA"
    row.refresh_from_db()
    assert row.data["bank_accounts"], "what the expedient holds survives an update"


def purchase_order_by_id_type(world: World, method: str, suffix: str = "") -> None:
    order = purchase_order("PO000009", vendor_id="V1").to_json()
    created = requests.post(f"{world.url}/api/1.0/extern/tenants/acme-portal/purchase-orders", json=order,
                            headers=HEADERS, timeout=10).json()
    path = "/api/1.0/extern/tenants/acme-portal/purchase-orders/{}" + suffix
    body = {"status": "CLOSED"} if suffix else order
    send = world.get if method == "GET" else (lambda p, params: world.put(p, body, params))
    assert send(path.format("PO000009"), {"id_type": "INTERNAL"}).status_code == 404
    assert send(path.format(created["id"]), {"id_type": "INTERNAL"}).status_code == 200
    assert send(path.format("PO000009"), {"id_type": "EXTERNAL"}).status_code == 200


def _purchase_orders(world: World) -> dict[str, str]:
    """Three orders (PO1 of V1 OPEN, PO2 of V3 OPEN, PO3 of V3 CANCELLED): external_id → portal id."""
    made = {}
    for number, vendor in (("PO1", "V1"), ("PO2", "V3"), ("PO3", "V3")):
        answer = requests.post(f"{world.url}/api/1.0/extern/tenants/acme-portal/purchase-orders",
                               json=purchase_order(number, vendor_id=vendor).to_json(), headers=HEADERS, timeout=10)
        assert answer.status_code == 200, answer.text
        made[number] = answer.json()["id"]
    SandboxPurchaseOrder.objects.filter(external_id="PO3").update(status="CANCELLED")
    return made


def filters_purchase_orders(params: Callable[[dict[str, str], World], dict], expected: set[str]):
    def check(world: World) -> None:
        made = _purchase_orders(world)
        assert expected != set(made), "a case must tell the filter's answer from the unfiltered one"
        found = _ids(world.get("/api/1.0/extern/tenants/acme-portal/purchase-orders",
                               {**PAGE, **params(made, world)}), "external_id")
        assert found == expected
    return check


def pages_purchase_orders(world: World) -> None:
    made = _purchase_orders(world)
    path = "/api/1.0/extern/tenants/acme-portal/purchase-orders"
    first, rest = world.get(path, {"offset": 0, "pageSize": 2}).json(), world.get(path,
                                                                                  {"offset": 2, "pageSize": 2}).json()
    assert (first["total"], len(first["items"]), len(rest["items"])) == (3, 2, 1)
    assert {i["id"] for i in first["items"] + rest["items"]} == set(made.values())


def payment_by_id_type(world: World) -> None:
    row = SandboxPayment.objects.create(portal_tenant=world.providers["p1"].portal_tenant, external_id="PY1",
                                        request={"external_id": "PY1", "currency": "MXN", "cfdis": []})
    path = "/api/1.0/extern/tenants/acme-portal/payments/{}"
    assert world.get(path.format("PY1"), {"id_type": "INTERNAL"}).status_code == 404
    assert world.get(path.format("PY1"), {"id_type": "EXTERNAL"}).json()["id"] == row.portal_id
    assert world.get(path.format(row.portal_id)).json()["external_id"] == "PY1"


CASES: dict[tuple[str, str], Callable[[World], None]] = {
    ("list_2", "pageSize"): pages_providers,
    ("list_2", "offset"): pages_providers,
    ("list_2", "statusExpedient"): filters_providers({"statusExpedient": "ACCEPTED"}, {"p1", "p3"}),
    ("list_2", "expedientAcceptedFrom"): filters_providers({"expedientAcceptedFrom": "2026-11-10"}, {"p3"}),
    ("list_2", "expedientAcceptedTo"): filters_providers({"expedientAcceptedTo": "2026-11-10"}, {"p1"}),
    ("list_2", "emptyExternalId"): lambda world: (filters_providers({"emptyExternalId": "true"}, {"p2"})(world),
                                                   filters_providers({"emptyExternalId": "false"},
                                                                     {"p1", "p3"})(world)),
    ("list_2", "hideBankInformation"): hides_bank_information,
    ("list_2", "status"): filters_providers({"status": "DISABLED"}, {"p2"}),
    ("list_2", "rfc"): filters_providers({"rfc": "TRA800101AB3"}, {"p3"}),
    ("list_2", "externalId"): filters_providers({"externalId": "V1"}, {"p1"}),
    ("list_2", "name"): filters_providers({"name": "norte"}, {"p1", "p3"}),
    ("list_2", "ids"): lambda world: filters_providers(
        {"ids": [world.providers["p1"].portal_id, world.providers["p2"].portal_id]}, {"p1", "p2"})(world),
    ("list_2", "external_ids"): filters_providers({"external_ids": ["V1", "V3"]}, {"p1", "p3"}),
    ("list_2", "type"): filters_providers({"type": "FOREIGN"}, {"p2"}),
    ("list_2", "expiredExpedient"): lambda world: (filters_providers({"expiredExpedient": "true"}, {"p2"})(world),
                                                    filters_providers({"expiredExpedient": "false"},
                                                                      {"p1", "p3"})(world)),
    ("list_5", "pageSize"): pages_cfdis,
    ("list_5", "offset"): pages_cfdis,
    ("list_5", "from"): filters_cfdis({"from": "2026-10-20"}, {"b", "c"}),
    ("list_5", "to"): filters_cfdis({"to": "2026-10-20"}, {"a", "b"}),
    # "b" reached the portal at 23:00 of the 25th, "c" at 00:00 of the 26th (Mexico City): whole days count.
    ("list_5", "createdFrom"): filters_cfdis({"createdFrom": "2026-11-26"}, {"c"}),
    ("list_5", "createdUntil"): filters_cfdis({"createdUntil": "2026-11-25"}, {"a", "b"}),
    ("list_5", "providerId"): lambda world: filters_cfdis({"providerId": world.providers["p3"].portal_id},
                                                          {"b", "c"})(world),
    ("list_5", "purchaseOrderId"): filters_cfdis({"purchaseOrderId": "f" * 24}, {"a"}),
    ("list_5", "providerExternalId"): filters_cfdis({"providerExternalId": "V1"}, {"a"}),
    ("list_5", "purchaseOrderExternalId"): filters_cfdis({"purchaseOrderExternalId": "PO000001"}, {"a"}),
    ("list_5", "cfdiIds"): lambda world: filters_cfdis({"cfdiIds": [world.cfdis["b"].portal_id]}, {"b"})(world),
    ("list_5", "uuids"): lambda world: filters_cfdis(
        {"uuids": [world.cfdis["a"].uuid.lower(), world.cfdis["c"].uuid]}, {"a", "c"})(world),
    ("list_5", "cfdiType"): filters_cfdis({"cfdiType": "CREDIT_NOTE"}, {"b"}),
    ("list_5", "documentTypes"): filters_cfdis({"documentTypes": ["FOREIGN", "REFUND"]}, {"c"}),
    ("list_5", "stage"): filters_cfdis({"stage": "FINISHED"}, {"b"}),
    ("list_5", "status"): filters_cfdis({"status": "REJECTED"}, {"b"}),
    ("list_5", "hideValidations"): hides_validations,
    ("list_5", "retrieveHistory"): retrieves_history,
    ("list_5", "serie"): filters_cfdis({"serie": "NC"}, {"b"}),
    ("list_5", "folio"): filters_cfdis({"folio": "12"}, {"c"}),
    ("list_1", "pageSize"): pages_purchase_orders,
    ("list_1", "offset"): pages_purchase_orders,
    ("list_1", "providerExternalId"): filters_purchase_orders(lambda made, world: {"providerExternalId": "V3"},
                                                              {"PO2", "PO3"}),
    ("list_1", "status"): filters_purchase_orders(lambda made, world: {"status": "CANCELLED"}, {"PO3"}),
    ("list_1", "ids"): filters_purchase_orders(lambda made, world: {"ids": [made["PO1"], made["PO3"]]},
                                               {"PO1", "PO3"}),
    ("list_1", "external_ids"): filters_purchase_orders(lambda made, world: {"external_ids": ["PO2"]}, {"PO2"}),
    ("list_1", "provider_id"): filters_purchase_orders(
        lambda made, world: {"provider_id": world.providers["p1"].portal_id}, {"PO1"}),
    ("getCfdi", "id_type"): one_cfdi,
    ("getCfdi", "hideValidations"): one_cfdi,
    ("getCfdi", "retrieveHistory"): one_cfdi,
    ("getProvider", "id_type"): one_provider,
    ("update_2", "idType"): updates_provider,
    ("getPurchaseOrder", "id_type"): lambda world: purchase_order_by_id_type(world, "GET"),
    ("update_1", "id_type"): lambda world: purchase_order_by_id_type(world, "PUT"),
    ("changeStatus_1", "id_type"): lambda world: purchase_order_by_id_type(world, "PUT", "/status"),
    ("getPayment", "id_type"): payment_by_id_type,
}

SAMPLE_VALUES = {"warehouseDeliveryId": "a" * 24, "warehouseDeliveryExternalId": "ENT-1", "companyExternalId": "C1"}


def spec_query_parameters() -> list[tuple[str, str]]:
    return [(operation.operation_id, parameter["name"]) for operation in contract.operations()
            for parameter in operation.spec.get("parameters", []) if parameter.get("in") == "query"]


def test_every_query_parameter_of_the_spec_has_a_case_here():
    listed = set(spec_query_parameters())
    assert listed == set(CASES) | set(NOT_IMPLEMENTED), (
        f"without a case: {sorted(listed - set(CASES) - set(NOT_IMPLEMENTED))}; "
        f"not in the spec: {sorted(set(CASES) | set(NOT_IMPLEMENTED) - listed)}")
    assert not set(CASES) & set(NOT_IMPLEMENTED)


@pytest.mark.parametrize("operation_id, name", spec_query_parameters())
def test_the_stand_in_honours_or_refuses_every_query_parameter(world, operation_id, name):
    if (operation_id, name) in NOT_IMPLEMENTED:
        answer = world.get("/api/1.0/extern/tenants/acme-portal/cfdis", {**PAGE, name: SAMPLE_VALUES[name]})
        assert (answer.status_code, answer.json()["code"]) == (400, NOT_IMPLEMENTED_CODE)
        assert name in answer.json()["description"]
        return
    CASES[(operation_id, name)](world)


@pytest.mark.parametrize("path, params, named", [
    ("cfdis", {**PAGE, "cfdiType": "RECEIPT"}, "cfdiType"),
    ("cfdis", {**PAGE, "stage": "DONE"}, "stage"),
    ("cfdis", {**PAGE, "status": "CANCELLED_SOMEHOW"}, "status"),
    ("cfdis", {**PAGE, "documentTypes": "PAYSLIP"}, "documentTypes"),
    ("cfdis", {**PAGE, "createdFrom": "26/11/2026"}, "createdFrom"),
    ("cfdis", {**PAGE, "hideValidations": "yes"}, "hideValidations"),
    ("cfdis", {"offset": 0}, "pageSize"),
    ("cfdis", {**PAGE, "since": "2026-11-01"}, "since"),
    ("providers", {"statusExpedient": "APPROVED"}, "statusExpedient"),
    ("providers", {"status": "ACTIVE"}, "status"),
    ("providers", {"type": "VENDOR"}, "type"),
    ("providers", {"pageSize": "ten"}, "pageSize"),
    ("purchase-orders", {**PAGE, "status": "REOPENED"}, "status"),
    ("purchase-orders", {"offset": 0}, "pageSize"),
    ("purchase-orders", {**PAGE, "vendor": "V1"}, "vendor"),
    ("cfdis/" + "a" * 24, {"id_type": "ERP"}, "id_type"),
])
def test_it_refuses_unknown_parameters_and_values_off_the_spec(world, path, params, named):
    with contract.recording():  # off the contract on purpose
        answer = world.get(f"/api/1.0/extern/tenants/acme-portal/{path}", params)

    assert answer.status_code == 400, answer.text
    assert named in answer.json()["description"]


def test_it_refuses_an_unknown_status_in_a_body(world):
    created = requests.post(f"{world.url}/api/1.0/extern/tenants/acme-portal/purchase-orders",
                            json=purchase_order("PO000002", vendor_id="V1").to_json(), headers=HEADERS, timeout=10)
    with contract.recording():
        answer = world.put("/api/1.0/extern/tenants/acme-portal/purchase-orders/PO000002/status",
                           {"status": "REOPENED"},
                           {"id_type": "EXTERNAL"})

    assert created.status_code == 200
    assert answer.status_code == 400 and "REOPENED" in answer.json()["description"]
    assert SandboxPurchaseOrder.objects.get(external_id="PO000002").status == "OPEN"


@pytest.mark.parametrize("method, path, allowed", [
    ("DELETE", "providers", "GET"),
    ("POST", "cfdis", "GET"),
    ("DELETE", "providers/abc", "GET, PUT"),
    ("DELETE", "purchase-orders", "GET, POST"),
    ("PATCH", "purchase-orders/PO1/status", "PUT"),
])
def test_it_answers_405_with_allow(world, method, path, allowed):
    with contract.recording():
        answer = requests.request(method, f"{world.url}/api/1.0/extern/tenants/acme-portal/{path}", headers=HEADERS,
                                  timeout=10)

    assert answer.status_code == 405
    assert answer.headers["Allow"] == allowed


def test_the_file_link_answers_405_with_allow(world):
    answer = requests.post(f"{world.url}/files/x.xml", timeout=10)

    assert (answer.status_code, answer.headers["Allow"]) == (405, "GET")


def test_the_created_filters_read_whole_days_in_mexico_city(world, stand_in):
    late = world.cfdis["c"]
    late.uploaded = timezone.make_aware(dt.datetime(2026, 11, 27, 5, 59), dt.timezone.utc)  # 23:59 on the 26th there
    late.save()

    assert _cfdi_keys(world, {"createdFrom": "2026-11-26", "createdUntil": "2026-11-26"}) == {"c"}
    assert _cfdi_keys(world, {"createdFrom": "2026-11-27"}) == set()
