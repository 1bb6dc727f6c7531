"""Addenda in the pipeline: for a tenant with addenda on, every downloaded invoice gets its copy with
our AddendaEmisor (PO, provider, bank), the original untouched, the copy served from the CFDI page;
the import reads the PO the original's own Addenda named from what was parsed at download."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from django.contrib.auth.models import User
from lxml import etree

from cfdi import storage
from cfdi.addenda import AddendaData, addenda_name, verify_signed_part, with_addenda
from cfdi.models import Cfdi
from cfdi.services import store_cfdi
from sandbox.portal.models import SandboxCfdi, SandboxPortalTenant, SandboxProvider
from sync.cfdi_import import VendorFacts, build_invoice
from tests.sync.cfdi.world import cfdi_dir, plan, run_step, world  # noqa: F401 (fixtures)
from tests.sync.conftest import SAGE_DB

pytestmark = SAGE_DB
ROOT = Path(__file__).resolve().parents[2]


def addenda_on(tenant) -> None:
    tenant.addenda_required = True
    tenant.save()


def copy_of(cfdi: Cfdi) -> bytes:
    return Path(storage.cfdi_storage().path(addenda_name(cfdi.sha256))).read_bytes()


def emisor(xml: bytes) -> dict[str, dict[str, str]]:
    root = etree.fromstring(xml)
    found = root.find(".//{*}Addenda/AddendaEmisor")
    return {child.tag: dict(child.attrib) for child in found}


def test_every_downloaded_invoice_gets_its_copy_and_the_original_stays(world, plan):
    addenda_on(world)

    step = run_step(world, "cfdi_download")

    assert step.failed_count == 0, step.log
    served = {row.uuid: bytes(row.xml) for row in SandboxCfdi.objects.all()}
    accounts = {p.portal_id: p.data.get("bank_accounts") for p in SandboxProvider.objects.all()}
    invoices = Cfdi.objects.filter(tenant=world, kind__in=("I", "E"))
    assert invoices.count() == sum(1 for c in plan.cfdis if c.kind in "IE") > 0
    for cfdi in invoices:
        original = storage.read_original(cfdi.sha256)
        assert original == served[cfdi.uuid] and storage.sha256_hex(original) == cfdi.sha256
        copy = copy_of(cfdi)
        verify_signed_part(original, copy)
        fields = emisor(copy)
        assert fields["Proveedor"] == {"Numero": cfdi.portal_metadata.get("provider_external_id", ""),
                                       "Nombre": cfdi.issuer_name, "Rfc": cfdi.issuer_rfc}
        planned = next(c for c in plan.cfdis if c.uuid == cfdi.uuid)
        assert fields.get("OrdenCompra") == ({"Numero": planned.po_number} if planned.po_number else None)
        bank = (accounts[cfdi.portal_metadata["provider_id"]] or [None])[0]
        assert fields.get("Banco") == ({"Nombre": bank["bank_name"], "Cuenta": bank["account"], "Clabe": bank["clabe"]}
                                       if bank else None)
        assert cfdi.addenda_at is not None and cfdi.addenda_error == ""
    assert not Cfdi.objects.filter(tenant=world, kind="P", addenda_at__isnull=False).exists()


def test_it_asks_the_portal_once_per_provider_and_makes_no_copy_twice(world):
    addenda_on(world)
    portal = SandboxPortalTenant.objects.get(tenant_id=world.portal_tenant_id)
    run_step(world, "cfdi_download")
    providers = Cfdi.objects.filter(tenant=world, kind__in=("I", "E")).values("portal_metadata__provider_id").distinct()
    portal.refresh_from_db()
    # Three listings (the first window covers the sweep), a file link per CFDI, one provider read per issuer.
    assert portal.reads == 3 + Cfdi.objects.filter(tenant=world).count() + providers.count()

    before = portal.reads
    again = run_step(world, "cfdi_download")

    portal.refresh_from_db()
    assert portal.reads - before == 3 and (again.created_count, again.failed_count) == (0, 0)


def test_a_tenant_without_addenda_gets_no_copy(world):
    run_step(world, "cfdi_download")

    assert not Cfdi.objects.filter(addenda_at__isnull=False).exists()
    assert not any(Path(storage.cfdi_storage().path(addenda_name(c.sha256))).exists() for c in Cfdi.objects.all())


def test_a_copy_that_cannot_be_made_says_why_on_the_page_and_the_others_are_made(world, client):
    run_step(world, "cfdi_download")
    victim = Cfdi.objects.filter(tenant=world, kind="I").first()
    storage.original_path(victim.sha256).unlink()
    addenda_on(world)

    step = run_step(world, "cfdi_download")

    victim.refresh_from_db()
    assert victim.addenda_at is None and "could not be made" in victim.addenda_error
    assert step.failed_count == 1
    assert not Cfdi.objects.filter(tenant=world, kind__in=("I", "E"),
                                   addenda_at__isnull=True).exclude(pk=victim.pk).exists()
    client.force_login(User.objects.create_user("staffer", password="x-Long-pass-1", is_staff=True))
    page = client.get(f"/cfdis/{victim.pk}/").content.decode()
    assert "could not be made" in page and "addenda.xml" not in page
    assert run_step(world, "cfdi_download").failed_count == 0, "a refused file is not tried every cycle"


def test_the_copy_is_served_from_the_cfdi_page(world, client):
    addenda_on(world)
    run_step(world, "cfdi_download")
    cfdi = Cfdi.objects.filter(tenant=world, kind="I").first()
    client.force_login(User.objects.create_user("staffer", password="x-Long-pass-1", is_staff=True))

    page = client.get(f"/cfdis/{cfdi.pk}/").content.decode()
    answer = client.get(f"/cfdis/{cfdi.pk}/addenda.xml")

    assert f'href="/cfdis/{cfdi.pk}/addenda.xml"' in page
    assert answer.status_code == 200 and b"".join(answer.streaming_content) == copy_of(cfdi)
    assert answer["Content-Disposition"] == f'attachment; filename="{cfdi.uuid}-addenda.xml"'


def test_the_import_reads_the_po_of_the_originals_addenda_without_reading_the_file_again(world):
    run_step(world, "cfdi_download")
    source = Cfdi.objects.filter(tenant=world, kind="I", portal_metadata__purchase_orders=[]).first()
    original = with_addenda(storage.read_original(source.sha256), AddendaData(po_number="PO-ADD-1"))
    source.delete()

    stored = store_cfdi(world, original, {"uuid": source.uuid})
    storage.original_path(stored.sha256).unlink()  # a second parse would now fail

    assert stored.addenda_po_number == "PO-ADD-1"
    assert build_invoice(stored, world, VendorFacts("P00001", "MXN")).PONumber == "PO-ADD-1"


def test_writers_racing_on_one_copy_leave_a_whole_file_and_the_original_untouched(world, tmp_path):
    run_step(world, "cfdi_download")
    cfdi = Cfdi.objects.filter(tenant=world, kind="I").first()
    original = storage.read_original(cfdi.sha256)
    media_root = Path(storage.cfdi_storage().location).parent
    env = {**os.environ, "SAGECONNECT_MEDIA_ROOT": str(media_root),
           "DJANGO_SETTINGS_MODULE": "sageconnect.test_settings"}
    assert Path(storage.cfdi_storage().location).name == "cfdi", "the workers find the same storage"
    start_at = str(time.time() + 3)
    workers = [subprocess.Popen([sys.executable, "-m", "tests.cfdi.addenda_race_worker", start_at, cfdi.sha256,
                                 f"PO-{n}", "40"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for n in range(4)]
    seen = 0
    copy_path = Path(storage.cfdi_storage().path(addenda_name(cfdi.sha256)))
    while any(w.poll() is None for w in workers):
        if copy_path.exists():
            verify_signed_part(original, copy_path.read_bytes())  # never a torn or partial file
            seen += 1
    errors = [w.communicate()[1] for w in workers]
    assert [w.returncode for w in workers] == [0] * 4, errors
    assert seen > 0
    assert emisor(copy_path.read_bytes())["OrdenCompra"]["Numero"] in {f"PO-{n}" for n in range(4)}
    assert storage.read_original(cfdi.sha256) == original
    assert not [p for p in copy_path.parent.iterdir() if p.name.startswith(".tmp-")]
