"""Payment upload: Sage payments reach the portal stand-in once, over real HTTP,
and only when every CFDI they pay is confirmed in Sage."""
from __future__ import annotations

import signal
from decimal import Decimal

import pytest

from sandbox.plan import PlanPayment
from sandbox.portal.models import SandboxCfdi, SandboxPayment
from sync.engine.pipeline import run_tenant
from sync.models import Outbound, Payment, StepRun
from sync.sage.models import APIBC, APIBH, APIBHO, APOBLO
from sync.sage.values import to_sage_date
from tenants.sage_db import sage_alias
from tests.sync.conftest import SAGE_DB
from tests.sync.processes import Installation
from tests.sync.test_providers_step import (
    TODAY,
    cycle,
    portal_writes,
    rerun_after_crash,
    sample_plan,
    subprocess_tenant,
    wire,
)

pytestmark = SAGE_DB

STEPS = ("providers", "payment_check", "payment_upload")


@pytest.fixture
def plan():
    plan = sample_plan()
    assert any(p.reversed for p in plan.payments)
    assert any(not line.cfdi_uuid for p in plan.payments for line in p.lines)
    return plan


@pytest.fixture
def company(sage_tenant, live_server, plan):
    return wire(sage_tenant, live_server, plan, steps=STEPS)


def record_of(company, docnbr: str) -> Outbound:
    return Outbound.objects.get(tenant=company, kind=Outbound.Kind.PAYMENT, key=docnbr)


def goes_out(payment: PlanPayment) -> bool:
    return not payment.reversed and all(line.cfdi_uuid for line in payment.lines)


def test_it_uploads_every_ready_payment_once_with_the_sage_facts(company, plan):
    steps = cycle(company)
    assert steps["payment_upload"].status == StepRun.Status.SUCCEEDED, steps["payment_upload"].log
    on_portal = {p.external_id: p.request for p in SandboxPayment.objects.all()}
    assert set(on_portal) == {p.docnbr for p in plan.payments if goes_out(p)}
    for expected in filter(goes_out, plan.payments):
        sent = on_portal[expected.docnbr]
        assert sent["provider_external_id"] == expected.vendor_id
        assert sent["currency"] == ("MXN" if expected.currency == "MXP" else expected.currency)
        assert Decimal(str(sent["total_amount"])) == expected.amount
        assert sent["payment_date"].startswith(expected.date.isoformat())
        assert [line["uuid"] for line in sent["cfdis"]] == [line.cfdi_uuid for line in expected.lines]
        assert Payment.objects.get(tenant=company, docnbr=expected.docnbr).state == Payment.State.UPLOADED
    assert steps["payment_upload"].created_count == len(on_portal)


def test_it_never_sends_reversed_payments_or_empty_uuids(company, plan):
    cycle(company)
    for expected in plan.payments:
        row = Payment.objects.get(tenant=company, docnbr=expected.docnbr)
        if expected.reversed:
            assert row.state == Payment.State.REVERSED
        elif not goes_out(expected):
            assert row.state == Payment.State.WAITING
            record = record_of(company, expected.docnbr)
            assert (record.state, record.reason_code, record.attention) == ("waiting", "no_cfdi_uuid", "")
            assert "no CFDI UUID" in record.reason and expected.lines[0].invoice_number in record.reason
    sent_uuids = [line["uuid"] for p in SandboxPayment.objects.all() for line in p.request["cfdis"]]
    assert all(sent_uuids)


def test_it_writes_nothing_the_second_time(company):
    cycle(company)
    before = portal_writes(company)
    steps = cycle(company)
    assert (steps["payment_upload"].created_count, steps["payment_upload"].failed_count) == (0, 0)
    assert portal_writes(company) == before


def test_it_waits_for_the_cfdi_import_and_sends_the_cycle_after_it_appears(company, plan):
    alias = sage_alias(company)
    expected = next(p for p in plan.payments if goes_out(p))
    line = expected.lines[0]
    entry = APIBH.objects.using(alias).get(IDVEND=expected.vendor_id, IDINVC=line.invoice_number)
    # Sage holds the entry, but in error and never posted: not imported yet as far as the portal is concerned.
    APIBH.objects.using(alias).filter(CNTBTCH=entry.CNTBTCH, CNTITEM=entry.CNTITEM).update(ERRENTRY=1)
    APOBLO.objects.using(alias).filter(IDVEND=entry.IDVEND, IDINVC=entry.IDINVC).delete()

    cycle(company)
    row = Payment.objects.get(tenant=company, docnbr=expected.docnbr)
    assert row.state == Payment.State.WAITING
    assert record_of(company, expected.docnbr).reason == f"waiting for CFDI import: {line.cfdi_uuid}"
    since = record_of(company, expected.docnbr).since
    assert not SandboxPayment.objects.filter(external_id=expected.docnbr).exists()

    cycle(company)  # still not in Sage: still waiting (since the first time), still not sent, no failure
    assert not SandboxPayment.objects.filter(external_id=expected.docnbr).exists()
    assert (record_of(company, expected.docnbr).since, record_of(company, expected.docnbr).attempts) == (since, 0)

    import_into_sage(alias, entry, line.cfdi_uuid)
    cycle(company)
    assert SandboxPayment.objects.filter(external_id=expected.docnbr).count() == 1
    assert Payment.objects.get(pk=row.pk).state == Payment.State.UPLOADED


