"""The stand-ins are off unless switched on, and then answer sandbox tenants only, by their own credentials."""
from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from sandbox.plan import build_plan
from tenants.models import Tenant
from tenants.sage_db import SageDatabaseUnavailable, sage_alias
from tests.portal.conftest import contract_violations, portal, portal_tenant, stand_in  # noqa: F401  (fixtures)
from tests.sage_webapi.conftest import alias, webapi_tenant  # noqa: F401  (fixtures)

REPO = Path(__file__).resolve().parents[2]
TODAY = "2026-11-01"


def test_it_keeps_the_stand_ins_off_when_nothing_is_set(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGECONNECT_", "DJANGO_"))}
    env.update(DJANGO_SETTINGS_MODULE="sageconnect.settings", SAGECONNECT_VAR_DIR=str(tmp_path))
    program = (
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "from django.urls import Resolver404, resolve\n"
        "try:\n"
        "    resolve('/sandbox/portal/api/1.0/extern/tenants/demo/providers')\n"
        "    routed = True\n"
        "except Resolver404:\n"
        "    routed = False\n"
        "print(settings.SANDBOX_ENABLED, routed)\n"
    )
    result = subprocess.run([sys.executable, "-c", program], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


# --- Sage 300 Web API stand-in -------------------------------------------------

def _sage_get(tenant, company: str, password: str | None = None) -> requests.Response:
    url = f"{tenant.webapi_url}/Sage300WebApi/v1.0/-/{company}/AP/APVendors"
    return requests.get(url, auth=(tenant.webapi_user, password or tenant.webapi_password), timeout=10)


@pytest.mark.django_db(transaction=True)
def test_it_serves_a_sandbox_tenant_its_own_company(webapi_tenant, alias):
    assert _sage_get(webapi_tenant, "ACME").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_it_refuses_a_tenant_that_is_not_a_sandbox_tenant_even_with_its_password(webapi_tenant, alias):
    Tenant.objects.filter(pk=webapi_tenant.pk).update(sandbox=False)
    response = _sage_get(webapi_tenant, "ACME")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "Unauthorized"


@pytest.mark.django_db(transaction=True)
def test_it_answers_an_unknown_company_exactly_like_a_wrong_password(webapi_tenant, alias):
    unknown = _sage_get(webapi_tenant, "NOSUCHCO")
    wrong = _sage_get(webapi_tenant, "ACME", password="not-the-password")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.content == wrong.content
    assert webapi_tenant.name.split()[0] not in wrong.text and "ACME" not in wrong.text


# --- portal stand-in -----------------------------------------------------------

def _portal_get(tenant, tenant_id: str, secret: str) -> requests.Response:
    url = f"{tenant.portal_url}/api/1.0/extern/tenants/{tenant_id}/providers"
    return requests.get(url, headers={"PDPTenantKey": tenant.portal_key, "PDPTenantSecret": secret}, timeout=10)


@pytest.mark.django_db(transaction=True)
def test_it_counts_nothing_for_a_refused_portal_call(portal_tenant, stand_in):
    refused = _portal_get(portal_tenant, "acme-portal", "wrong-secret")
    stand_in.refresh_from_db()
    assert refused.status_code == 401
    assert (stand_in.reads, stand_in.writes) == (0, 0)

    assert _portal_get(portal_tenant, "acme-portal", portal_tenant.portal_secret).status_code == 200
    stand_in.refresh_from_db()
    assert (stand_in.reads, stand_in.writes) == (1, 0)


@pytest.mark.django_db(transaction=True)
def test_it_counts_a_refused_write_too(portal, stand_in):
    from sandbox.portal.models import SandboxPurchaseOrder
    from sync.portal import PortalConflictError
    from tests.portal.factories import add_providers, purchase_order

    add_providers(stand_in, 1)
    portal.create_purchase_order(purchase_order("PO000001"))
    with pytest.raises(PortalConflictError):
        portal.create_purchase_order(purchase_order("PO000001", total=Decimal("9.99")))

    stand_in.refresh_from_db()
    # The count shares the write's transaction; the refusal rolls back the write's own work, not the count.
    assert (stand_in.reads, stand_in.writes) == (0, 2)
    assert [order.request["total"] for order in SandboxPurchaseOrder.objects.all()] == [1160.0]


@pytest.mark.django_db(transaction=True)
def test_with_its_records_off_the_portal_counts_no_call(portal, stand_in, settings):
    from sync.portal import PortalPermanentError
    from tests.portal.factories import payment

    settings.SANDBOX_RECORD_REQUESTS = False
    assert list(portal.iter_providers()) == []
    with pytest.raises(PortalPermanentError):
        portal.create_payment(payment("PY0000001", ("0B8A8D1E-0000-4000-8000-000000000001", Decimal("10.00"))))

    stand_in.refresh_from_db()
    assert (stand_in.reads, stand_in.writes) == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_a_portal_read_does_not_wait_for_another_writer_of_the_database(portal_tenant, stand_in, settings):
    from django.db import connection

    if connection.vendor != "sqlite":
        # The lock a read used to take is SQLite's (every transaction there is BEGIN IMMEDIATE); on PostgreSQL
        # a transaction that only reads waits for no writer, so old and new code would both pass here.
        pytest.skip("SQLite only: on PostgreSQL a read transaction never waits for a writer's lock, so there "
                    "is no wait to show")
    settings.SANDBOX_RECORD_REQUESTS = False  # the count is a write: it would wait, rightly
    writer = sqlite3.connect(connection.settings_dict["NAME"], timeout=0)
    try:
        writer.execute("BEGIN IMMEDIATE")  # as a worker's write transaction holds it
        # The stand-in waits up to 30 s for a lock it needed; the answer must come well before.
        answer = requests.get(f"{portal_tenant.portal_url}/api/1.0/extern/tenants/acme-portal/providers",
                              headers={"PDPTenantKey": portal_tenant.portal_key,
                                       "PDPTenantSecret": portal_tenant.portal_secret}, timeout=5)
    finally:
        writer.rollback()
        writer.close()
    assert answer.status_code == 200 and answer.json()["total"] == 0


@pytest.mark.django_db(transaction=True)
def test_it_answers_an_unknown_portal_tenant_exactly_like_a_wrong_secret(portal_tenant, stand_in):
    unknown = _portal_get(portal_tenant, "no-such-tenant", portal_tenant.portal_secret)
    wrong = _portal_get(portal_tenant, "acme-portal", "wrong-secret")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.content == wrong.content
    assert stand_in.name not in wrong.text


@pytest.mark.django_db(transaction=True)
def test_it_refuses_the_portal_of_a_tenant_that_is_not_a_sandbox_tenant(portal_tenant, stand_in):
    Tenant.objects.filter(pk=portal_tenant.pk).update(sandbox=False)
    assert _portal_get(portal_tenant, "acme-portal", portal_tenant.portal_secret).status_code == 401
    stand_in.refresh_from_db()
    assert stand_in.reads == 0


@pytest.mark.django_db
def test_it_seeds_no_portal_state_for_a_tenant_that_is_not_a_sandbox_tenant(make_tenant):
    from sandbox.portal.models import SandboxPortalTenant
    from sandbox.portal.seed import SeedError, seed_portal

    tenant = make_tenant(sandbox=False, sage_db_engine="mssql", sage_db_host="sql.example.mx", sage_db_name="SAMLTD")
    with pytest.raises(SeedError, match="is not a sandbox tenant"):
        seed_portal(tenant, build_plan(seed=1, vendors=2, pos=1, cfdis=1, payments=0))
    assert not SandboxPortalTenant.objects.exists()


# --- `manage.py sandbox company` ---------------------------------------------------

@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


def _company(code: str) -> Tenant:
    call_command("sandbox", "company", "--tenant", code, "--vendors", "3", "--pos", "2", "--cfdis", "2",
                 "--payments", "1", "--today", TODAY, stdout=io.StringIO())
    return Tenant.objects.get(code=code)


def test_it_generates_credentials_for_each_sandbox_tenant(sage_db_allowed, var_dir):
    from sandbox.management.commands.sandbox import wire_sandbox_tenant

    first = _company("demo")
    again = _company("demo")
    # A second company from the same plan would repeat the portal's provider ids: wire it only.
    second = wire_sandbox_tenant("otro", build_plan(seed=1, vendors=1, pos=0, cfdis=0, payments=0), engine="sqlite")
    assert first.sandbox and second.sandbox
    secrets_of = [(t.portal_key, t.portal_secret, t.webapi_password) for t in (first, second, again)]
    every = [value for triple in secrets_of for value in triple]
    assert len(set(every)) == len(every), "a credential repeats across tenants or rebuilds"
    assert all(len(value) >= 24 for value in every)
    source = (REPO / "sandbox" / "management" / "commands" / "sandbox.py").read_text()
    assert not any(value in source for value in every)


def test_it_never_turns_a_real_tenant_into_a_sandbox_one(sage_db_allowed, var_dir, make_tenant):
    real = make_tenant(code="samltd", sandbox=False, sage_db_engine="mssql", sage_db_host="sql.example.mx",
                       sage_db_name="SAMLTD")
    with pytest.raises(CommandError, match="exists and is not a sandbox tenant"):
        _company("samltd")
    real.refresh_from_db()
    assert (real.sage_db_engine, real.portal_key, real.sandbox) == ("mssql", "portal-key-123", False)


def test_it_builds_no_sandbox_company_while_the_sandbox_is_off(settings, db, var_dir):
    settings.SANDBOX_ENABLED = False
    with pytest.raises(CommandError, match="SAGECONNECT_SANDBOX=true"):
        _company("demo")
    assert not Tenant.objects.filter(code="demo").exists()


# --- SQLite is for the sandbox only ------------------------------------------------

def test_it_refuses_sqlite_for_a_tenant_that_is_not_a_sandbox_tenant(make_tenant, tmp_path):
    with pytest.raises(ValidationError) as refused:
        make_tenant(sandbox=False, sage_db_engine="sqlite", sage_db_name=str(tmp_path / "etc-passwd.db"))
    assert "SQLite is only for sandbox tenants" in str(refused.value.message_dict["sage_db_engine"])


def test_it_opens_no_sqlite_file_for_a_row_written_around_the_form(db, tmp_path):
    target = tmp_path / "elsewhere.db"
    tenant = Tenant.objects.create(code="around", name="x", rfc="AIN8001011A1", portal_tenant_id="around",
                                   sage_db_engine="sqlite", sage_db_name=str(target))
    with pytest.raises(SageDatabaseUnavailable, match="SQLite is only for sandbox tenants"):
        sage_alias(tenant)
    assert not target.exists()
