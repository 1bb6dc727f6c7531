"""A property-based run driven by the spec: random contract-valid requests for every operation
the stand-in implements; no answer may be a server error or break the response schema."""
import json
import random
from decimal import Decimal

import pytest
import requests

from sandbox.portal import contract
from tests.portal.conftest import PORTAL_KEY, PORTAL_SECRET
from tests.portal.factories import add_cfdis, add_providers, payment, purchase_order
from tests.portal.spec_examples import ExampleGenerator

EXAMPLES_PER_OPERATION = 25


@pytest.fixture
def known_records(portal_tenant, stand_in):
    from sync.portal import PortalClient

    providers = add_providers(stand_in, 3)
    cfdis = add_cfdis(stand_in, 4)
    with PortalClient(portal_tenant) as client:
        order = client.create_purchase_order(purchase_order("PO000001"))
        batch = client.upsert_purchase_orders([purchase_order("PO000002")])
        paid = client.create_payment(payment("PY0000001", (cfdis[0].uuid, Decimal("10.00"))))
    return {
        "providerId": [p.portal_id for p in providers] + [p.external_id for p in providers],
        "provider_external_id": [p.external_id for p in providers],
        "providerExternalId": [p.external_id for p in providers],
        "externalId": [p.external_id for p in providers],
        "purchaseOrderId": [order.id, "PO000001"],
        "external_id": ["PO000001"],
        "batchId": [batch.id],
        "cfdiId": [c.portal_id for c in cfdis] + [c.uuid for c in cfdis],
        "uuid": [c.uuid for c in cfdis],
        "uuids": [c.uuid for c in cfdis],
        "cfdi_id": [c.portal_id for c in cfdis],
        "paymentId": [paid.id, "PY0000001"],
    }


@pytest.mark.parametrize("operation", contract.operations(), ids=lambda op: op.operation_id)
def test_it_answers_random_valid_requests_without_server_errors(portal_tenant, known_records, operation):
    generator = ExampleGenerator(random.Random(f"{operation.operation_id}-2026"), known_records)
    statuses = []
    with contract.recording() as violations:
        for _ in range(EXAMPLES_PER_OPERATION):
            path, query, body = generator.request(operation, portal_tenant.portal_tenant_id)
            answer = requests.request(
                operation.method, portal_tenant.portal_url + path, params=query,
                data=json.dumps(body) if body is not None else None, timeout=10,
                headers={"PDPTenantKey": PORTAL_KEY, "PDPTenantSecret": PORTAL_SECRET,
                         "Content-Type": "application/json"},
            )
            statuses.append(answer.status_code)
            assert answer.status_code < 500, f"{operation.method} {path} {query} {body} -> {answer.status_code}"
            assert answer.headers["Content-Type"].startswith("application/json")
            if answer.status_code >= 400:
                assert set(answer.json()) == {"code", "description"}

    assert violations == [], "\n".join(violations)
    assert any(status == 200 for status in statuses), f"no example reached a success path: {statuses}"
