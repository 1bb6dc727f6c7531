"""The CFDI import step against the Sage 300 Web API stand-in over real HTTP: money
(currency, rate, taxes with withholdings and several rates), credit notes and
the invoice they correct, one bad invoice never blocking the others, and "in
Sage" read from the posted documents too (what survives Clear History)."""
from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from cfdi import storage
from cfdi.models import Cfdi, CfdiStatus
from cfdi.parsing import parse_xml
from cfdi.services import store_cfdi
from cfdi.taxes import cfdi_taxes
from sandbox.cfdi_factory import build_cfdi_xml
from sandbox.company import TAX_GROUP, write_company
from sandbox.faults import set_faults
from sandbox.plan import build_plan
from sandbox.portal.seed import seed_portal
from sandbox.sage_webapi import invoices as stand_in
from sandbox.sage_webapi.common import Audit
from sandbox.sat.register import register_stamped
from sync.cfdi_import import VendorFacts, build_invoice
from sync.engine.outbox import close
from sync.models import Outbound, OutboundAttempt, StepRun
from sync.sage.models import APIBC, APIBH, APIBHO, APOBL, APRDC, APVEN
from sync.sage.webapi import APInvoiceBatch, SageWebApi
from tenants.sage_db import sage_alias
from tests.cfdi.samples import sample
from tests.sync.cfdi.world import COMPANY_RFC, cfdi_dir, import_history, import_record, run_step  # noqa: F401
from tests.sync.conftest import SAGE_DB

pytestmark = SAGE_DB



@pytest.fixture
def plan():
    # Ten vendors: the ninth is a USD vendor; forty CFDIs hold two-rate and withholding invoices.
    plan = build_plan(seed=7, vendors=10, pos=4, cfdis=40, payments=0, company_rfc=COMPANY_RFC)
    new = [c for c in plan.cfdis if c.kind == "I" and not c.in_sage and plan.vendor(c.vendor_id).in_sage]
    assert any(c.base_border for c in new) and any(c.withheld for c in new) and any(c.currency == "USD" for c in new)
    return plan


@pytest.fixture
def company(sage_tenant, live_server, plan, cfdi_dir):
    tenant = sage_tenant
    tenant.portal_url = f"{live_server.url}/sandbox/portal"
    tenant.webapi_url = f"{live_server.url}/sandbox/sage"
    tenant.sat_status_url = f"{live_server.url}/sandbox/sat/ConsultaCFDIService.svc"
    tenant.invoice_distribution_code = "INV"
    tenant.save()
    write_company(sage_alias(tenant), plan)
    seed_portal(tenant, plan)
    return tenant


def download_and_import(tenant) -> StepRun:
    assert run_step(tenant, "cfdi_download").status == StepRun.Status.SUCCEEDED
    return run_step(tenant, "cfdi_import")


def sage_entry(tenant, cfdi: Cfdi) -> APIBH:
    return APIBH.objects.using(sage_alias(tenant)).get(CNTBTCH=cfdi.sage_batch, CNTITEM=cfdi.sage_entry)


def store_stamped(tenant, xml: bytes) -> Cfdi:
    """Stored as the download would, and known to SAT's status stand-in (SAT holds whatever it stamped)."""
    register_stamped(xml)
    return store_cfdi(tenant, xml, {})


def store_planned(tenant, planned) -> Cfdi:
    return store_stamped(tenant, build_cfdi_xml(planned, COMPANY_RFC, "ACME"))


# ---------------------------------------------------------------------------
# Money

def test_sages_total_and_tax_are_the_cfdis_for_two_rates_withholdings_and_dollars(company, plan):
    step = download_and_import(company)

    assert step.status == StepRun.Status.SUCCEEDED, (step.message, step.log)
    checked = set()
    for planned in plan.cfdis:
        if planned.kind != "I" or planned.in_sage or not plan.vendor(planned.vendor_id).in_sage:
            continue
        cfdi = Cfdi.objects.get(tenant=company, uuid=planned.uuid)
        assert cfdi.status == CfdiStatus.IMPORTED, import_history(cfdi).first().message
        entry = sage_entry(company, cfdi)
        assert (entry.AMTGROSTOT, entry.AMTTAXTOT, entry.AMTUNDISTR) == (
            planned.total, planned.tax - planned.withheld, 0), planned
        assert (entry.AMTTAX1, entry.AMTTAX2, entry.AMTTAX3) == (planned.tax, -planned.withheld_iva,
                                                                 -planned.withheld_isr)
        if planned.currency == "USD":
            assert (entry.CODECURN, entry.EXCHRATEHC, entry.SWMANRTE) == ("USD", planned.exchange_rate, 1)
        else:
            assert (entry.CODECURN, entry.EXCHRATEHC) == ("MXP", 1)
        checked.add("border" if planned.base_border else "withheld" if planned.withheld else planned.currency)
    assert {"border", "withheld", "USD", "MXN"} <= checked