def test_it_sends_a_payment_once_sage_gains_the_missing_uuid(company, plan):
    alias = sage_alias(company)
    expected = next(p for p in plan.payments if not p.reversed and not p.lines[0].cfdi_uuid)
    cycle(company)
    assert not SandboxPayment.objects.filter(external_id=expected.docnbr).exists()
    invoice = next(c for c in plan.cfdis if c.document_number == expected.lines[0].invoice_number)
    entry = APIBH.objects.using(alias).get(IDVEND=expected.vendor_id, IDINVC=invoice.document_number)
    APIBHO(CNTBTCH=entry.CNTBTCH, CNTITEM=entry.CNTITEM, OPTFIELD="FOLIOCFD", VALUE=invoice.uuid,
           AUDTDATE=to_sage_date(TODAY), AUDTTIME=0, AUDTUSER="ADMIN", AUDTORG="ACME",
           ).save(using=alias, force_insert=True)
    cycle(company)
    sent = SandboxPayment.objects.get(external_id=expected.docnbr)
    assert [line["uuid"] for line in sent.request["cfdis"]] == [invoice.uuid]


def test_it_keeps_the_portals_refusal_with_its_code(company, plan):
    expected = next(p for p in plan.payments if goes_out(p))
    cfdi = SandboxCfdi.objects.get(uuid=expected.lines[0].cfdi_uuid)
    SandboxCfdi.objects.filter(pk=cfdi.pk).update(paid=cfdi.total)  # someone else paid it on the portal
    step = cycle(company)["payment_upload"]
    row = Payment.objects.get(tenant=company, docnbr=expected.docnbr)
    record = record_of(company, expected.docnbr)
    assert row.state == Payment.State.FAILED and "(1827)" in record.last_error and "(1827)" in record.reason
    assert (record.attention, record.reason_code) == (Outbound.Attention.PERMANENT, "1827")
    assert step.failed_count == 1
    before = portal_writes(company)
    cycle(company)  # refused as it stands: not re-sent every cycle
    assert portal_writes(company) == before


def test_it_confirms_a_payment_a_killed_run_sent_without_sending_it_again(company, plan, tmp_path):
    install = Installation(tmp_path / "install", steps={
        "payment_check": "sync.steps.payment_check", "payment_upload": "sync.steps.payment_upload"})
    install.add_tenant("crashy", **subprocess_tenant(company))
    install.env["SAGECONNECT_CRASH_AT"] = "payment_upload:batch_accepted"
    killed = install.manage("sync", "--tenant", "crashy", timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    ready = {p.docnbr for p in plan.payments if goes_out(p)}
    assert {p.external_id for p in SandboxPayment.objects.all()} == ready
    assert install.query("SELECT COUNT(*) FROM sync_outbound WHERE state='confirmed'") == [(0,)]

    rerun = rerun_after_crash(install)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert sorted(p.external_id for p in SandboxPayment.objects.all()) == sorted(ready)
    states = install.query("SELECT state, COUNT(*) FROM sync_outbound WHERE kind='payment' GROUP BY state")
    waiting = sum(1 for p in plan.payments if not p.reversed and not goes_out(p))
    assert dict(states) == {Outbound.State.CONFIRMED: len(ready), Outbound.State.WAITING: waiting}
    recovered = install.query("SELECT COUNT(*) FROM sync_outboundattempt WHERE outcome='recovered'")
    assert recovered == [(len(ready),)]
    uploaded = install.query("SELECT COUNT(*) FROM sync_payment WHERE state='uploaded'")
    assert uploaded == [(len(ready),)]


def import_into_sage(alias: str, entry: APIBH, cfdi_uuid: str) -> None:
    """The invoice entered again, in a new posted batch, with its UUID: the CFDI is now in Sage."""
    audit = {"AUDTDATE": to_sage_date(TODAY), "AUDTTIME": 0, "AUDTUSER": "ADMIN", "AUDTORG": "ACME"}
    APIBC(CNTBTCH=900, DATEBTCH=to_sage_date(TODAY), BTCHDESC="Reimportada", BTCHTYPE=1, BTCHSTTS=3,
          **audit).save(using=alias, force_insert=True)
    APIBH(CNTBTCH=900, CNTITEM=1, IDVEND=entry.IDVEND, IDINVC=entry.IDINVC, TEXTTRX=1, DATEINVC=entry.DATEINVC,
          CODECURN=entry.CODECURN, AMTINVCTOT=entry.AMTINVCTOT, ERRENTRY=0, **audit,
          ).save(using=alias, force_insert=True)
    APIBHO(CNTBTCH=900, CNTITEM=1, OPTFIELD="FOLIOCFD", VALUE=cfdi_uuid, **audit).save(using=alias, force_insert=True)


def test_it_shows_the_payments_it_would_send_in_a_dry_run_and_sends_none(company, plan):
    cycle(company, "payment_check")
    before = portal_writes(company)
    run = run_tenant(company.pk, dry_run=True, only_step="payment_upload")
    shown = [line for line in run.steps.get().log if line.startswith("would send portal payments")]
    assert len(shown) == sum(1 for p in plan.payments if goes_out(p))
    assert portal_writes(company) == before
    assert not SandboxPayment.objects.exists()
    assert not Outbound.objects.filter(tenant=company, kind="payment").exists()
