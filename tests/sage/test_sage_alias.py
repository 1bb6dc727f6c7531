import pytest
from django.db import connections

from tenants.sage_db import alias_for, sage_alias
from tests.support import needs_postgres, sandbox_sage_settings


def _answers(alias: str) -> bool:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone()[0] == 1


def test_it_gives_a_connected_alias_for_a_sqlite_sandbox(sage_db_allowed, make_tenant, tmp_path):
    tenant = make_tenant(**sandbox_sage_settings(tmp_path, "alias", engine="sqlite"))
    alias = sage_alias(tenant)
    assert alias == alias_for("acme")
    assert connections[alias].vendor == "sqlite"
    assert connections[alias].settings_dict["NAME"] == tenant.sage_db_name
    assert _answers(alias)


def test_it_remakes_the_alias_when_the_tenant_settings_change(sage_db_allowed, make_tenant, tmp_path):
    tenant = make_tenant(**sandbox_sage_settings(tmp_path, "first", engine="sqlite"))
    alias = sage_alias(tenant)
    tenant.sage_db_name = str(tmp_path / "second.sqlite3")
    tenant.save()
    assert sage_alias(tenant) == alias
    assert connections[alias].settings_dict["NAME"] == tenant.sage_db_name
    assert _answers(alias)
    assert (tmp_path / "second.sqlite3").exists()


@needs_postgres
@pytest.mark.postgres
def test_it_gives_a_connected_alias_for_a_postgresql_sandbox(sage_db_allowed, make_tenant, tmp_path):
    tenant = make_tenant(**sandbox_sage_settings(tmp_path, "alias", engine="postgresql"))
    alias = sage_alias(tenant)
    assert connections[alias].vendor == "postgresql"
    assert connections[alias].settings_dict["NAME"] == tenant.sage_db_name
    assert _answers(alias)
    connections[alias].close()
