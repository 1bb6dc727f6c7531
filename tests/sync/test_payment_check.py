import datetime as dt
from decimal import Decimal

import pytest
from django.db import connections

from sandbox.company import write_company
from sandbox.plan import build_plan
from sync.engine.pipeline import run_tenant
from sync.models import Payment, PaymentLine, StepRun
from sync.sage.models import APBTA, APIBC, APIBH, APIBHO, APOBL, APOBLO, APPYM, APTCP, APTCR
from sync.sage.values import currency, to_sage_date
from tenants.sage_db import sage_alias
from tests.sync.conftest import SAGE_DB

pytestmark = SAGE_DB

TODAY = dt.date(2026, 11, 20)


def check_payments(tenant):
    run = run_tenant(tenant.pk, only_step="payment_check")
    return run.steps.get()


@pytest.fixture
def plan():
    plan = build_plan(seed=11, vendors=8, pos=4, cfdis=30, payments=12, today=TODAY)
    # The cases this file is about must be in the sample.
    assert any(p.reversed for p in plan.payments)
    assert any(not line.cfdi_uuid for p in plan.payments for line in p.lines)
    return plan


@pytest.fixture
def company(sage_tenant, plan):
    write_company(sage_alias(sage_tenant), plan)
    return sage_tenant


def test_it_records_every_posted_payment_with_its_invoices_and_uuids(company, plan):
    step = check_payments(company)
    assert step.status == StepRun.Status.SUCCEEDED, step.message
    assert step.created_count == len(plan.payments)
    for expected in plan.payments:
        payment = Payment.objects.get(tenant=company, docnbr=expected.docnbr)
        assert (payment.vendor, payment.date, payment.amount) == (expected.vendor_id, expected.date, expected.amount)
        assert payment.currency == currency(expected.currency)
        assert (payment.batch, payment.entry, payment.bank) == (expected.batch, expected.entry, expected.bank)
        lines = [(ln.invoice_number, ln.cfdi_uuid, ln.amount) for ln in payment.lines.all()]
        assert lines == [(ln.invoice_number, ln.cfdi_uuid.upper(), ln.amount) for ln in expected.lines]


def test_it_keeps_reversed_payments_from_ever_waiting_for_upload(company, plan):
    check_payments(company)
    for expected in plan.payments:
        state = Payment.objects.get(tenant=company, docnbr=expected.docnbr).state
        assert state == (Payment.State.REVERSED if expected.reversed else Payment.State.WAITING)


def test_it_writes_nothing_and_reads_little_the_second_time(company, plan, django_assert_max_num_queries):
    check_payments(company)
    before = list(Payment.objects.order_by("pk").values_list("pk", "updated"))
    lines_before = list(PaymentLine.objects.order_by("pk").values_list("pk", "cfdi_uuid"))
    alias = sage_alias(company)
    # bank map + one page of entries + reversals + (APOBLO, APIBH + APIBHO) for UUIDs still missing
    with django_assert_max_num_queries(6, connection=connections[alias]):
        step = check_payments(company)
    assert (step.created_count, step.updated_count) == (0, 0)
    assert step.skipped_count == len(plan.payments)
    assert list(Payment.objects.order_by("pk").values_list("pk", "updated")) == before
    assert list(PaymentLine.objects.order_by("pk").values_list("pk", "cfdi_uuid")) == lines_before


def test_it_reads_a_first_cycle_in_few_queries(company, django_assert_max_num_queries):
    alias = sage_alias(company)
    with django_assert_max_num_queries(7, connection=connections[alias]):
        check_payments(company)


def test_it_ignores_payments_before_the_tenant_start_date(company, plan):
    dates = sorted({p.date for p in plan.payments})
    assert len(dates) > 1
    company.start_date = dates[-1]
    company.save()
    check_payments(company)
    assert set(Payment.objects.values_list("docnbr", flat=True)) == {
        p.docnbr for p in plan.payments if p.date >= dates[-1]}


def test_it_records_nothing_in_a_dry_run(company):
    run = run_tenant(company.pk, only_step="payment_check", dry_run=True)
    assert run.steps.get().status == StepRun.Status.SUCCEEDED
    assert not Payment.objects.exists()
    assert any(line.startswith("would record payment") for line in run.steps.get().log)


# Hand-made rows: the filters one by one.

