"""The three PO steps (upsert, close, cancel) through the real pipeline, against the sandbox Sage
company and the portal stand-in over real HTTP (live_server)."""
from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.core.signals import request_started
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sandbox.company import write_company
from sandbox.faults import clear_faults, set_faults
from sandbox.plan import Plan, PlanPo, build_plan
from sandbox.portal.models import SandboxBatch, SandboxPortalTenant, SandboxProvider, SandboxPurchaseOrder
from sandbox.portal.seed import seed_portal
from sync.engine.context import StepContext
from sync.engine.exporter import Built, Job
from sync.engine.outbox import Confirmed, payload_hash
from sync.engine.pipeline import run_tenant
from sync.models import Outbound, PoWatermark, SyncRun
from sync.po_payload import build_order
from sync.po_reads import PoCandidate
from sync.po_state import classify, read_pos
from sync.sage.models import POPORH1, POPORH2, POPORL, PORCPH1
from sync.steps.po_upsert import PoUpsert
from tenants.sage_db import sage_alias
from tests.sync.conftest import SAGE_DB

pytestmark = SAGE_DB
TODAY = dt.date(2026, 11, 20)
PO_STEPS = {name: f"sync.steps.{name}" for name in ("po_upsert", "po_close", "po_cancel")}
SKIPPED_LOCATION = "GRAL"
_audit_clock = itertools.count(1)


@dataclass
class Site:
    tenant: object
    plan: Plan
    portal: SandboxPortalTenant

    @property
    def alias(self) -> str:
        return sage_alias(self.tenant)

    def cycle(self, **options):
        return run_tenant(self.tenant.pk, registry=PO_STEPS, **options)

    def writes(self) -> int:
        return SandboxPortalTenant.objects.get(pk=self.portal.pk).writes

    def orders(self) -> dict[str, SandboxPurchaseOrder]:
        return {order.external_id: order for order in SandboxPurchaseOrder.objects.filter(portal_tenant=self.portal)}

    def touch(self, po: PlanPo) -> None:
        """What Sage does to a PO header whenever the PO is saved: a newer audit stamp."""
        tick = next(_audit_clock)
        POPORH1.objects.using(self.alias).filter(PORHSEQ=po.porhseq).update(AUDTDATE=Decimal(20261125),
                                                                           AUDTTIME=Decimal(tick * 100))


def portal_lines(po: PlanPo) -> list:
    return [line for line in po.lines if line.location != SKIPPED_LOCATION]


def eligible(plan: Plan) -> list[PlanPo]:
    """The plan's POs the tenant's rule admits and that are still open, worked out from the plan itself."""
    chosen = []
    for po in plan.pos:
        lines = portal_lines(po)
        if dict(po.optional_fields).get("AUTORIZADA") != "SI" or not lines:
            continue
        if sum(line.cancelled for line in lines) >= sum(line.ordered for line in lines) or po.state == "complete":
            continue
        chosen.append(po)
    return chosen


def known_to_portal(plan: Plan, pos: list[PlanPo]) -> list[PlanPo]:
    return [po for po in pos if plan.vendor(po.vendor_id).external_id_on_portal]


def make_site(tenant, live_server, pos: int) -> Site:
    tenant.portal_url = f"{live_server.url}/sandbox/portal"
    tenant.po_required_optfield, tenant.po_required_value = "AUTORIZADA", "SI"
    tenant.skip_location_codes = [SKIPPED_LOCATION]
    tenant.save()
    plan = build_plan(seed=4, vendors=12, pos=pos, cfdis=4, payments=0, today=TODAY)
    write_company(sage_alias(tenant), plan)
    return Site(tenant, plan, seed_portal(tenant, plan))


@pytest.fixture
def site(sage_tenant, live_server) -> Site:
    return make_site(sage_tenant, live_server, pos=30)


@pytest.fixture
def big_site(sage_tenant, live_server) -> Site:
    """Enough POs for two batches, the first one big enough for the portal to queue it."""
    return make_site(sage_tenant, live_server, pos=100)


@pytest.fixture
def created(site) -> Site:
    site.cycle()
    return site


def pick(site: Site, state: str) -> PlanPo:
    return next(po for po in known_to_portal(site.plan, eligible(site.plan)) if po.state == state)


