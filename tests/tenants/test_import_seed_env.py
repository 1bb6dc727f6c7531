import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tenants.models import Tenant

FOCALTEC = """\
# Two companies, same position = same company
URL=https://api-sandbox.portaldeproveedores.mx
TENANT_ID=samltd,saminc
API_KEY=key-ltd,key-inc
API_SECRET=secret-ltd,secret-inc
DATABASES=SAMLTD,SAMINC
EXTERNAL_IDS=SAM850101AB1,S&M900202CD3
"""
DATABASE = """\
USER=sa
PASSWORD="p@ss,word"
SERVER=sql.example.mx,1433
"""
GENERAL = """\
NOMBRE=Sample Company SA de CV
RFC=SAM850101AB1
DEFAULT_ADDRESS_STREET=Av. Reforma 100  # where goods go
DEFAULT_ADDRESS_CITY=Monterrey
DEFAULT_ADDRESS_STATE=Nuevo León
DEFAULT_ADDRESS_ZIP=64000
DEFAULT_ADDRESS_COUNTRY=MEXICO
ADDRESS_IDENTIFIERS_SKIP=GRAL, MTY
"""


def write_env(folder: Path, focaltec: str = FOCALTEC, database: str = DATABASE, general: str = GENERAL) -> Path:
    for name, text in ((".env.credentials.focaltec", focaltec), (".env.credentials.database", database),
                       (".env", general)):
        if text is not None:
            (folder / name).write_text(text, encoding="utf-8")
    return folder


def run(folder: Path) -> str:
    out = io.StringIO()
    call_command("import_seed_env", str(folder), stdout=out)
    return out.getvalue()


def test_it_creates_one_tenant_per_list_position(db, tmp_path):
    output = run(write_env(tmp_path))
    assert output.count("created") == 2
    ltd, inc = Tenant.objects.get(code="samltd"), Tenant.objects.get(code="saminc")
    assert (ltd.portal_tenant_id, ltd.portal_key, ltd.portal_secret) == ("samltd", "key-ltd", "secret-ltd")
    assert (inc.portal_key, inc.portal_secret, inc.sage_db_name, inc.rfc) == ("key-inc", "secret-inc", "SAMINC",
                                                                              "S&M900202CD3")
    assert (ltd.sage_db_engine, ltd.sage_db_host, ltd.sage_db_port) == ("mssql", "sql.example.mx", 1433)
    assert (ltd.sage_db_user, ltd.sage_db_password) == ("sa", "p@ss,word")
    assert ltd.portal_url == "https://api-sandbox.portaldeproveedores.mx"
    assert (ltd.ship_to_street, ltd.ship_to_state, ltd.ship_to_country) == ("Av. Reforma 100", "Nuevo León", "MEX")
    assert ltd.skip_location_codes == ["GRAL", "MTY"]
    assert ltd.name == "Sample Company SA de CV"


def test_it_updates_instead_of_duplicating_on_a_rerun(db, tmp_path):
    run(write_env(tmp_path))
    write_env(tmp_path, focaltec=FOCALTEC.replace("key-ltd", "key-ltd-2"))
    output = run(tmp_path)
    assert output.count("updated") == 2 and "created" not in output
    assert Tenant.objects.count() == 2
    assert Tenant.objects.get(code="samltd").portal_key == "key-ltd-2"


def test_it_reads_a_named_instance_server(db, tmp_path):
    run(write_env(tmp_path, database="USER=sa\nPASSWORD=x\nSERVER=SQLHOST\\\\SAGE300\n"))
    tenant = Tenant.objects.get(code="samltd")
    assert (tenant.sage_db_host, tenant.sage_db_port) == ("SQLHOST\\SAGE300", None)


def test_it_names_the_lists_of_unequal_length(db, tmp_path):
    write_env(tmp_path, focaltec=FOCALTEC.replace("API_SECRET=secret-ltd,secret-inc", "API_SECRET=secret-ltd"))
    with pytest.raises(CommandError) as caught:
        run(tmp_path)
    message = str(caught.value)
    assert "API_SECRET has 1" in message and "TENANT_ID has 2" in message
    assert ".env.credentials.focaltec" in message
    assert Tenant.objects.count() == 0


def test_it_names_a_missing_file(db, tmp_path):
    write_env(tmp_path, database=None)
    with pytest.raises(CommandError, match=r"\.env\.credentials\.database is missing"):
        run(tmp_path)


def test_it_names_a_missing_variable(db, tmp_path):
    write_env(tmp_path, database="USER=sa\nPASSWORD=x\n")
    with pytest.raises(CommandError, match="does not set SERVER"):
        run(tmp_path)


def test_it_names_the_field_of_an_invalid_value(db, tmp_path):
    write_env(tmp_path, general=GENERAL.replace("RFC=SAM850101AB1", "RFC=NOT-AN-RFC"),
              focaltec=FOCALTEC.replace("EXTERNAL_IDS=SAM850101AB1,S&M900202CD3\n", ""))
    with pytest.raises(CommandError, match="samltd.*rfc: NOT-AN-RFC is not a valid RFC"):
        run(tmp_path)
    assert Tenant.objects.count() == 0
