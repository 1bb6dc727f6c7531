"""A process killed right after Sage accepted an import batch, before we recorded it:
the rerun finds the batch in Sage and imports nothing twice. Real subprocesses."""
from __future__ import annotations

import json
import signal

import pytest

from sandbox.portal.models import SandboxCfdi
from sync.sage.models import APIBC
from tenants.sage_db import sage_alias
from tests.sync.cfdi.world import cfdi_dir, plan, to_import, world  # noqa: F401 (fixtures)
from tests.sync.conftest import SAGE_DB
from tests.sync.processes import Installation
from tests.sync.test_cfdi_import_step import folio_rows

pytestmark = [SAGE_DB, pytest.mark.slow]

TENANT_FIELDS = (
    "rfc", "sage_db_engine", "sage_db_host", "sage_db_port", "sage_db_name", "sage_db_user", "webapi_url",
    "webapi_company", "webapi_user", "webapi_password", "portal_url", "portal_tenant_id", "portal_key",
    "portal_secret", "invoice_distribution_code", "sat_status_url",
)
# What the subprocess runs to hold the portal's CFDIs: the real store_cfdi, fed the stand-in's bytes.
STORE_SCRIPT = """
import json, pathlib
from cfdi.services import store_cfdi
from tenants.models import Tenant
tenant = Tenant.objects.get(code="sagetest")
for item in json.loads(pathlib.Path({listing!r}).read_text()):
    store_cfdi(tenant, pathlib.Path(item["path"]).read_bytes(), item["metadata"])
"""


@pytest.fixture
def installation(world, tmp_path):
    site = Installation(tmp_path / "site")
    site.add_tenant("sagetest", **{name: getattr(world, name) for name in TENANT_FIELDS})
    listing = []
    for cfdi in SandboxCfdi.objects.filter(portal_tenant__tenant_id=world.portal_tenant_id):
        path = tmp_path / f"{cfdi.uuid}.xml"
        path.write_bytes(bytes(cfdi.xml))
        listing.append({"path": str(path), "metadata": {**cfdi.item["metadata"], "uuid": cfdi.uuid,
                                                        "portal_cfdi_id": cfdi.portal_id}})
    (tmp_path / "listing.json").write_text(json.dumps(listing))
    site.manage("shell", "-c", STORE_SCRIPT.format(listing=str(tmp_path / "listing.json")), check=True)
    return site


def imported_rows(site) -> dict[str, tuple]:
    return {uuid: (status, batch, entry) for uuid, status, batch, entry in site.query(
        "SELECT uuid, status, sage_batch, sage_entry FROM cfdi_cfdi")}


def test_it_imports_nothing_twice_after_a_crash_between_sages_answer_and_our_record(world, plan, installation):
    alias = sage_alias(world)
    expected = to_import(plan)
    batches_before = APIBC.objects.using(alias).count()

    installation.env["SAGECONNECT_CRASH_AT"] = "cfdi_import:after_post"
    crashed = installation.manage("cfdi", "import", "--tenant", "sagetest")
    del installation.env["SAGECONNECT_CRASH_AT"]

    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    assert APIBC.objects.using(alias).count() == batches_before + 1  # Sage took the batch
    assert not any(imported_rows(installation)[uuid][0] == "imported" for uuid in expected)

    # The killed holder's process is gone: the next run takes its lease over at once, no waiting.
    rerun = installation.manage("cfdi", "import", "--tenant", "sagetest")

    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert APIBC.objects.using(alias).count() == batches_before + 1  # and nothing more
    folios = folio_rows(world)
    rows = imported_rows(installation)
    for uuid in expected:
        assert rows[uuid] == ("imported", *folios[uuid][0]) and len(folios[uuid]) == 1
    outcomes = installation.query(
        "SELECT r.\"key\", a.outcome FROM sync_outboundattempt a JOIN sync_outbound r ON r.id = a.record_id "
        "WHERE r.kind = 'cfdi_import'")
    ours = sorted((uuid, outcome) for uuid, outcome in outcomes if uuid in expected)
    assert ours == sorted((uuid, "recovered") for uuid in expected)  # found in Sage, not resent
    assert installation.query("SELECT status FROM sync_syncrun ORDER BY id") == [("interrupted",), ("succeeded",)]