def test_the_shared_sample_with_withholdings_balances_in_sage(company):
    """satcfdi-cfdi40-with-addenda.xml: IVA 16 % transferred, ISR 10 % and IVA 10.6667 % withheld.
    (Unstamped, so it is sent here as the step would build it rather than through the step.)"""
    xml = sample("satcfdi-cfdi40-with-addenda.xml")
    assert {t.key for t in cfdi_taxes(parse_xml(xml))} == {"T002", "R001", "R002"}
    alias = sage_alias(company)
    APVEN(VENDORID="HE01", VENDNAME="H&E", IDGRP="NAC", CURNCODE="MXP", CODETAXGRP=TAX_GROUP, SWACTV=1).save(
        using=alias, force_insert=True)
    cfdi = Cfdi(tenant=company, uuid="1A2B3C4D-0000-4000-8000-000000000001", kind="I", folio="123456",
                series="A", subtotal=Decimal("15390.30"), total=Decimal("14672.08"), currency="MXN",
                issuer_name="H&E", issued=dt.datetime(2020, 9, 29, 22, 40, tzinfo=dt.timezone.utc),
                sha256=storage.store_original(xml))
    invoice = build_invoice(cfdi, company, VendorFacts("HE01", "MXP"))
    assert invoice.tax_amounts() == {1: Decimal("2462.45"), 2: Decimal("-1641.64"), 3: Decimal("-1539.03")}

    with SageWebApi(company) as webapi:
        answer = webapi.create_invoice_batch(APInvoiceBatch(Description="sample", Invoices=[invoice]))

    entry = answer.Invoices[0]
    assert (entry.DocumentTotalIncludingTax, entry.TaxTotal, entry.UndistributedAmount) == (
        Decimal("14672.08"), Decimal("-718.22"), 0)
    assert APIBH.objects.using(alias).get(IDVEND="HE01").AMTINVCTOT == Decimal("15390.30")


def test_the_stamped_sample_with_withholdings_waits_for_its_tax_mapping_then_imports(company):
    """cfdiutils-cfdi33-valid.xml transfers tax 001 (ISR) and withholds 002 (IVA): the tenant maps
    no Sage authority to an ISR transfer, so the invoice waits with that sentence, alone."""
    company.rfc = "COSC8001137NA"
    company.save()
    alias = sage_alias(company)
    APVEN(VENDORID="EKU01", VENDNAME="EKU", IDGRP="NAC", CURNCODE="MXP", CODETAXGRP=TAX_GROUP, SWACTV=1,
          IDTAXREGI1="EKU9003173C9").save(using=alias, force_insert=True)
    cfdi = store_stamped(company, sample("cfdiutils-cfdi33-valid.xml"))
    assert cfdi.status == CfdiStatus.VALID, cfdi.problems

    first = run_step(company, "cfdi_import")
    cfdi.refresh_from_db()
    assert cfdi.status == CfdiStatus.NEEDS_ATTENTION
    assert "T001" in import_history(cfdi).get().message and first.failed_count == 1
    record = import_record(cfdi)
    assert record.attention == Outbound.Attention.CONFIG and "T001" in record.reason  # a setting must change
    run_step(company, "cfdi_import")
    assert import_history(cfdi).count() == 1, "not tried again as it stands"

    company.sage_tax_authorities = {"T001": 1, "R002": 2}
    company.save()
    close([record], Outbound.Closed.RESOLVED, by="ana", note="mapped T001")  # what Resolve on the attention page does
    cfdi.refresh_from_db()
    assert cfdi.status == CfdiStatus.VALID
    run_step(company, "cfdi_import")
    cfdi.refresh_from_db()
    entry = sage_entry(company, cfdi)
    assert cfdi.status == CfdiStatus.IMPORTED
    assert (entry.AMTGROSTOT, entry.AMTTAXTOT, entry.AMTUNDISTR) == (
        Decimal("2382870"), Decimal("363104") - Decimal("249634"), 0)


def test_a_cfdi_in_another_currency_than_its_vendors_waits_with_the_reason(company, plan):
    usd = next(c for c in plan.cfdis if c.currency == "USD" and c.kind == "I" and not c.in_sage)
    APVEN.objects.using(sage_alias(company)).filter(VENDORID=usd.vendor_id).update(CURNCODE="MXP")

    download_and_import(company)

    cfdi = Cfdi.objects.get(tenant=company, uuid=usd.uuid)
    assert cfdi.status == CfdiStatus.NEEDS_ATTENTION
    assert "USD" in import_history(cfdi).get().message and "MXP" in import_history(cfdi).get().message
    assert import_record(cfdi).attention == Outbound.Attention.PERSON
    assert Cfdi.objects.filter(tenant=company, status=CfdiStatus.IMPORTED).count() > 1