def test_it_creates_every_eligible_po_once_in_batches_of_at_most_50(big_site):
    site = big_site
    due = eligible(site.plan)
    expected = known_to_portal(site.plan, due)
    assert 50 < len(due) and 0 < len(expected) < len(due)  # the plan exercises two batches and refusals

    run = site.cycle()

    assert sorted(site.orders()) == sorted(po.po_number for po in expected)
    answers = [batch.response for batch in SandboxBatch.objects.filter(portal_tenant=site.portal)]
    assert len(answers) == math.ceil(len(due) / 50) and max(len(a["orders_status"]) for a in answers) <= 50
    assert "ASYNC" in {a["type"] for a in answers}  # queued by the portal: its results were polled for
    assert Outbound.objects.filter(kind="po", state="confirmed").count() == len(expected)
    upsert = run.steps.get(step="po_upsert")
    assert (upsert.created_count, upsert.failed_count) == (len(expected), len(due) - len(expected))


def test_it_sends_the_next_batch_while_the_portal_works_on_a_queued_one(big_site):
    batch_calls = []

    def seen(sender, environ, **kwargs) -> None:  # each request the stand-in (the live server) receives
        if "/batch/" in environ["PATH_INFO"] and "purchase-orders" in environ["PATH_INFO"]:
            batch_calls.append("status" if environ["PATH_INFO"].endswith("/status") else environ["REQUEST_METHOD"])

    request_started.connect(seen)
    try:
        big_site.cycle()
    finally:
        request_started.disconnect(seen)

    queued = [b.portal_id for b in SandboxBatch.objects.filter(portal_tenant=big_site.portal)
              if b.response["type"] == "ASYNC"]
    assert len(queued) >= 1 and batch_calls.count("PUT") == 2
    # The first batch is queued; the second goes out before the first is asked about, and each queued batch
    # is asked about once (the stand-in has processed it by then).
    assert batch_calls[:3] == ["PUT", "PUT", "status"] and batch_calls.count("status") == len(queued)
    assert Outbound.objects.filter(kind="po", state__in=["pending", "sent"]).count() == 0


def test_it_records_each_refused_po_with_the_portals_code_and_goes_on(created):
    refused = [po for po in eligible(created.plan) if not created.plan.vendor(po.vendor_id).external_id_on_portal]
    records = Outbound.objects.filter(kind="po", action="create", state="failed")
    assert sorted(records.values_list("key", flat=True)) == sorted(po.po_number for po in refused)
    first = records.get(key=refused[0].po_number)
    assert first.attention == Outbound.Attention.PERMANENT and first.reason_code == "PROVIDERS__NOT_FOUND"
    assert first.last_error.startswith("PROVIDERS__NOT_FOUND: No provider with external_id")
    assert "No provider with external_id" in first.reason and "Retry" in first.reason
    assert first.last_request["external_id"] == refused[0].po_number
    assert first.history.get().outcome == "refused"


def test_it_maps_lines_addresses_and_currency_from_sage(created):
    po = next(po for po in known_to_portal(created.plan, eligible(created.plan))
              if po.state == "partly_cancelled" and po.lines[0].location != SKIPPED_LOCATION)
    sent = created.orders()[po.po_number].request
    lines = portal_lines(po)
    assert [line["quantity"] for line in sent["lines"]] == [float(line.ordered - line.cancelled) for line in lines]
    assert sent["currency"] == ("USD" if po.currency == "USD" else "MXN")
    assert sent["provider_external_id"] == po.vendor_id
    assert sent["subtotal"] == pytest.approx(sum(float(ln["subtotal"]) for ln in sent["lines"]))
    assert {address["type"] for address in sent["addresses"]} == {"BILLING", "SHIPPING"}
    assert sent["date"].startswith(po.date.isoformat())


def test_it_makes_no_portal_write_and_few_sage_queries_when_nothing_changed(created):
    writes = created.writes()
    with CaptureQueriesContext(connections[created.alias]) as sage_queries:
        run = created.cycle()
    assert created.writes() == writes
    # One empty read of changed headers, from the watermark the PO steps share (sync.po_reads): not one each.
    assert len(sage_queries) == 1
    assert run.created_count == run.updated_count == 0


def test_it_sends_a_changed_line_quantity_as_exactly_one_update(created):
    po = pick(created, "open")
    line = portal_lines(po)[0]
    POPORL.objects.using(created.alias).filter(PORHSEQ=po.porhseq, PORLREV=line.line_number).update(
        OQORDERED=line.ordered + 7)
    created.touch(po)
    writes = created.writes()

    run = created.cycle()

    assert created.writes() == writes + 1
    assert run.steps.get(step="po_upsert").updated_count == 1
    sent = created.orders()[po.po_number].request
    assert sent["lines"][0]["quantity"] == float(line.ordered + 7)
    assert sent["status"] == "OPEN"


