"""The tenant admin's "test connections" action, against the stand-ins over real HTTP."""
from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from tests.ui.conftest import SAGE_ALIAS

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", SAGE_ALIAS])

PORTAL_KEY, PORTAL_SECRET = "pk-ui-7f3a9c1e5b", "ps-ui-Qz8xW2nV5m"


@pytest.fixture
def connected_tenant(sage_test_alias, sage_tenant, live_server):
    from sandbox.portal.models import SandboxPortalTenant

    sage_tenant.webapi_url = f"{live_server.url}/sandbox/sage"
    sage_tenant.portal_url = f"{live_server.url}/sandbox/portal"
    sage_tenant.portal_tenant_id = "ui-portal"
    sage_tenant.portal_key, sage_tenant.portal_secret = PORTAL_KEY, PORTAL_SECRET
    sage_tenant.save()
    SandboxPortalTenant.objects.create(tenant_id="ui-portal", key=PORTAL_KEY, secret=PORTAL_SECRET,
                                       name=sage_tenant.name, rfc=sage_tenant.rfc)
    return sage_tenant


def _test_connections(admin_client, *tenants) -> list[tuple[str, str]]:
    response = admin_client.post("/admin/tenants/tenant/", {
        "action": "test_connections", "_selected_action": [t.pk for t in tenants]})
    assert response.status_code == 302
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def test_it_reports_three_working_connections_in_one_line_each(admin_client, connected_tenant):
    lines = _test_connections(admin_client, connected_tenant)
    assert lines == [
        ("success", "sagetest — Sage database: connected."),
        ("success", "sagetest — Sage Web API: answered and accepted the credentials."),
        ("success", "sagetest — portal: answered and accepted the credentials."),
    ]


def test_it_says_why_each_api_refuses_without_showing_a_secret(admin_client, connected_tenant):
    from sandbox.faults import clear_faults, set_faults

    # The Web API stand-in checks the password against this same tenant: make it fail instead.
    set_faults("sage:ACME", error_rate=1.0, error_statuses=[503])
    connected_tenant.portal_secret = "wrong-portal-secret"
    connected_tenant.save()

    try:
        levels, messages = zip(*_test_connections(admin_client, connected_tenant))
    finally:
        clear_faults()

    assert levels == ("success", "error", "error"), messages
    assert messages[1].startswith("sagetest — Sage Web API: ") and "503" in messages[1], messages[1]
    assert messages[2].startswith("sagetest — portal: ") and "401" in messages[2]
    for message in messages:
        assert "wrong-portal-secret" not in message and "admin-secret" not in message


def test_it_names_the_sage_database_file_it_cannot_open(admin_client, make_tenant, sage_db_allowed, tmp_path):
    broken = make_tenant(code="broken", sage_db_engine="sqlite", sage_db_name=str(tmp_path / "no-such-dir" / "s.db"))
    level, message = _test_connections(admin_client, broken)[0]
    assert level == "error"
    assert message.startswith("broken — Sage database: Tenant broken: cannot open the sandbox Sage database file")
    assert "no-such-dir" in message


def test_it_reports_a_server_that_does_not_answer(admin_client, make_tenant, sage_db_allowed):
    dead = make_tenant(code="dead", webapi_url="http://127.0.0.1:9/", portal_url="http://127.0.0.1:9/")
    lines = _test_connections(admin_client, dead)
    assert [level for level, _ in lines][1:] == ["error", "error"]
    assert "127.0.0.1:9" in lines[1][1] and "127.0.0.1:9" in lines[2][1]