# ---------------------------------------------------------------------------
# Credit notes

def credit_note(plan, invoice, uuid: str, related: tuple[str, ...], folio: str):
    return dataclasses.replace(invoice, uuid=uuid, kind="E", series="NC", folio=folio, in_sage=False,
                               related=related, subtotal=Decimal("100.00"), discount=Decimal(0),
                               tax=Decimal("16.00"), total=Decimal("116.00"), base_border=Decimal(0),
                               withheld_iva=Decimal(0), withheld_isr=Decimal(0), payment_method="PUE")


def test_a_credit_note_is_applied_to_its_posted_invoice_or_imported_unapplied_saying_why(company, plan):
    posted = next(c for c in plan.cfdis if c.kind == "I" and c.in_sage and c.currency == "MXN"
                  and APOBL.objects.using(sage_alias(company)).filter(IDINVC=c.document_number, SWPAID=0).exists())
    applied = store_planned(company, credit_note(plan, posted, "AAAAAAAA-0000-4000-8000-000000000001",
                                                 (posted.uuid,), "9001"))
    unknown = store_planned(company, credit_note(plan, posted, "AAAAAAAA-0000-4000-8000-000000000002",
                                                 ("BBBBBBBB-0000-4000-8000-00000000000B",), "9002"))

    run_step(company, "cfdi_import")

    for cfdi in (applied, unknown):
        cfdi.refresh_from_db()
        assert cfdi.status == CfdiStatus.IMPORTED
    assert sage_entry(company, applied).INVCAPPLTO == posted.document_number
    assert posted.document_number in import_history(applied).get().message
    assert sage_entry(company, unknown).INVCAPPLTO == ""
    note = import_history(unknown).get().message
    assert note.startswith("Imported unapplied") and "BBBBBBBB-0000-4000-8000-00000000000B" in note


def test_a_credit_note_waits_until_its_invoice_is_posted(company, plan):
    fresh = next(c for c in plan.cfdis if c.kind == "I" and not c.in_sage and c.currency == "MXN"
                 and plan.vendor(c.vendor_id).in_sage and not c.withheld)
    download_and_import(company)
    invoice = Cfdi.objects.get(tenant=company, uuid=fresh.uuid)
    assert invoice.status == CfdiStatus.IMPORTED
    note = store_planned(company, credit_note(plan, fresh, "AAAAAAAA-0000-4000-8000-000000000003", (fresh.uuid,),
                                              "9003"))

    run_step(company, "cfdi_import")
    run_step(company, "cfdi_import")
    note.refresh_from_db()
    assert note.status == CfdiStatus.VALID
    waits = list(import_history(note))
    assert len(waits) == 1 and "posted" in waits[0].message  # said once, not every cycle
    assert (import_record(note).state, import_record(note).attention) == (Outbound.State.WAITING, "")

    stand_in.post_batch(sage_alias(company), invoice.sage_batch, Audit("ADMIN", "ACME"))
    run_step(company, "cfdi_import")
    note.refresh_from_db()
    assert note.status == CfdiStatus.IMPORTED
    assert sage_entry(company, note).INVCAPPLTO == fresh.document_number


# ---------------------------------------------------------------------------
# One invoice never blocks the others

