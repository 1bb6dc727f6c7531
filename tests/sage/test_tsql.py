"""Every registered Sage query compiles to T-SQL SQL Server accepts, without a server."""
import datetime as dt
import importlib
import pkgutil
import re

import pytest
from django.db import connections

import sync
from sync.sage.queries import REGISTRY
from tenants.models import Tenant
from tenants.sage_db import register_alias
from tests.support import needs_system

TSQL_ALIAS = "sage_tsql_check"
# mssql-django loads pyodbc, which loads libodbc.so.2, even to compile without a server.
needs_mssql_django = needs_system("unixodbc")


def _import_every_sync_module() -> None:
    """Queries register where they are defined: load every module that may define one."""
    for module in pkgutil.walk_packages(sync.__path__, "sync."):
        if ".migrations" in module.name or ".management" in module.name:
            continue
        importlib.import_module(module.name)


_import_every_sync_module()

TENANT_SHAPES = {
    "defaults": {},
    "site rules": dict(
        vendor_rfc_source="OPTFIELD", vendor_rfc_optfield="RFC", po_types=[1, 2], po_min_date=dt.date(2026, 1, 1),
        po_required_optfield="AUTORIZADA", po_required_value="SI", skip_location_codes=["GRAL"],
    ),
}


@pytest.fixture(scope="module")
def tsql_alias():
    register_alias(TSQL_ALIAS, {
        "ENGINE": "mssql", "NAME": "SAMLTD", "HOST": "127.0.0.1", "PORT": "1", "USER": "sa",
        "PASSWORD": "", "OPTIONS": {"driver": "FreeTDS"},
    })
    # What mssql-django would ask the server; pinned so nothing connects.
    connections[TSQL_ALIAS].__dict__["sql_server_version"] = 2019
    connections[TSQL_ALIAS].__dict__["to_azure_sql_db"] = False
    return TSQL_ALIAS


def _tenant(shape: str) -> Tenant:
    tenant = Tenant(code="tsql", name="T-SQL", rfc="SAM850101AB1", portal_tenant_id="tsql", **TENANT_SHAPES[shape])
    return tenant


def test_it_has_the_queries_the_steps_need():
    assert {"posted_payments", "applied_payment_lines", "invoices_by_folio", "pos_changed_since",
            "vendors_by_rfc"} <= set(REGISTRY)


@needs_mssql_django
@pytest.mark.parametrize("shape", sorted(TENANT_SHAPES))
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_it_compiles_each_sage_query_to_tsql(tsql_alias, name, shape):
    queryset = REGISTRY[name].build(tsql_alias, _tenant(shape))
    sql, params = queryset.query.get_compiler(tsql_alias).as_sql()

    assert not re.search(r"\bLIMIT\b", sql)
    assert '"' not in sql, "names must be [BRACKETED], not double-quoted"
    table = queryset.model._meta.db_table
    assert f"FROM [{table}]" in sql
    assert re.search(r"\[[A-Z0-9]+\]\.\[[A-Z0-9]+\]", sql)
    assert sql.count("%s") == len(params)
    assert "?" not in sql
    query = queryset.query
    if query.high_mark is not None and not query.low_mark:
        assert re.match(rf"SELECT TOP {query.high_mark - query.low_mark} ", sql)
    elif query.low_mark:
        rows = query.high_mark - query.low_mark
        assert re.search(rf"ORDER BY .+\s+OFFSET {query.low_mark} ROWS FETCH FIRST {rows} ROWS ONLY", sql)


@needs_mssql_django
def test_it_pages_with_offset_fetch(tsql_alias):
    queryset = REGISTRY["vendors_page"].function(tsql_alias, _tenant("defaults"), offset=400, limit=200)
    sql, _params = queryset.query.get_compiler(tsql_alias).as_sql()
    assert re.search(r"ORDER BY \[APVEN\]\.\[VENDORID\] ASC\s+OFFSET 400 ROWS FETCH FIRST 200 ROWS ONLY$", sql)
