"""The CFDI list and an invoice's page: filters, the invoice for people, downloads, Retry."""
from __future__ import annotations

import pytest
from django_q.models import OrmQ

from cfdi import storage
from cfdi.addenda import AddendaData, add_addenda
from cfdi.models import Cfdi, CfdiStatus
from sync.models import Outbound, OutboundAttempt, RetryRequest
from sync.retry import TASK
from tests.cfdi.samples import sample
from tests.ui.conftest import INVOICE, INVOICE_UUID

pytestmark = pytest.mark.django_db


def _queued() -> list[tuple]:
    return [(q.task["func"], q.task["args"]) for q in OrmQ.objects.order_by("id")]


def test_it_filters_cfdis_by_tenant_status_issuer_and_uuid(staff_client, world):
    first, second = world(2)
    Cfdi.objects.filter(tenant=second).update(status=CfdiStatus.IMPORTED)

    def listed(query: str) -> set[str]:
        page = staff_client.get(f"/cfdis/?{query}").context["page"]
        return {cfdi.tenant.code for cfdi in page}

    assert listed("status=failed") == {first.code}
    assert listed(f"tenant={second.code}") == {second.code}
    assert listed("issuer=h%26e951128469") == {first.code, second.code}
    assert listed("issuer=XAXX010101000") == set()
    assert listed("uuid=6d7434a6") == {first.code, second.code}
    assert listed("kind=P") == set()
    assert listed("from=2020-01-01&to=2020-01-02") == {first.code, second.code}
    assert listed("from=2020-01-03") == set()


def test_it_renders_the_invoice_lines_taxes_and_stamp_from_the_original(staff_client, world):
    world(1)
    cfdi = Cfdi.objects.get()
    html = staff_client.get(f"/cfdis/{cfdi.pk}/").content.decode()
    assert "RENTA DEL MES DE ENERO 2020" in html
    assert "transferred IVA Tasa 0.160000: 2,462.45 MXN" in html
    assert "SAT970701NN3" in html  # the PAC of the stamp
    assert "17,852.75 MXN" in html
    assert "Vendor H&amp;E951128469 does not exist in Sage." in html
    assert "PY00000" in html  # the payment that pays it


def test_it_says_so_when_the_original_is_missing(staff_client, world, cfdi_storage_dir):
    world(1)
    cfdi = Cfdi.objects.get()
    storage.original_path(cfdi.sha256).unlink()
    response = staff_client.get(f"/cfdis/{cfdi.pk}/")
    assert response.status_code == 200
    assert "The original file is missing from the CFDI storage." in response.content.decode()
    assert staff_client.get(f"/cfdis/{cfdi.pk}/original.xml").status_code == 404


def test_it_serves_the_original_bytes_unaltered_as_a_download(staff_client, world):
    world(1)
    cfdi = Cfdi.objects.get()
    response = staff_client.get(f"/cfdis/{cfdi.pk}/original.xml")
    assert b"".join(response.streaming_content) == sample(INVOICE)
    assert response["Content-Disposition"] == f'attachment; filename="{INVOICE_UUID}.xml"'
    assert response["X-Content-Type-Options"] == "nosniff"


def test_it_offers_the_addenda_copy_only_when_there_is_one(staff_client, world):
    world(1)
    cfdi = Cfdi.objects.get()
    assert "addenda.xml" not in staff_client.get(f"/cfdis/{cfdi.pk}/").content.decode()
    assert staff_client.get(f"/cfdis/{cfdi.pk}/addenda.xml").status_code == 404
    path = add_addenda(cfdi.sha256, AddendaData(po_number="PO-77"))
    assert f"/cfdis/{cfdi.pk}/addenda.xml" in staff_client.get(f"/cfdis/{cfdi.pk}/").content.decode()
    response = staff_client.get(f"/cfdis/{cfdi.pk}/addenda.xml")
    assert b"".join(response.streaming_content) == path.read_bytes()


def test_it_queues_a_re_import_of_one_invoice_and_changes_nothing_before_it_runs(staff_client, world,
                                                                                django_capture_on_commit_callbacks):
    world(1)
    cfdi = Cfdi.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"/cfdis/{cfdi.pk}/retry", follow=True)
    request = RetryRequest.objects.get()
    assert f"Re-import of {INVOICE_UUID} queued (request {request.pk})" in response.content.decode()
    assert _queued() == [(TASK, (request.pk,))]
    assert (request.records, request.state) == ([["cfdi_import", INVOICE_UUID]], RetryRequest.State.QUEUED)
    # Nothing ran yet: the invoice and its record say what they said before.
    assert Cfdi.objects.get().status == CfdiStatus.FAILED
    assert Outbound.objects.get(kind="cfdi_import").attention == Outbound.Attention.PERMANENT
    assert OutboundAttempt.objects.filter(outcome="retry").count() == 1
    page = staff_client.get(f"/cfdis/{cfdi.pk}/").content.decode()
    assert 'id="retry-state"' in page and "queued" in page