def test_a_batch_refused_without_naming_the_entry_is_halved_until_the_bad_invoice_is_alone(company, plan):
    to_import = [c for c in plan.cfdis if c.kind in "IE" and not c.in_sage and plan.vendor(c.vendor_id).in_sage]
    poison = to_import[len(to_import) // 2]
    set_faults(f"sage:{company.webapi_company}", refuse_when_body_has=f'"DocumentNumber": "{poison.document_number}"',
               refuse_code="General")

    step = download_and_import(company)

    bad = Cfdi.objects.get(tenant=company, uuid=poison.uuid)
    assert bad.status == CfdiStatus.FAILED
    attempt = import_history(bad).get()
    assert (attempt.outcome, attempt.error_code) == (OutboundAttempt.Outcome.REFUSED, "General")
    others = Cfdi.objects.filter(tenant=company, uuid__in=[c.uuid for c in to_import if c is not poison])
    assert {c.status for c in others} == {CfdiStatus.IMPORTED}
    assert step.failed_count == 1 and step.status == StepRun.Status.FAILED
    folios = set(APIBHO.objects.using(sage_alias(company)).values_list("VALUE", flat=True))
    assert poison.uuid not in folios and all(c.uuid in folios for c in to_import if c is not poison)


def test_a_missing_distribution_code_is_one_tenant_problem_and_no_invoice_is_touched(company):
    APRDC.objects.using(sage_alias(company)).all().delete()
    batches_before = APIBC.objects.using(sage_alias(company)).count()

    step = download_and_import(company)

    assert step.status == StepRun.Status.FAILED
    assert "INV" in step.message and "invoice distribution code" in step.message
    assert not OutboundAttempt.objects.filter(outcome__in=("refused", "failed")).exists()
    assert not Outbound.objects.exclude(attempts=0).exists()  # the tenant's problem costs no invoice an attempt
    assert APIBC.objects.using(sage_alias(company)).count() == batches_before


def test_a_refused_web_api_user_is_one_tenant_problem(company):
    assert run_step(company, "cfdi_download").status == StepRun.Status.SUCCEEDED
    set_faults(f"sage:{company.webapi_company}", error_rate=1.0, error_statuses=[401])

    step = run_step(company, "cfdi_import")

    assert step.status == StepRun.Status.FAILED and "Unauthorized" in step.message
    assert not Cfdi.objects.filter(tenant=company, status__in=(CfdiStatus.FAILED, CfdiStatus.NEEDS_ATTENTION)).exists()


def test_an_entry_sage_keeps_out_of_balance_is_marked_for_attention(company, plan):
    """A Sage that works the tax out itself, ignoring the withholdings entered (a stand-in fault): the
    entry is in Sage but out of balance, so it is shown for a person, not passed as imported."""
    set_faults(f"sage:{company.webapi_company}", recalculate_taxes=True)

    download_and_import(company)

    withheld = [c for c in plan.cfdis if c.withheld and not c.in_sage and plan.vendor(c.vendor_id).in_sage]
    assert withheld
    for planned in withheld:
        cfdi = Cfdi.objects.get(tenant=company, uuid=planned.uuid)
        assert cfdi.status == CfdiStatus.NEEDS_ATTENTION and cfdi.sage_batch
        message = import_history(cfdi).get().message
        assert "undistributed" in message and "before posting" in message
        assert (import_record(cfdi).state, import_record(cfdi).attention) == ("confirmed", "person")
        assert sage_entry(company, cfdi).AMTUNDISTR == -planned.withheld  # the withholdings Sage left out
    plain = next(c for c in plan.cfdis if c.kind == "I" and not c.in_sage and not c.withheld
                 and not c.base_border and plan.vendor(c.vendor_id).in_sage)
    assert Cfdi.objects.get(tenant=company, uuid=plain.uuid).status == CfdiStatus.IMPORTED


# ---------------------------------------------------------------------------
# In Sage is in Sage

def test_after_clear_history_what_sage_holds_is_found_and_never_imported_twice(sage_tenant, live_server, plan,
                                                                               cfdi_dir):
    tenant = sage_tenant
    tenant.portal_url = f"{live_server.url}/sandbox/portal"
    tenant.webapi_url = f"{live_server.url}/sandbox/sage"
    tenant.sat_status_url = f"{live_server.url}/sandbox/sat/ConsultaCFDIService.svc"
    tenant.invoice_distribution_code = "INV"
    tenant.save()
    alias = sage_alias(tenant)
    write_company(alias, plan, cleared_history=True)
    seed_portal(tenant, plan)
    assert not APIBH.objects.using(alias).exists()  # the older importer's batches are gone

    step = download_and_import(tenant)

    assert step.status == StepRun.Status.SUCCEEDED, (step.message, step.log)
    held = [c for c in plan.cfdis if c.kind in "IE" and c.in_sage and plan.vendor(c.vendor_id).in_sage]
    assert held
    for planned in held:
        cfdi = Cfdi.objects.get(tenant=tenant, uuid=planned.uuid)
        attempt = import_history(cfdi).get()
        assert (cfdi.status, attempt.outcome) == (CfdiStatus.IMPORTED, OutboundAttempt.Outcome.RECOVERED), planned
        assert "posted" in attempt.message
        document = APOBL.objects.using(alias).get(IDVEND=planned.vendor_id, IDINVC=planned.document_number)
        assert (cfdi.sage_batch, cfdi.sage_entry) == (int(document.CNTBTCH), int(document.CNTITEM))
    entered = list(APIBH.objects.using(alias).values_list("IDVEND", "IDINVC"))
    assert entered and len(entered) == len(set(entered))
    assert not set(entered) & set(APOBL.objects.using(alias).values_list("IDVEND", "IDINVC"))