def add_payment(alias, *, batch, entry, docnbr, batch_status=3, paymtype="PY", rmittype=1, errentry=0,
                invoice="FA-1", vendor="V1", remit="CHK1", date=TODAY, bank="BANK1", amount=Decimal("100.000"),
                bank_amount=None, currency_code="MXP"):
    if not APBTA.objects.using(alias).filter(PAYMTYPE=paymtype, CNTBTCH=batch).exists():
        APBTA.objects.using(alias).create(PAYMTYPE=paymtype, CNTBTCH=batch, BATCHSTAT=batch_status, IDBANK=bank)
    APTCR.objects.using(alias).create(
        BTCHTYPE=paymtype, CNTBTCH=batch, CNTENTR=entry, IDVEND=vendor, DOCNBR=docnbr, IDRMIT=remit,
        DATERMIT=to_sage_date(date), AMTRMIT=bank_amount or amount, AMTRMITTC=amount, RMITTYPE=rmittype,
        ERRENTRY=errentry, CODECURN=currency_code)
    APTCP.objects.using(alias).create(BATCHTYPE=paymtype, CNTBTCH=batch, CNTRMIT=entry, CNTLINE=1, IDVEND=vendor,
                                      IDINVC=invoice, AMTPAYM=amount)
    APPYM.objects.using(alias).create(IDBANK=bank, IDVEND=vendor, IDRMIT=remit, LONGSERIAL=entry,
                                      DATERMIT=to_sage_date(date), CNTBTCH=batch, CNTITEM=entry, SWCHKCLRD=0)


def add_invoice(alias, *, batch, item, vendor="V1", invoice="FA-1", uuid=None):
    APIBC.objects.using(alias).get_or_create(CNTBTCH=batch, defaults={"BTCHSTTS": 3})
    APIBH.objects.using(alias).create(CNTBTCH=batch, CNTITEM=item, IDVEND=vendor, IDINVC=invoice)
    if uuid is not None:
        APIBHO.objects.using(alias).create(CNTBTCH=batch, CNTITEM=item, OPTFIELD="FOLIOCFD", VALUE=uuid)


def test_it_leaves_out_unposted_batches_error_entries_and_other_remittance_types(sage_tenant):
    alias = sage_alias(sage_tenant)
    add_payment(alias, batch=1, entry=1, docnbr="PY-POSTED", remit="C1")
    add_payment(alias, batch=2, entry=1, docnbr="PY-OPEN", batch_status=1, remit="C2")
    add_payment(alias, batch=1, entry=2, docnbr="PY-ERROR", errentry=1, remit="C3")
    add_payment(alias, batch=1, entry=3, docnbr="PY-PREPAY", rmittype=2, remit="C4")
    add_payment(alias, batch=1, entry=1, docnbr="AD-ADJUST", paymtype="AD", remit="C5")
    check_payments(sage_tenant)
    assert list(Payment.objects.values_list("docnbr", flat=True)) == ["PY-POSTED"]


def test_it_fills_a_uuid_that_sage_gains_later_and_notices_a_later_reversal(sage_tenant):
    alias = sage_alias(sage_tenant)
    add_payment(alias, batch=5, entry=1, docnbr="PY-A", invoice="FA-10", remit="CA")
    add_payment(alias, batch=5, entry=2, docnbr="PY-B", invoice="FA-11", remit="CB")
    add_invoice(alias, batch=40, item=1, invoice="FA-10")
    check_payments(sage_tenant)
    assert PaymentLine.objects.get(payment__docnbr="PY-A").cfdi_uuid == ""

    APIBHO.objects.using(alias).create(CNTBTCH=40, CNTITEM=1, OPTFIELD="FOLIOCFD",
                                       VALUE="6f1c2a9e-0b4d-4e8a-9c3b-2d7e5f8a1b0c")
    APPYM.objects.using(alias).filter(IDRMIT="CB").update(SWCHKCLRD=2)
    step = check_payments(sage_tenant)
    assert step.updated_count == 2
    assert PaymentLine.objects.get(payment__docnbr="PY-A").cfdi_uuid == "6F1C2A9E-0B4D-4E8A-9C3B-2D7E5F8A1B0C"
    assert Payment.objects.get(docnbr="PY-B").state == Payment.State.REVERSED
    assert Payment.objects.get(docnbr="PY-A").state == Payment.State.WAITING


def test_it_finds_a_payment_posted_in_an_older_batch_after_a_newer_one(sage_tenant):
    alias = sage_alias(sage_tenant)
    add_payment(alias, batch=9, entry=1, docnbr="PY-NINE", remit="C9")
    add_payment(alias, batch=3, entry=1, docnbr="PY-THREE", batch_status=1, remit="C3")
    check_payments(sage_tenant)
    APBTA.objects.using(alias).filter(CNTBTCH=3).update(BATCHSTAT=3)
    check_payments(sage_tenant)
    assert set(Payment.objects.values_list("docnbr", flat=True)) == {"PY-NINE", "PY-THREE"}