def test_it_sends_a_partial_cancellation_as_what_is_still_on_order(created):
    po = pick(created, "open")
    line = portal_lines(po)[0]
    POPORL.objects.using(created.alias).filter(PORHSEQ=po.porhseq, PORLREV=line.line_number).update(
        OQCANCELED=line.ordered - 1)
    created.touch(po)
    writes = created.writes()
    created.cycle()
    assert created.writes() == writes + 1
    assert created.orders()[po.po_number].request["lines"][0]["quantity"] == 1.0


def test_it_cancels_a_fully_cancelled_po_once(created):
    po = pick(created, "open")
    for line in po.lines:
        POPORL.objects.using(created.alias).filter(PORHSEQ=po.porhseq, PORLREV=line.line_number).update(
            OQCANCELED=line.ordered)
    created.touch(po)
    writes = created.writes()

    run = created.cycle()

    assert created.writes() == writes + 1
    assert created.orders()[po.po_number].status == "CANCELLED"
    assert run.steps.get(step="po_cancel").updated_count == 1
    created.touch(po)  # saved again in Sage: still never sent twice
    created.cycle()
    assert created.writes() == writes + 1


def test_it_closes_a_complete_po_only_once_its_receipts_are_invoiced(created):
    po = pick(created, "partly_received")
    POPORH1.objects.using(created.alias).filter(PORHSEQ=po.porhseq).update(ISCOMPLETE=1)
    created.touch(po)
    writes = created.writes()

    created.cycle()
    assert created.writes() == writes
    waiting = Outbound.objects.get(kind="po_status", key=po.po_number)
    assert waiting.state == "waiting" and "waiting for receipts to be invoiced" in waiting.reason
    assert waiting.attention == "" and waiting.attempts == 0  # waiting is no failure

    # Invoicing touches the receipt, not the PO header: the waiting PO is read again anyway.
    PORCPH1.objects.using(created.alias).filter(PORHSEQ=po.porhseq).update(ISINVOICED=1, ISCOMPLETE=1)
    created.cycle()
    assert created.writes() == writes + 1
    assert created.orders()[po.po_number].status == "CLOSED"
    assert Outbound.objects.get(kind="po_status", key=po.po_number).state == "confirmed"
    created.cycle()
    assert created.writes() == writes + 1


def test_it_builds_and_records_every_payload_in_a_dry_run_and_sends_nothing(site):
    run = site.cycle(dry_run=True)

    assert site.writes() == 0 and site.orders() == {}
    assert not Outbound.objects.exists() and not PoWatermark.objects.exists()
    log = run.steps.get(step="po_upsert").log
    shown = [line for line in log if line.startswith("would send portal ")]
    assert len(shown) == len(eligible(site.plan))
    assert f'"external_id": "{eligible(site.plan)[0].po_number}"' in "".join(shown)


def test_it_leaves_pos_pending_through_a_portal_outage_and_completes_them_after_their_backoff(site):
    set_faults(f"portal:{site.tenant.portal_tenant_id}", error_rate=1.0, error_statuses=[503])
    try:
        run = site.cycle(only_step="po_upsert")
    finally:
        clear_faults()
    due = eligible(site.plan)
    assert run.steps.get(step="po_upsert").failed_count == len(due) and site.orders() == {}
    pending = Outbound.objects.filter(kind="po", state="pending")
    assert pending.count() == len(due)
    record = pending.get(key=due[0].po_number)
    assert (record.attempts, record.attention) == (1, "") and "kept failing after" in record.last_error
    assert record.not_before > timezone.now()

    run = site.cycle(only_step="po_upsert")  # still backing off: not even asked for
    assert site.orders() == {} and run.steps.get(step="po_upsert").skipped_count >= len(due)
    Outbound.objects.update(not_before=timezone.now())
    site.cycle(only_step="po_upsert")

    assert sorted(site.orders()) == sorted(po.po_number for po in known_to_portal(site.plan, due))
    assert Outbound.objects.filter(kind="po", state="pending").count() == 0


def test_it_tries_a_refused_po_again_once_its_vendor_is_linked_to_the_portal(created):
    refused = next(po for po in eligible(created.plan) if not created.plan.vendor(po.vendor_id).external_id_on_portal)
    # What the providers step does: tell the portal the VENDORID, and record the link.
    SandboxProvider.objects.filter(portal_tenant=created.portal, rfc=created.plan.vendor(refused.vendor_id).rfc).update(
        external_id=refused.vendor_id)
    Outbound.objects.create(tenant=created.tenant, kind="vendor", key="b" * 24, outside_id=refused.vendor_id,
                            state="confirmed")

    created.cycle()

    assert refused.po_number in created.orders()
    assert Outbound.objects.get(kind="po", key=refused.po_number).state == "confirmed"


