"""Fixtures for the portal tests: the stand-in served by live_server, a tenant pointing at it,
and the contract recorder on for every request our client sends."""
from __future__ import annotations

import pytest

PORTAL_KEY = "pk-7f3a9c1e5b2d4f60"
PORTAL_SECRET = "ps-Qz8xW2nV5mK1rT4y"


@pytest.fixture
def portal_tenant(transactional_db, live_server, make_tenant):
    """A tenant whose portal is the stand-in, with an empty portal tenant of its own."""
    from sandbox.faults import clear_faults
    from sandbox.portal.models import SandboxPortalTenant

    tenant = make_tenant(portal_url=f"{live_server.url}/sandbox/portal", portal_tenant_id="acme-portal",
                         portal_key=PORTAL_KEY, portal_secret=PORTAL_SECRET)
    SandboxPortalTenant.objects.create(tenant_id="acme-portal", key=PORTAL_KEY, secret=PORTAL_SECRET,
                                       name=tenant.name, rfc=tenant.rfc)
    yield tenant
    clear_faults()


@pytest.fixture
def stand_in(portal_tenant):
    from sandbox.portal.models import SandboxPortalTenant

    return SandboxPortalTenant.objects.get(tenant_id=portal_tenant.portal_tenant_id)


@pytest.fixture(autouse=True)
def every_request_on_contract():
    """Whatever reaches the stand-in in these tests is checked; tests breaking the contract on purpose
    do it inside their own `contract.recording()` block."""
    from sandbox.portal import contract

    with contract.recording() as violations:
        yield violations
    assert violations == [], "contract violations:\n" + "\n".join(violations)


@pytest.fixture
def contract_violations():
    """Every request reaching the stand-in, and every answer, checked against focaltec/openapi-subset.json."""
    from sandbox.portal import contract

    with contract.recording() as violations:
        yield violations
        seen = contract.operations_seen()
    assert seen, "no request reached the portal stand-in while the contract was recorded"
    assert violations == [], "contract violations:\n" + "\n".join(violations)


@pytest.fixture
def portal(portal_tenant, contract_violations):
    """A client for the stand-in with short back-off, every request contract-checked."""
    from sync.portal import PortalClient, RetryPolicy

    with PortalClient(portal_tenant, connect_timeout=2, read_timeout=5,
                      retry=RetryPolicy(max_attempts=4, backoff_base=0.01, backoff_cap=0.05)) as client:
        yield client
