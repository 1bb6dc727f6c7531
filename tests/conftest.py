"""Shared fixtures: tenants wired to a real sandbox Sage database.

The sandbox Sage database is SQLite (a file in tmp) unless
SAGECONNECT_TEST_SAGE_ENGINE=postgresql, when it is a database on the local
PostgreSQL server (127.0.0.1:5432, user postgres) — CI runs the suite both ways.
"""
from __future__ import annotations

import os

import pytest
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test.testcases import _DatabaseFailure

from tenants.routers import SAGE_ALIAS_PREFIX

from tests.support import postgres_available, sandbox_sage_settings


GUARDED_METHODS = ("connect", "temporary_connection", "cursor", "chunked_cursor")


@pytest.fixture
def sage_db_allowed(db, django_db_blocker, monkeypatch):
    guarded = BaseDatabaseWrapper.ensure_connection
    # Django's own method, as pytest-django saved it before blocking it.
    real_ensure_connection = django_db_blocker._real_ensure_connection

    def ensure_connection(self, *args, **kwargs):
        if self.alias.startswith(SAGE_ALIAS_PREFIX):
            return real_ensure_connection(self, *args, **kwargs)
        return guarded(self, *args, **kwargs)

    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", ensure_connection)
    # Aliases left by earlier tests had their methods wrapped when this test began.
    for alias in list(connections):
        if not alias.startswith(SAGE_ALIAS_PREFIX):
            continue
        connection = connections[alias]
        for name in GUARDED_METHODS:
            method = getattr(connection, name)
            # Wrapped once per test that began while the alias existed.
            while isinstance(method, _DatabaseFailure):
                method = method.wrapped
            monkeypatch.setattr(connection, name, method)
    yield


@pytest.fixture
def make_tenant(db):
    from tenants.models import Tenant

    def make(**overrides) -> Tenant:
        values = dict(
            code="acme",
            name="ACME Industrial SA de CV",
            # The tests' tenants talk to the stand-ins, which serve sandbox tenants only.
            sandbox=True,
            rfc="AIN8001011A1",
            sage_db_engine="sqlite",
            sage_db_name=":memory:",
            webapi_url="http://127.0.0.1:9/",
            webapi_company="ACME",
            webapi_user="ADMIN",
            webapi_password="admin-secret",
            portal_url="http://127.0.0.1:9/",
            portal_tenant_id="acme",
            portal_key="portal-key-123",
            portal_secret="portal-secret-456",
        )
        values.update(overrides)
        tenant = Tenant(**values)
        tenant.full_clean()
        tenant.save()
        return tenant

    return make


@pytest.fixture
def sage_tenant(sage_db_allowed, make_tenant, tmp_path, request):
    """A tenant whose Sage database is an empty sandbox company (tables only)."""
    from sandbox.company import create_sage_tables
    from tenants.sage_db import sage_alias

    settings_ = sandbox_sage_settings(tmp_path, request.node.name)
    tenant = make_tenant(code="sagetest", **settings_)
    alias = sage_alias(tenant)
    create_sage_tables(alias, drop=True)
    yield tenant
    connections[alias].close()


def pytest_report_header(config):
    engine = os.environ.get("SAGECONNECT_TEST_SAGE_ENGINE", "sqlite")
    return [f"sandbox Sage database: {engine}; PostgreSQL reachable: {postgres_available()}"]
