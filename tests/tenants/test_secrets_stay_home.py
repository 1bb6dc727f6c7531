"""A stored secret never leaves for a host it was not entered for.

The portal client follows no redirect; an admin who changes where a secret is
sent clears it (tested with an admin who is not a superuser); "Test connections"
is for superusers and repeats nothing the remote server said; Web API keys stay
one key; an ftp:// URL is refused by the form, not crashed on.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages
from django.urls import reverse

from sync.portal import PortalClient, RetryPolicy
from sync.portal.errors import PortalError
from sync.sage.webapi import SageWebApi, WebApiPermanentError, key_segment
from tenants.models import SECRET_FIELDS, Tenant
from tests.tenants.test_admin_secrets import PLAIN, _post_data

PASSWORD = "a-Long-pass-4-tests"
LEAK = "INTERNAL-PAGE-7c1d"  # what a server behind a tenant's URL says; never shown


class Server:
    """A real HTTP server on loopback answering every request with one canned answer, recording what came."""

    def __init__(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.requests: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                owner.requests.append({"path": self.path, "headers": dict(self.headers)})
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value.replace("{self}", owner.url))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers():
    made: list[Server] = []

    def make(*args, **kwargs) -> Server:
        made.append(Server(*args, **kwargs))
        return made[-1]

    yield make
    for server in made:
        server.close()


# --- the portal client follows no redirect ----------------------------------------------

def test_it_never_follows_a_portal_redirect_with_the_tenants_credentials(make_tenant, servers):
    elsewhere = servers(200, b'{"total": 0, "items": []}', {"Content-Type": "application/json"})
    portal = servers(302, b"", {"Location": f"{elsewhere.url}/steal?token=abc"})
    tenant = make_tenant(portal_url=portal.url)

    with PortalClient(tenant, retry=RetryPolicy(max_attempts=3, backoff_base=0.001)) as client:
        with pytest.raises(PortalError) as raised:
            list(client.iter_providers())

    assert elsewhere.requests == [], "the redirect was followed"
    assert len(portal.requests) == 1, "a redirect is not retried"
    message = str(raised.value)
    assert "redirect (HTTP 302)" in message and f"{elsewhere.url}/steal" in message
    assert "token=abc" not in message and tenant.portal_secret not in message


# --- a changed destination clears the secrets that went there ---------------------------------

@pytest.fixture
def group_admin_client(client, db):
    """A SageConnect admin by group membership: neither a superuser nor is_staff."""
    user = User.objects.create_user("jefa", "jefa@example.com", PASSWORD)
    user.groups.add(Group.objects.get_or_create(name="SageConnect admins")[0])
    client.force_login(user)
    return client


def _save(client, tenant: Tenant, **changes):
    url = reverse("admin:tenants_tenant_change", args=[tenant.pk])
    response = client.post(url, _post_data(client, tenant, **changes))
    assert response.status_code == 302, response.context["adminform"].form.errors
    tenant.refresh_from_db()
    return [message.message for message in get_messages(response.wsgi_request)]


def _secrets(tenant: Tenant) -> dict:
    return {name: getattr(tenant, name) for name in SECRET_FIELDS}


def test_it_clears_the_portal_secrets_when_the_portal_host_changes(group_admin_client, make_tenant):
    tenant = make_tenant(**PLAIN)
    messages = _save(group_admin_client, tenant, portal_url="https://evil.example.com/api")
    assert _secrets(tenant) == {**PLAIN, "portal_key": "", "portal_secret": ""}
    assert any("portal key (PDPTenantKey), portal secret (PDPTenantSecret)" in m and "cleared" in m
               for m in messages), messages


def test_it_clears_the_web_api_password_when_the_web_api_host_changes(group_admin_client, make_tenant):
    tenant = make_tenant(**PLAIN, webapi_url="https://sage.example.mx")
    _save(group_admin_client, tenant, webapi_url="http://sage.example.mx")  # a scheme change counts too
    assert _secrets(tenant) == {**PLAIN, "webapi_password": ""}


@pytest.mark.parametrize("changes", [
    {"sage_db_host": "other-sql.example.mx"},
    {"sage_db_port": "14330"},
    {"sage_db_extra_params": "Server=other-sql.example.mx"},
], ids=["host", "port", "server in the extra parameters"])
def test_it_clears_the_database_password_when_the_database_server_changes(group_admin_client, make_tenant, changes):
    tenant = make_tenant(**PLAIN, sandbox=False, sage_db_engine="mssql", sage_db_host="sql.example.mx",
                         sage_db_port=1433, sage_db_name="SAMLTD")
    _save(group_admin_client, tenant, **changes)
    assert _secrets(tenant) == {**PLAIN, "sage_db_password": ""}


def test_it_keeps_a_secret_typed_with_the_new_host(group_admin_client, make_tenant):
    tenant = make_tenant(**PLAIN)
    _save(group_admin_client, tenant, portal_url="https://api-sandbox.portaldeproveedores.mx",
          portal_key="new-key", portal_secret="new-secret")
    assert (tenant.portal_key, tenant.portal_secret) == ("new-key", "new-secret")


def test_it_keeps_the_secrets_when_only_the_path_or_other_fields_change(group_admin_client, make_tenant):
    tenant = make_tenant(**PLAIN, webapi_url="https://sage.example.mx")
    messages = _save(group_admin_client, tenant, webapi_url="https://SAGE.example.mx:443/sage", name="Otro nombre",
                     sage_db_extra_params="TrustServerCertificate=yes")
    assert _secrets(tenant) == PLAIN
    assert not any("cleared" in m for m in messages)


# --- the form refuses what would break a client ---------------------------------------------

@pytest.mark.parametrize("field", ["portal_url", "webapi_url"])
def test_it_refuses_a_url_that_is_not_http_or_https(group_admin_client, make_tenant, settings, field):
    settings.DEBUG = True  # no error page may show the tenant's credentials either
    tenant = make_tenant(**PLAIN)
    url = reverse("admin:tenants_tenant_change", args=[tenant.pk])
    response = group_admin_client.post(url, _post_data(group_admin_client, tenant, **{field: "ftp://files.example.com/"}))
    assert response.status_code == 200
    assert "Enter an http:// or https:// address" in str(response.context["adminform"].form.errors[field])
    html = response.content.decode()
    assert not any(value in html for value in PLAIN.values())


def test_it_refuses_a_time_zone_that_is_not_a_real_one(group_admin_client, make_tenant):
    tenant = make_tenant()
    url = reverse("admin:tenants_tenant_change", args=[tenant.pk])
    response = group_admin_client.post(url, _post_data(group_admin_client, tenant, time_zone="America/Mexico_Cty"))
    assert response.status_code == 200 and "time_zone" in response.context["adminform"].form.errors
    assert '<option value="America/Tijuana">' in response.content.decode()  # a list to pick from


# --- Test connections ---------------------------------------------------------------------

def _test_connections(client, tenant: Tenant):
    response = client.post("/admin/tenants/tenant/", {"action": "test_connections", "_selected_action": [tenant.pk]})
    return response, [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def test_it_lets_only_superusers_test_connections(group_admin_client, make_tenant, servers):
    listening = servers(200, b"{}")
    tenant = make_tenant(portal_url=listening.url, webapi_url=listening.url)
    _test_connections(group_admin_client, tenant)
    assert listening.requests == [], "a non-superuser made this server connect where the tenant points"


@pytest.mark.django_db(transaction=True)
def test_it_repeats_nothing_the_remote_server_said(admin_client, make_tenant, servers, sage_db_allowed):
    body = json.dumps({"code": LEAK, "description": LEAK, "error": {"code": LEAK, "message": LEAK}}).encode()
    answering = servers(404, body, {"Content-Type": "application/json"})
    refusing = servers(401, body, {"Content-Type": "application/json"})
    tenant = make_tenant(portal_url=answering.url, webapi_url=refusing.url)

    response, lines = _test_connections(admin_client, tenant)

    assert response.status_code == 302
    assert answering.requests and refusing.requests
    assert [level for level, _ in lines][1:] == ["error", "error"]
    assert "refused the credentials (HTTP 401)" in lines[1][1]
    assert "answered HTTP 404" in lines[2][1]
    assert not any(LEAK in line for _, line in lines)


@pytest.mark.django_db(transaction=True)
def test_it_reports_an_ftp_url_stored_around_the_form_without_an_error_page(client, make_tenant, settings,
                                                                          sage_db_allowed):
    settings.DEBUG = True
    client.raise_request_exception = False
    client.force_login(User.objects.create_superuser("root", "root@example.com", PASSWORD))
    tenant = make_tenant(**PLAIN)
    Tenant.objects.filter(pk=tenant.pk).update(portal_url="ftp://files.example.com/")

    response, lines = _test_connections(client, tenant)

    assert response.status_code == 302
    assert "cannot be used" in lines[2][1] and "portal base URL" in lines[2][1]
    assert not any(secret in line for _, line in lines for secret in PLAIN.values())


# --- Web API keys stay one key --------------------------------------------------------------

def test_it_percent_encodes_a_key_inside_its_quotes():
    assert key_segment("O'X/../APInvoiceBatches?#") == "('O%27%27X%2F..%2FAPInvoiceBatches%3F%23')"
    assert key_segment({"BatchType": "PY", "BatchNumber": 65}) == "(BatchType='PY',BatchNumber=65)"
    assert key_segment(58) == "(58)"


@pytest.mark.django_db(transaction=True)
def test_it_cannot_reach_another_resource_through_a_key(sage_tenant, live_server):
    sage_tenant.webapi_url = f"{live_server.url}/sandbox/sage"
    sage_tenant.save()
    requests_seen = []
    with SageWebApi(sage_tenant, retries=0) as client:
        for key in ("1200')/../APInvoiceBatches('1", "x/../../OTHERCO/AP/APVendors('1200"):
            with pytest.raises(WebApiPermanentError) as raised:
                client.vendor(key) or pytest.fail(f"{key!r} found a vendor")
            requests_seen.append(client.snapshot()["url"])
            assert raised.value.status == 404
    assert all("%2F" in url and "/../" not in url for url in requests_seen)


@pytest.mark.django_db(transaction=True)
def test_it_finds_a_vendor_whose_number_holds_a_quote(sage_tenant, live_server):
    from sync.sage.models import APVEN
    from tenants.sage_db import sage_alias

    APVEN.objects.using(sage_alias(sage_tenant)).create(
        VENDORID="O'NEIL", VENDNAME="O'Neil SA", SHORTNAME="ONEIL", IDGRP="NAC", SWACTV=1, CURNCODE="MXP",
        AUDTDATE=20260101, AUDTTIME=0, AUDTUSER="ADMIN", AUDTORG="SAMLTD")
    sage_tenant.webapi_url = f"{live_server.url}/sandbox/sage"
    sage_tenant.save()
    with SageWebApi(sage_tenant, retries=0) as client:
        assert client.vendor("O'NEIL").VendorName == "O'Neil SA"
