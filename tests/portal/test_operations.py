"""Every client operation against the stand-in, over real HTTP, contract-checked both ways."""
import time
from decimal import Decimal

import pytest

from sync.portal import PortalPermanentError
from sync.portal import schemas as s
from tests.portal.factories import add_cfdis, add_providers, payment, purchase_order


def _provider_request(provider, **overrides) -> s.ProviderRequest:
    values = dict(name=provider.name, rfc=provider.rfc, country="MX", currency="MXN", credit_days=45, enabled=True,
                  type="REGULAR", allow_invoice_reception=True, use_advance_invoices=False,
                  unlimited_payment_cfdi_pending=True, use_tenant_credit_days=False,
                  require_consignment_note="NOT_REQUIRED")
    values.update(overrides)
    return s.ProviderRequest(**values)


def test_it_reads_updates_and_links_providers(portal, stand_in):
    provider = add_providers(stand_in, 2, external=False)[0]

    assert portal.get_provider(provider.portal_id).rfc == provider.rfc
    linked = portal.set_provider_external_id(provider.portal_id, "P00042")
    updated = portal.update_provider("P00042", _provider_request(provider, name="Aceros del Norte SA de CV"),
                                     id_type="EXTERNAL")

    assert linked.external_id == "P00042"
    assert updated.name == "Aceros del Norte SA de CV" and updated.credit_days == 45
    assert [p.id for p in portal.iter_providers(external_id="P00042")] == [provider.portal_id]
    assert (portal.calls.reads, portal.calls.writes) == (2, 2)


def test_it_creates_reads_replaces_and_closes_a_purchase_order(portal, stand_in):
    add_providers(stand_in, 1)
    created = portal.create_purchase_order(purchase_order("PO000007"))
    replaced = portal.replace_purchase_order("PO000007", purchase_order("PO000007", total=Decimal("2320.00")))
    closed = portal.change_purchase_order_status("PO000007", "CLOSED")
    fetched = portal.get_purchase_order("PO000007")

    assert len(created.id) == 24 and int(created.id, 16) >= 0
    assert replaced.id == created.id and replaced.total == Decimal("2320.00")
    assert (closed.internal_id, closed.status, closed.errors) == (created.id, "CLOSED", [])
    assert fetched.status == "CLOSED" and fetched.external_id == "PO000007"
    assert fetched.lines[0].model_extra["item_code"] == "A1-103"


def test_it_upserts_a_batch_with_a_result_per_order(portal, stand_in):
    add_providers(stand_in, 1)
    portal.create_purchase_order(purchase_order("PO000001"))

    batch = portal.upsert_purchase_orders([purchase_order("PO000001"), purchase_order("PO000002"),
                                           purchase_order("PO000003", vendor_id="NOSUCH")])

    assert batch.type == "SYNC" and batch.status == "PROCESSED"
    assert [(o.external_id, o.status) for o in batch.orders_status] == [
        ("PO000001", "UPDATED"), ("PO000002", "CREATED"), ("PO000003", "ERROR")]
    assert batch.orders_status[2].errors[0].error_code == "PROVIDERS__NOT_FOUND"


def test_it_polls_a_queued_batch_for_its_results(portal, stand_in):
    add_providers(stand_in, 1)

    queued = portal.upsert_purchase_orders([purchase_order(f"PO{n:06d}") for n in range(50)])
    finished = portal.purchase_order_batch_status(queued.id)

    assert (queued.type, queued.status, queued.orders_status) == ("ASYNC", "NEW", [])
    assert finished.status == "PROCESSED" and len(finished.orders_status) == 50
    assert {o.status for o in finished.orders_status} == {"CREATED"}


def test_it_finds_cfdis_by_uuid_and_downloads_the_original_xml(portal, stand_in):
    rows = add_cfdis(stand_in, 5)
    wanted = [rows[1].uuid, rows[3].uuid.lower()]

    found = list(portal.iter_cfdis(uuids=wanted, cfdi_type="INVOICE", stage="PENDING_TO_PAY", page_size=1))
    one = portal.get_cfdi(rows[3].uuid)
    xml = portal.download_cfdi_xml(one.id)

    assert sorted(c.cfdi_uuid for c in found) == sorted([rows[1].uuid, rows[3].uuid])
    assert one.id == rows[3].portal_id and one.metadata.provider_external_id == "V00000"
    assert xml == bytes(rows[3].xml)
    assert portal.calls.downloads == 1


def test_it_reports_an_expired_file_link_as_permanent(portal, stand_in):
    row = add_cfdis(stand_in, 1)[0]
    stand_in.file_url_seconds = 1
    stand_in.save()
    link = portal.cfdi_files(row.portal_id).xml
    time.sleep(2.1)

    with pytest.raises(PortalPermanentError) as raised:
        portal.download_file(link)

    assert raised.value.status == 403 and "expired" in raised.value.description


def test_it_never_sends_the_credentials_to_the_file_link(portal, stand_in, live_server):
    import requests

    from tests.portal.conftest import PORTAL_KEY, PORTAL_SECRET

    row = add_cfdis(stand_in, 1)[0]
    link = portal.cfdi_files(row.portal_id).xml
    # The storage stand-in refuses a request carrying PDP headers, so a successful download proves none went.
    refused = requests.get(link, headers={"PDPTenantKey": PORTAL_KEY, "PDPTenantSecret": PORTAL_SECRET}, timeout=5)

    assert refused.status_code == 400
    assert portal.download_cfdi_xml(row.portal_id) == bytes(row.xml)
    assert "signature" not in repr(portal.snapshot())


def test_it_creates_and_reads_payments_one_and_in_batch(portal, stand_in):
    invoices = add_cfdis(stand_in, 3, total=Decimal("500.00"))

    single = portal.create_payment(payment("PY0000001", (invoices[0].uuid, Decimal("500.00"))))
    batch = portal.create_payments([payment("PY0000002", (invoices[1].uuid, Decimal("200.00"))),
                                    payment("PY0000003", ("0B8A8D1E-0000-4000-8000-000000000001", Decimal("1")))])
    fetched = portal.get_payment("PY0000002")

    assert single.external_id == "PY0000001" and single.cfdis[0].uuid == invoices[0].uuid
    assert [(r.id, r.error_code) for r in batch.results] == [("PY0000002", 0), ("PY0000003", 1800)]
    assert fetched.total_amount == Decimal("200.00")


def test_it_reports_the_erp_status_of_cfdis(portal, stand_in):
    rows = add_cfdis(stand_in, 2)

    answer = portal.update_cfdi_erp_status([
        s.CfdiProgressRequest(cfdi_id=rows[0].portal_id, uuid=rows[0].uuid, new_status="IMPORTED"),
        s.CfdiProgressRequest(cfdi_id="0" * 24, uuid=rows[1].uuid, new_status="IMPORTED"),
    ])

    assert [r.error_code for r in answer.results] == [0, 1800]
    rows[0].refresh_from_db()
    assert rows[0].erp_status == "IMPORTED"


def test_it_counts_reads_and_writes_on_both_sides(portal, stand_in):
    add_providers(stand_in, 1)
    list(portal.iter_providers())
    portal.create_purchase_order(purchase_order("PO000001"))

    stand_in.refresh_from_db()
    assert (portal.calls.reads, portal.calls.writes) == (1, 1)
    assert (stand_in.reads, stand_in.writes) == (1, 1)
