"""A small sandbox company on SQLite and on PostgreSQL."""
from __future__ import annotations

import datetime as dt
import os

import pytest
from django.db import connections

from sandbox.company import create_sage_tables, write_company
from sandbox.plan import build_plan
from tenants.sage_db import sage_alias
from tests.support import ensure_postgres_database, needs_postgres, sandbox_sage_settings


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=[needs_postgres, pytest.mark.postgres])])
def sandbox_company(request, sage_db_allowed, make_tenant, tmp_path):
    """(tenant, alias, plan): a small sandbox company written to SQLite or PostgreSQL."""
    plan = build_plan(seed=7, vendors=12, pos=21, lines_per_po=3, cfdis=40, payments=12, today=dt.date(2026, 11, 1))
    database = sandbox_sage_settings(tmp_path, "company", engine=request.param)
    if request.param == "postgresql":
        # A database of its own: other suites on this server drop and fill the shared one.
        database["sage_db_name"] = f"sageconnect_sage_company_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
        ensure_postgres_database(database["sage_db_name"])
    tenant = make_tenant(code="sbx", **database)
    alias = sage_alias(tenant)
    create_sage_tables(alias, drop=True)
    write_company(alias, plan)
    yield tenant, alias, plan
    connections[alias].close()
