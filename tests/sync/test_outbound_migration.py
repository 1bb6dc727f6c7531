"""The migration to outbound records carries every row the old records held over (sync 0009, cfdi 0008,
tenants 0009): rows made with the old models, migrated forward, read back with the new ones."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("sync", "0007_sage_tables_for_the_stand_in"), ("cfdi", "0007_tax_lines"),
          ("tenants", "0008_labels_and_validators")]
EARLIER = timezone.now() - dt.timedelta(days=3)


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def old_rows(apps) -> dict:
    """What an installation of the old engine holds: every kind of row the carry-over reads."""
    get = apps.get_model
    Tenant, SyncRun, SyncLink, RecordOutcome = (get("tenants", "Tenant"), get("sync", "SyncRun"),
                                                get("sync", "SyncLink"), get("sync", "RecordOutcome"))
    Payment, PoWatermark = get("sync", "Payment"), get("sync", "PoWatermark")
    Cfdi, ImportAttempt = get("cfdi", "Cfdi"), get("cfdi", "ImportAttempt")
    tenant = Tenant.objects.create(code="acme", name="ACME", rfc="AIN8001011A1", portal_tenant_id="acme",
                                   step_po_create=True, step_po_update=False)
    off = Tenant.objects.create(code="off", name="Off", rfc="OFF8001011A1", portal_tenant_id="off",
                                step_po_create=False, step_po_update=True)
    run = SyncRun.objects.create(tenant=tenant, status="partial")
    link = dict(tenant=tenant)
    SyncLink.objects.create(kind="vendor", sage_key="PP000001", portal_id="a" * 24, state="confirmed", content_hash="v",
                            **link)
    SyncLink.objects.create(kind="vendor", sage_key="PP000002", portal_id="b" * 24, state="failed", sent_hash="r",
                            **link)
    SyncLink.objects.create(kind="po", sage_key="PO1", portal_id="c" * 24, state="confirmed", content_hash="h1", **link)
    SyncLink.objects.create(kind="po", sage_key="PO2", state="failed", sent_hash="h2", **link)
    SyncLink.objects.create(kind="po", sage_key="PO3", state="pending", sent_hash="h3", **link)
    SyncLink.objects.create(kind="po_status", sage_key="PO9", portal_id="d" * 24, state="confirmed",
                            content_hash="CLOSED", **link)
    SyncLink.objects.create(kind="cfdi_import", sage_key="U-IMPORTED", portal_id="12-3", state="confirmed", **link)
    SyncLink.objects.create(kind="complement", sage_key="PY2", state="failed", sent_hash="c", **link)
    outcome = dict(tenant=tenant, run=run)
    RecordOutcome.objects.create(step="providers", kind="vendor", sage_key="PP000002", action="create",
                                 status="failed", permanent=True, last_error="Sage: vendor group missing",
                                 request_snapshot={"VendorNumber": "PP000002"}, **outcome)
    RecordOutcome.objects.create(step="po_create", kind="po", sage_key="PO2", action="create", status="failed",
                                 permanent=True, last_error="PROVIDERS__NOT_FOUND: no provider",
                                 request_snapshot={"external_id": "PO2"}, **outcome)
    RecordOutcome.objects.create(step="po_create", kind="po", sage_key="PO3", action="create", status="failed",
                                 permanent=False, last_error="portal kept failing", **outcome)
    RecordOutcome.objects.create(step="po_close", kind="po_status", sage_key="PO8", action="close",
                                 status="waiting", last_error="waiting for receipts to be invoiced: RC1", **outcome)
    RecordOutcome.objects.create(step="payment_complement", kind="complement", sage_key="PY2", action="record",
                                 status="failed", permanent=True, last_error="Enter payment CFDI X on PY2", **outcome)
    RecordOutcome.objects.create(step="po_create", kind="po", sage_key="PO1", action="create", status="succeeded",
                                 request_snapshot={"external_id": "PO1"}, **outcome)
    payment = dict(tenant=tenant, vendor="V1", date=dt.date(2026, 11, 1), amount=Decimal("10"), currency="MXN",
                   batch=1, sage_hash="x")
    Payment.objects.create(docnbr="PY1", entry=1, state="waiting", wait_reason="waiting for CFDI import: U1",
                           **payment)
    Payment.objects.create(docnbr="PY3", entry=3, state="failed", wait_reason="the portal refused it (1827): paid",
                           **payment)
    cfdi = dict(tenant=tenant, sha256="0" * 64, kind="I")
    imported = Cfdi.objects.create(uuid="U-IMPORTED", status="imported", sage_batch=12, sage_entry=3,
                                   imported_at=EARLIER, **cfdi)
    refused = Cfdi.objects.create(uuid="U-REFUSED", status="failed", **cfdi)
    cancelled = Cfdi.objects.create(uuid="U-CANCELLED", status="needs_attention", sage_batch=14, sage_entry=1,
                                    imported_at=EARLIER, problems=[{"code": "sat_cancelled",
                                                                   "message": "SAT reports this CFDI cancelled"}],
                                    **cfdi)
    ImportAttempt.objects.create(cfdi=imported, outcome="imported", sage_batch=12, sage_entry=3,
                                 request_snapshot={"DocumentNumber": "A1"})
    ImportAttempt.objects.create(cfdi=refused, outcome="retryable", error_code="ServiceUnavailable", message="busy")
    ImportAttempt.objects.create(cfdi=refused, outcome="failed", error_code="RecordInvalid",
                                 message="Vendor V9 is inactive")
    ImportAttempt.objects.create(cfdi=cancelled, outcome="imported", sage_batch=14, sage_entry=1)
    PoWatermark.objects.create(tenant=tenant, step="po_create", audit_date=20261101, audit_time=5, porhseq=9)
    PoWatermark.objects.create(tenant=tenant, step="po_update", audit_date=20261020, audit_time=7, porhseq=3)
    return {"tenant": tenant.pk, "off": off.pk, "run": run.pk}


@pytest.mark.django_db(transaction=True)
def test_it_carries_every_old_row_over_to_the_outbound_records():
    try:
        made = old_rows(migrate(BEFORE))
        migrate(latest())

        from cfdi.models import Cfdi
        from sync.models import Outbound, OutboundAttempt, Payment, PoWatermark
        from tenants.models import Tenant

        def record(kind, key) -> Outbound:
            return Outbound.objects.get(tenant_id=made["tenant"], kind=kind, key=key)

        # The control table: one record each, vendors keyed by their portal provider, the VENDORID outside.
        vendor = record("vendor", "a" * 24)
        assert (vendor.state, vendor.outside_id, vendor.content_hash) == ("confirmed", "PP000001", "v")
        refused_vendor = record("vendor", "b" * 24)
        assert (refused_vendor.state, refused_vendor.attention, refused_vendor.outside_id) == (
            "failed", "permanent", "PP000002")
        assert refused_vendor.reason == "Sage: vendor group missing"
        assert refused_vendor.last_request == {"VendorNumber": "PP000002"} and refused_vendor.run_id == made["run"]
        assert (record("po", "PO1").state, record("po", "PO1").outside_id) == ("confirmed", "c" * 24)
        po2 = record("po", "PO2")
        assert (po2.state, po2.attention, po2.sent_hash, po2.last_error) == (
            "failed", "permanent", "h2", "PROVIDERS__NOT_FOUND: no provider")
        po3 = record("po", "PO3")
        assert (po3.state, po3.attention, po3.attempts) == ("pending", "", 1)  # asked about first, then retried
        assert record("po_status", "PO9").outside_ids == {"status": "CLOSED"}
        waiting = record("po_status", "PO8")
        assert (waiting.state, waiting.reason_code, waiting.reason) == (
            "waiting", "receipts_not_invoiced", "waiting for receipts to be invoiced: RC1")
        todo = record("complement", "PY2")
        assert (todo.state, todo.attention, todo.reason) == ("waiting", "person", "Enter payment CFDI X on PY2")
        # Why a payment waits, or was refused: its record's reason.
        assert (record("payment", "PY1").state, record("payment", "PY1").reason) == (
            "waiting", "waiting for CFDI import: U1")
        assert (record("payment", "PY3").attention, record("payment", "PY3").reason) == (
            "permanent", "the portal refused it (1827): paid")
        assert set(Payment.objects.values_list("docnbr", "state")) == {("PY1", "waiting"), ("PY3", "failed")}
        # The import attempts: each CFDI's history, its record's state from the CFDI's status.
        imported = record("cfdi_import", "U-IMPORTED")
        assert (imported.state, imported.outside_ids) == ("confirmed", {"sage_batch": 12, "sage_entry": 3})
        refused = record("cfdi_import", "U-REFUSED")
        assert (refused.state, refused.attention, refused.reason_code, refused.reason) == (
            "failed", "permanent", "RecordInvalid", "Vendor V9 is inactive")
        assert list(refused.history.order_by("at", "pk").values_list("outcome", "error_code")) == [
            ("failed", "ServiceUnavailable"), ("refused", "RecordInvalid")]
        cancelled = record("cfdi_import", "U-CANCELLED")
        assert (cancelled.state, cancelled.attention, cancelled.reason_code) == ("confirmed", "person", "sat_cancelled")
        assert cancelled.reason == "SAT reports this CFDI cancelled"
        assert imported.history.get().request == {"DocumentNumber": "A1"}
        # Every old outcome and attempt is a history row: nothing lost.
        assert OutboundAttempt.objects.count() == 6 + 4
        assert set(Cfdi.objects.values_list("uuid", "status")) == {
            ("U-IMPORTED", "imported"), ("U-REFUSED", "failed"), ("U-CANCELLED", "needs_attention")}
        # The two PO steps are one: its watermark the older of the two; a tenant sending POs still does.
        assert list(PoWatermark.objects.values_list("step", "audit_date", "audit_time", "porhseq")) == [
            ("po_upsert", 20261020, 7, 3)]
        assert Tenant.objects.get(pk=made["tenant"]).step_po_upsert
        assert not Tenant.objects.get(pk=made["off"]).step_po_upsert
    finally:
        migrate(latest())