def test_it_queues_re_imports_for_the_filtered_selection_only(staff_client, world,
                                                             django_capture_on_commit_callbacks):
    first, imported, unfixable, vendorless, other = world(5)
    Cfdi.objects.filter(tenant=imported).update(status=CfdiStatus.IMPORTED)
    Cfdi.objects.filter(tenant=unfixable).update(status=CfdiStatus.INVALID, problems=[
        {"code": "totals_inconsistent", "message": "Total does not add up."}])
    Cfdi.objects.filter(tenant=vendorless).update(status=CfdiStatus.INVALID, problems=[
        {"code": "vendor_unknown", "message": "No Sage vendor has this RFC."}])
    Cfdi.objects.filter(tenant=other).update(issuer_rfc="XAXX010101000")

    asked = staff_client.post("/cfdis/retry", {"query": "issuer=H%26E951128469"})
    assert 'id="confirm-count">2 records, of 2 tenant(s).' in asked.content.decode() and _queued() == []
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post("/cfdis/retry", {"query": "issuer=H%26E951128469", "confirmed": "1"},
                                     follow=True)

    assert "2 re-import(s) queued: one task for each of 2 tenant(s)." in response.content.decode()
    requests = {r.tenant_id: r for r in RetryRequest.objects.all()}
    assert {tenant: r.records for tenant, r in requests.items()} == {
        first.pk: [["cfdi_import", INVOICE_UUID]], vendorless.pk: [["cfdi_import", INVOICE_UUID]]}
    assert sorted(_queued()) == sorted((TASK, (r.pk,)) for r in requests.values())
    assert response.redirect_chain[-1][0] == "/cfdis/?issuer=H%26E951128469"


def test_it_hides_retry_for_an_imported_invoice(staff_client, world):
    world(1)
    Cfdi.objects.update(status=CfdiStatus.IMPORTED, sage_batch=12, sage_entry=3)
    html = staff_client.get(f"/cfdis/{Cfdi.objects.get().pk}/").content.decode()
    assert 'id="retry"' not in html
    cfdi = Cfdi.objects.get()
    assert f'<a href="/cfdis/?tenant={cfdi.tenant.code}&amp;batch=12"' in html and '<dd id="sage-entry">3</dd>' in html
    assert [c.pk for c in staff_client.get("/cfdis/?batch=12").context["page"]] == [cfdi.pk]
    assert list(staff_client.get("/cfdis/?batch=13").context["page"]) == []


def test_it_refuses_to_retry_an_invoice_whose_problems_a_re_import_cannot_cure(staff_client, world):
    world(1)
    Cfdi.objects.update(status=CfdiStatus.INVALID, problems=[{"code": "totals_inconsistent", "message": "No."}])
    cfdi = Cfdi.objects.get()
    assert 'id="retry"' not in staff_client.get(f"/cfdis/{cfdi.pk}/").content.decode()
    response = staff_client.post(f"/cfdis/{cfdi.pk}/retry", follow=True)
    assert "This CFDI cannot be imported again" in response.content.decode()
    assert _queued() == []


def test_it_shows_when_sat_answered_in_the_tenants_zone_marked(staff_client, world):
    import datetime as dt

    from cfdi.models import SatStatus
    from tenants.models import Tenant

    tenant = world(1)[0]
    Tenant.objects.filter(pk=tenant.pk).update(time_zone="America/Tijuana")  # UTC−8 in January
    cfdi = Cfdi.objects.get(tenant=tenant)
    SatStatus.objects.create(uuid=cfdi.uuid.upper(), state="Vigente",
                             checked_at=dt.datetime(2026, 1, 15, 5, 30, 7, tzinfo=dt.timezone.utc))
    page = staff_client.get(f"/cfdis/{cfdi.pk}/").content.decode()
    assert '<dd id="sat-checked-at"><time datetime="2026-01-15T05:30:07+00:00" title="America/Tijuana">' \
           '2026-01-14 21:30:07 PST</time></dd>' in page