def test_it_reports_the_amount_the_vendor_receives_in_its_own_currency(sage_tenant):
    """A USD vendor paid from a peso bank: the portal hears AMTRMITTC dollars with CODECURN, not AMTRMIT pesos."""
    alias = sage_alias(sage_tenant)
    add_payment(alias, batch=7, entry=1, docnbr="PY-USD", vendor="V9", remit="T77", amount=Decimal("1000.000"),
                bank_amount=Decimal("17250.000"), currency_code="USD")
    check_payments(sage_tenant)
    payment = Payment.objects.get(docnbr="PY-USD")
    assert (payment.amount, payment.currency) == (Decimal("1000.000"), "USD")


def test_a_check_number_reused_elsewhere_does_not_mark_the_payment_reversed(sage_tenant):
    """APPYM's key is IDBANK, IDVEND, IDRMIT, LONGSERIAL, DATERMIT: the same check number in another bank,
    in another year or from another entry is another check."""
    alias = sage_alias(sage_tenant)
    add_payment(alias, batch=8, entry=1, docnbr="PY-KEEP", remit="500")
    for other in (dict(IDBANK="BANK2", DATERMIT=to_sage_date(TODAY)),
                  dict(IDBANK="BANK1", DATERMIT=to_sage_date(TODAY - dt.timedelta(days=365))),
                  dict(IDBANK="BANK1", DATERMIT=to_sage_date(TODAY), LONGSERIAL=99, CNTBTCH=3, CNTITEM=4)):
        APPYM.objects.using(alias).create(**{"IDVEND": "V1", "IDRMIT": "500", "LONGSERIAL": 1, **other},
                                          SWCHKCLRD=2)
    check_payments(sage_tenant)
    assert Payment.objects.get(docnbr="PY-KEEP").state == Payment.State.WAITING

    APPYM.objects.using(alias).filter(IDBANK="BANK1", LONGSERIAL=1, CNTBTCH=8).update(SWCHKCLRD=2)
    check_payments(sage_tenant)
    assert Payment.objects.get(docnbr="PY-KEEP").state == Payment.State.REVERSED


def test_it_finds_the_uuid_of_a_paid_invoice_whose_batch_was_cleared(sage_tenant):
    """After Clear History the invoice is only a posted document: its FOLIOCFD is read from APOBLO."""
    alias = sage_alias(sage_tenant)
    add_payment(alias, batch=6, entry=1, docnbr="PY-OLD", invoice="FA-99", remit="C6")
    APOBL.objects.using(alias).create(IDVEND="V1", IDINVC="FA-99", TXTTRXTYPE=1, CNTBTCH=2, CNTITEM=1)
    APOBLO.objects.using(alias).create(IDVEND="V1", IDINVC="FA-99", OPTFIELD="FOLIOCFD",
                                       VALUE="0b5a3a5e-1c3d-4f8e-9a2b-7c6d5e4f3a2b")
    check_payments(sage_tenant)
    assert PaymentLine.objects.get(payment__docnbr="PY-OLD").cfdi_uuid == "0B5A3A5E-1C3D-4F8E-9A2B-7C6D5E4F3A2B"


def test_a_payment_without_a_date_is_named_and_does_not_hold_back_the_others(sage_tenant):
    """APTCR DATERMIT 0 is no date, and a Payment needs one: the entry is named in the step's log, counted as
    failed, and read again each cycle; the other new payments are recorded all the same."""
    alias = sage_alias(sage_tenant)
    add_payment(alias, batch=4, entry=1, docnbr="PY-DATED", remit="D1")
    add_payment(alias, batch=4, entry=2, docnbr="PY-UNDATED", remit="D2", date=None)
    step = check_payments(sage_tenant)
    assert (step.status, step.created_count, step.failed_count) == (StepRun.Status.FAILED, 1, 1)
    assert list(Payment.objects.values_list("docnbr", flat=True)) == ["PY-DATED"]
    assert any("PY-UNDATED" in line and "DATERMIT" in line for line in step.log)

    APTCR.objects.using(alias).filter(DOCNBR="PY-UNDATED").update(DATERMIT=to_sage_date(TODAY))
    step = check_payments(sage_tenant)
    assert (step.status, step.created_count, step.failed_count) == (StepRun.Status.SUCCEEDED, 1, 0)
    assert Payment.objects.get(docnbr="PY-UNDATED").date == TODAY
