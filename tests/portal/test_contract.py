"""The contract checker itself: it passes what the client builds and fails what breaks the spec."""
import datetime as dt
from decimal import Decimal

import pytest
import requests

from sandbox.portal import contract
from tests.portal.conftest import PORTAL_KEY, PORTAL_SECRET
from tests.portal.factories import payment, purchase_order

AUTH = {"PDPTenantKey": "k", "PDPTenantSecret": "s"}
PO_PATH = "/api/1.0/extern/tenants/acme/purchase-orders"


def _violations(path: str, body: dict, method: str = "POST", query=None) -> list[str]:
    import json

    return contract.request_violations(method, path, query or {}, AUTH, json.dumps(body).encode())


def test_it_covers_every_operation_the_client_uses():
    ids = sorted(operation.operation_id for operation in contract.operations())
    assert ids == sorted(["list_2", "getProvider", "update_2", "updateExternalId", "create_2", "getPurchaseOrder",
                          "update_1", "changeStatus_1", "upsertPurchaseOrders", "getBatchStatus_1", "list_5",
                          "getCfdi", "getFiles", "progressUpdateCfdis", "create_4", "getPayment", "create_7",
                          "list_1"])


def test_it_passes_the_payloads_the_client_builds():
    assert _violations(PO_PATH, purchase_order("PO000001").to_json()) == []
    assert _violations("/api/1.0/extern/tenants/acme/payments", payment("PY1", ("A-1", Decimal("5"))).to_json()) == []


@pytest.mark.parametrize("breakage, expected", [
    (lambda body: body.pop("lines"), "'lines' is a required property"),
    (lambda body: body.update(status="DRAFT"), "'DRAFT' is not one of"),
    (lambda body: body.update(currency="PESOS"), "is too long"),
    (lambda body: body.update(total="1160.00"), "is not of type 'number'"),
    (lambda body: body.update(date="2026-11-20"), "is not a 'date-time'"),
    (lambda body: body["addresses"][0].update(street="x" * 101), "is too long"),
])
def test_it_rejects_a_deliberately_wrong_purchase_order(breakage, expected):
    body = purchase_order("PO000001").to_json()
    breakage(body)

    problems = _violations(PO_PATH, body)

    assert any(expected in problem for problem in problems), problems


def test_it_rejects_a_wrong_rfc_pattern_and_wrong_parameters():
    from tests.portal.test_operations import _provider_request

    class Row:
        name, rfc = "X", "ABC800101AB1"

    body = _provider_request(Row).to_json()
    body["rfc"] = "abc800101"
    problems = _violations("/api/1.0/extern/tenants/acme/providers/abc", body, method="PUT",
                           query={"id_type": ["EXTERNAL"]})
    assert any("does not match" in p for p in problems)
    assert any("'id_type' is not declared" in p for p in problems), "this operation spells it idType"

    listing = contract.request_violations("GET", "/api/1.0/extern/tenants/a/cfdis", {"pageSize": ["ten"]}, {}, b"")
    assert any("'offset' is required" in p for p in listing)
    assert any("'ten' is not of type 'integer'" in p for p in listing)
    assert any("PDPTenantSecret is required" in p for p in listing)
    assert contract.request_violations("DELETE", PO_PATH, {}, AUTH,
                                       b"") == [f"DELETE {PO_PATH} is not an operation of the contract"]


def test_it_rejects_an_answer_off_the_spec():
    answer = b'{"total": "many", "items": [{"id": 7}]}'
    problems = contract.response_violations("GET", "/api/1.0/extern/tenants/a/cfdis", 200, answer)
    assert any("'many' is not of type 'integer'" in p for p in problems)
    assert any("7 is not of type 'string'" in p for p in problems)


def test_the_stand_in_refuses_a_body_off_the_spec_with_400(portal_tenant, stand_in):
    body = purchase_order("PO000001").to_json()
    body["status"] = "DRAFT"

    with contract.recording() as violations:
        answer = requests.post(f"{portal_tenant.portal_url}/api/1.0/extern/tenants/acme-portal/purchase-orders",
                               json=body,
                               headers={"PDPTenantKey": PORTAL_KEY, "PDPTenantSecret": PORTAL_SECRET}, timeout=5)

    assert any("'DRAFT' is not one of" in v for v in violations)
    assert answer.status_code == 400
    assert "DRAFT" in answer.json()["description"]


def test_the_stand_in_refuses_wrong_credentials_and_keeps_paying_rules(portal_tenant, stand_in):
    url = f"{portal_tenant.portal_url}/api/1.0/extern/tenants/acme-portal/payments"
    body = payment("PY1", ("A-1", Decimal("5"))).to_json()
    body["cfdis"][0]["uuid"] = ""

    with contract.recording() as violations:  # no headers: off the contract on purpose
        assert requests.post(url, json=body, timeout=5).status_code == 401
    assert any("PDPTenantKey is required" in v for v in violations)
    empty = requests.post(url, json=body, headers={"PDPTenantKey": PORTAL_KEY, "PDPTenantSecret": PORTAL_SECRET},
                          timeout=5)
    assert (empty.status_code, empty.json()["code"]) == (400, 2390)


def test_the_recorder_catches_a_request_off_the_contract(portal_tenant, stand_in):
    with contract.recording() as violations:
        requests.get(f"{portal_tenant.portal_url}/api/1.0/extern/tenants/acme-portal/cfdis",
                     params={"offset": 0, "pageSize": 5, "since": dt.date.today().isoformat()},
                     headers={"PDPTenantKey": PORTAL_KEY, "PDPTenantSecret": PORTAL_SECRET}, timeout=5)

    assert any("'since' is not declared" in v for v in violations), violations


def test_the_committed_subset_is_what_extract_makes_from_the_shared_spec():
    import importlib.util
    import json as json_

    from django.conf import settings

    script = settings.BASE_DIR / "focaltec" / "extract.py"
    spec = importlib.util.spec_from_file_location("focaltec_extract", script)
    extract = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(extract)
    if not extract.DEFAULT_SOURCE.is_file():
        pytest.skip(f"Focaltec's openapi.json is not at {extract.DEFAULT_SOURCE} (outside the project): "
                    "nothing to compare")

    fresh = extract.extract(json_.loads(extract.DEFAULT_SOURCE.read_text(encoding="utf-8")))

    assert fresh == contract.spec(), "focaltec/openapi-subset.json is stale: run focaltec/extract.py"