def test_it_adopts_a_po_the_portal_already_has_when_a_create_answers_409_and_makes_it_what_sage_has(site):
    po = known_to_portal(site.plan, eligible(site.plan))[0]
    tenant = site.tenant
    sage_po = next(p for p in read_pos(site.alias, tenant, limit=500)[0] if p.po_number == po.po_number)
    order = build_order(sage_po, tenant)
    stale = {**order.to_json(), "total": 1.0}
    existing = SandboxPurchaseOrder.objects.create(portal_tenant=site.portal, external_id=po.po_number,
                                                   status="OPEN", request=stale)
    run = SyncRun.objects.create(tenant=tenant)
    ctx = StepContext(tenant_id=tenant.pk, run_id=run.pk, step="po_upsert")
    exporter = PoUpsert(ctx)
    candidate = PoCandidate(sage_po, classify(sage_po, tenant, None, None), None, None)
    job = Job(candidate, po.po_number, Built(order.to_json(), request=order, action="create"), None,
              payload_hash(order.to_json()))

    try:
        answer = exporter.send_one(job)  # what a batch the portal refused as a whole falls back to
    finally:
        exporter.close()

    assert answer == Confirmed(existing.portal_id)
    assert site.orders()[po.po_number].request["total"] == order.to_json()["total"] != stale["total"]
    assert SandboxPurchaseOrder.objects.filter(portal_tenant=site.portal, external_id=po.po_number).count() == 1


def test_it_fails_the_step_on_refused_credentials_and_sends_everything_once_they_are_fixed(site):
    right = site.tenant.portal_secret
    site.tenant.portal_secret = "not-the-secret"
    site.tenant.save()

    run = site.cycle(only_step="po_upsert")

    step = run.steps.get(step="po_upsert")
    assert step.status == "failed" and "check the tenant's portal key and secret" in step.message
    assert "not-the-secret" not in step.message + "".join(step.log)
    assert not Outbound.objects.exclude(state="pending").exists() and not PoWatermark.objects.exists()
    assert not Outbound.objects.exclude(attempts=0).exists()  # the tenant's problem costs no PO an attempt
    site.tenant.portal_secret = right
    site.tenant.save()
    site.cycle(only_step="po_upsert")
    assert sorted(site.orders()) == sorted(po.po_number for po in known_to_portal(site.plan, eligible(site.plan)))


def test_a_new_receipt_changes_nothing_the_portal_is_sent_so_nothing_is_written(created):
    """The payload's quantity is what is on order (ordered − cancelled): a receipt does not move it."""
    po = pick(created, "open")
    line = portal_lines(po)[0]
    POPORL.objects.using(created.alias).filter(PORHSEQ=po.porhseq, PORLREV=line.line_number).update(
        OQRECEIVED=line.ordered - 1)
    PORCPH1.objects.using(created.alias).create(RCPHSEQ=990001, RCPNUMBER="RC-NEW", PONUMBER=po.po_number,
                                                PORHSEQ=po.porhseq, VDCODE=po.vendor_id, ISINVOICED=0, ISCOMPLETE=0)
    created.touch(po)
    writes, before = created.writes(), created.orders()[po.po_number].request

    run = created.cycle()

    assert created.writes() == writes and created.orders()[po.po_number].request == before
    assert run.steps.get(step="po_upsert").updated_count == 0


def test_a_new_default_ship_to_reaches_the_pos_that_use_it_and_only_those(site):
    po = known_to_portal(site.plan, eligible(site.plan))[0]
    POPORH2.objects.using(site.alias).filter(PORHSEQ=po.porhseq).update(STADDRESS1="", STADDRESS2="")
    site.cycle()
    assert "SHIPPING" not in {a["type"] for a in site.orders()[po.po_number].request["addresses"]}
    writes = site.writes()

    site.tenant.ship_to_street, site.tenant.ship_to_city = "Av. Industrial 100", "Apodaca"
    site.tenant.save()
    run = site.cycle()

    shipping = [a for a in site.orders()[po.po_number].request["addresses"] if a["type"] == "SHIPPING"]
    assert [(a["street"], a["city"]) for a in shipping] == [("Av. Industrial 100", "Apodaca")]
    assert site.writes() == writes + 1  # one batch, holding that one PO: the others' payloads did not move
    assert run.steps.get(step="po_upsert").updated_count == 1
