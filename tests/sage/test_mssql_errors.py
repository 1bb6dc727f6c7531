"""A tenant whose SQL Server cannot be reached gets one sentence, never a traceback,
with pyodbc (FreeTDS, Microsoft's ODBC driver) and with Microsoft's mssql-python alike."""
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.db import connections

from tenants.models import Tenant
from tenants.sage_db import SageDatabaseUnavailable, sage_alias
from tests.support import needs_system

REPO = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _mssql_tenant(**overrides) -> Tenant:
    values = dict(code="mx01", name="Sage en SQL Server", rfc="SAM850101AB1", sage_db_engine="mssql",
                  sage_db_host="127.0.0.1", sage_db_port=_closed_port(), sage_db_name="SAMLTD",
                  sage_db_user="sa", sage_db_password="not-shown-1", sage_db_driver="FreeTDS",
                  sage_db_python_driver="pyodbc", portal_tenant_id="mx01")
    values.update(overrides)
    return Tenant(**values)


def _sentence(tenant: Tenant) -> str:
    with pytest.raises(SageDatabaseUnavailable) as caught:
        sage_alias(tenant)
    text = str(caught.value)
    assert "\n" not in text and "Traceback" not in text
    assert "not-shown-1" not in text
    return text


@needs_system("unixodbc", "tdsodbc")
def test_it_explains_a_closed_port_with_the_freetds_driver(sage_db_allowed):
    tenant = _mssql_tenant()
    text = _sentence(tenant)
    assert text.startswith("Tenant mx01:")
    assert f"127.0.0.1:{tenant.sage_db_port}" in text and "SAMLTD" in text
    assert "did not answer" in text and "TCP/IP" in text and "firewall" in text


@needs_system("unixodbc")
def test_it_explains_a_driver_that_is_not_installed(sage_db_allowed):
    tenant = _mssql_tenant(code="mx02", sage_db_driver="ODBC Driver 18 for SQL Server")
    text = _sentence(tenant)
    assert text.startswith("Tenant mx02:") and "127.0.0.1" in text
    assert "'ODBC Driver 18 for SQL Server' is not installed" in text
    assert "msodbcsql18" in text and "tdsodbc" in text


@needs_system("unixodbc", "libgssapi-krb5-2")
def test_it_explains_a_closed_port_with_the_mssql_python_driver(sage_db_allowed):
    tenant = _mssql_tenant(code="mx04", sage_db_python_driver="mssql_python", sage_db_driver="")
    assert connections.databases[sage_alias(tenant, connect=False)]["OPTIONS"]["python_driver"] == "mssql_python"
    text = _sentence(tenant)
    assert text.startswith("Tenant mx04:")
    assert f"127.0.0.1:{tenant.sage_db_port}" in text and "SAMLTD" in text
    assert "did not answer" in text and "TCP/IP" in text and "firewall" in text


def test_it_makes_mssql_python_the_driver_of_new_tenants():
    assert Tenant().sage_db_python_driver == "mssql_python"


PRELUDE = """
import sys

class NoLibodbc:
    # Behaves as pyodbc does on a machine without unixODBC.
    def find_spec(self, name, path=None, target=None):
        if name == "pyodbc":
            raise ImportError("libodbc.so.2: cannot open shared object file: No such file or directory")
        return None

sys.meta_path.insert(0, NoLibodbc())
"""

PROGRAM = """
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sageconnect.test_settings")
import django
django.setup()
from tenants.models import Tenant
from tenants.sage_db import SageDatabaseUnavailable, sage_alias
tenant = Tenant(code="mx03", name="x", rfc="SAM850101AB1", sage_db_engine="mssql", sage_db_host="sql.example.mx",
                sage_db_port=1433, sage_db_name="SAMLTD", sage_db_user="sa", sage_db_driver="FreeTDS")
try:
    sage_alias(tenant)
except SageDatabaseUnavailable as exc:
    print(exc)
"""


NO_MSSQL_PYTHON = """
import sys

class NoMssqlPython:
    # Behaves as a Python environment without the mssql-python wheel.
    def find_spec(self, name, path=None, target=None):
        if name == "mssql_python":
            raise ImportError("No module named 'mssql_python'")
        return None

sys.meta_path.insert(0, NoMssqlPython())
"""

MSSQL_PYTHON_PROGRAM = """
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sageconnect.test_settings")
import django
django.setup()
from django.db import connections
from tenants.models import Tenant
from tenants.sage_db import SageDatabaseUnavailable, sage_alias
tenant = Tenant(code="mx05", name="x", rfc="SAM850101AB1", sage_db_engine="mssql", sage_db_host="sql.example.mx",
                sage_db_port=1433, sage_db_name="SAMLTD", sage_db_user="sa", sage_db_python_driver="mssql_python")
try:
    sage_alias(tenant)
except SageDatabaseUnavailable as exc:
    print(exc)
# Nothing is left behind to break the next walk over every connection.
print(sorted(alias for alias in connections.databases if alias.startswith("sage_")))
for connection in connections.all():
    pass
"""


@needs_system("unixodbc")
def test_it_explains_a_missing_mssql_python_driver_and_leaves_no_broken_alias(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(NO_MSSQL_PYTHON) + textwrap.dedent(MSSQL_PYTHON_PROGRAM)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    sentence, aliases = result.stdout.strip().splitlines()
    assert sentence.startswith("Tenant mx05:") and "sql.example.mx:1433" in sentence
    assert "mssql-python" in sentence and "pip install -r requirements.txt" in sentence and "pyodbc" in sentence
    assert aliases == "[]"


def test_it_explains_a_missing_libodbc(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PRELUDE) + textwrap.dedent(PROGRAM)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    text = result.stdout.strip()
    assert text.startswith("Tenant mx03:") and "sql.example.mx:1433" in text
    assert "libodbc.so.2" in text and "apt-get install unixodbc" in text
