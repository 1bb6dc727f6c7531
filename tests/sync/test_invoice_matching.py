"""Invoices keyed into Sage by hand, without their CFDI UUID, matched to the CFDIs we hold, on the demo
company (`sandbox company --tenant demo --seed 1`): proposed, confirmed, and their payments uploaded —
over real HTTP to the portal, Sage Web API and SAT stand-ins, on a real sandbox Sage database."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid as uuidlib
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from cfdi.models import Cfdi, CfdiStatus, InvoiceMatch, MatchState, SageWrite
from sandbox.cfdi_factory import build_cfdi_xml
from sandbox.company import write_company
from sandbox.faults import clear_faults, set_faults
from sandbox.plan import Plan, PlanCfdi, build_plan
from sandbox.portal.cases import portal_tenant_of
from sandbox.portal.models import SandboxCfdi, SandboxPayment, SandboxProvider
from sandbox.portal.seed import add_cfdi, seed_portal
from sandbox.sage_webapi import invoices as stand_in
from sandbox.sage_webapi.common import Audit
from sync import matching
from sync.engine.pipeline import run_tenant
from sync.models import Outbound, Payment, StepRun
from sync.sage.models import APIBH, APIBHO, APOBL, APOBLO, APTCP, APTCR
from sync.sage.webapi import APInvoice, APInvoiceBatch, APInvoiceDetail, SageWebApi
from sync.sat.client import reset_rate_limit
from tenants.sage_db import sage_alias
from tests.sync.cfdi.world import import_history
from tests.sync.conftest import SAGE_DB

pytestmark = SAGE_DB

PO_STEPS = ("po_create", "po_update", "po_close", "po_cancel")
# The demo's invoices captured in Sage by hand, and the payments that wait for them (sandbox/plan.py
# _payment: every fifth payment applies to an invoice Sage holds without its UUID).
HAND_KEYED = {"PY0000005": ("P00011", "FA-1010"), "PY0000010": ("P00006", "FA-1022")}
# A new invoice's amounts, unlike any of the demo's.
AMOUNTS = dict(subtotal=Decimal("1000.00"), tax=Decimal("160.00"), total=Decimal("1160.00"), discount=Decimal(0),
               base_border=Decimal(0), withheld_iva=Decimal(0), withheld_isr=Decimal(0))


def demo_plan(tenant) -> Plan:
    # `sandbox company --tenant demo --seed 1`, its defaults (sandbox command), for this tenant's portal.
    return build_plan(seed=1, vendors=20, pos=40, lines_per_po=3, cfdis=30, payments=10,
                      portal_tenant_id=tenant.portal_tenant_id)


@pytest.fixture
def cfdi_dir(settings, tmp_path):
    location = tmp_path / "cfdi"
    settings.STORAGES = {**settings.STORAGES, "cfdi": {
        "BACKEND": "cfdi.storage.AtomicFileSystemStorage", "OPTIONS": {"location": str(location)}}}
    return location


@pytest.fixture
def demo(sage_tenant, live_server, cfdi_dir):
    yield wire_demo(sage_tenant, live_server)
    clear_faults()


def wire_demo(tenant, live_server) -> tuple:
    """The demo company on the stand-ins; the PO steps, which matching does not touch, off."""
    reset_rate_limit()
    plan = demo_plan(tenant)
    tenant.rfc = plan.company_rfc
    tenant.portal_url = f"{live_server.url}/sandbox/portal"
    tenant.webapi_url = f"{live_server.url}/sandbox/sage"
    tenant.sat_status_url = f"{live_server.url}/sandbox/sat/ConsultaCFDIService.svc"
    tenant.invoice_distribution_code = "INV"
    tenant.vendor_group_code = "NAC"
    for step in PO_STEPS:
        setattr(tenant, f"step_{step}", False)
    tenant.save()
    write_company(sage_alias(tenant), plan)
    seed_portal(tenant, plan)
    return tenant, plan


def cycle(tenant) -> dict[str, StepRun]:
    run = run_tenant(tenant.pk)
    return {step.step: step for step in run.steps.all()}


def plan_cfdi(plan: Plan, number: str) -> PlanCfdi:
    return next(c for c in plan.cfdis if c.document_number == number and c.kind == "I")


def issue(tenant, like: PlanCfdi, provider_id: str, **changes) -> PlanCfdi:
    """A CFDI like `like` (its series-folio, total, date) from another provider, on the portal."""
    portal = portal_tenant_of(tenant)
    provider = SandboxProvider.objects.get(portal_tenant=portal, external_id=provider_id)
    cfdi = dataclasses.replace(like, uuid=str(uuidlib.uuid4()).upper(), vendor_id=provider_id,
                               issuer_rfc=provider.rfc, issuer_name=provider.name, in_sage=False, **changes)
    add_cfdi(portal, cfdi, provider, build_cfdi_xml(cfdi, receptor_rfc=tenant.rfc, receptor_name=tenant.name),
             receptor=(tenant.rfc, tenant.name), uploaded=dt.datetime.now(dt.timezone.utc))
    return cfdi


def proposal_of(tenant, vendor: str, number: str) -> list[InvoiceMatch]:
    return [m for m in matching.find_matches(tenant) if (m.vendor, m.document_number) == (vendor, number)]


def test_the_demos_hand_keyed_invoices_are_proposed_confirmed_and_their_payments_go_out(demo):
    tenant, plan = demo
    alias = sage_alias(tenant)
    steps = cycle(tenant)
    assert steps["payment_upload"].status == StepRun.Status.SUCCEEDED, steps["payment_upload"].log
    for docnbr, (vendor, number) in HAND_KEYED.items():
        cfdi = Cfdi.objects.get(tenant=tenant, uuid=plan_cfdi(plan, number).uuid)
        # Sage refuses its import: the same document number, keyed by hand without the UUID.
        assert cfdi.status == CfdiStatus.NEEDS_ATTENTION
        assert import_history(cfdi).first().error_code == "RecordDuplicate"
        payment = Payment.objects.get(tenant=tenant, docnbr=docnbr)
        record = Outbound.objects.get(tenant=tenant, kind=Outbound.Kind.PAYMENT, key=docnbr)
        assert payment.state == Payment.State.WAITING and "no CFDI UUID" in record.reason
        assert not SandboxPayment.objects.filter(external_id=docnbr).exists()

    proposals = matching.find_matches(tenant)
    best = {(m.vendor, m.document_number): m for m in reversed(proposals)}  # the first (best) one wins
    for vendor, number in HAND_KEYED.values():
        match = best[(vendor, number)]
        assert match.cfdi.uuid == plan_cfdi(plan, number).uuid
        assert match.score == 100 and match.posted
        assert {r["code"]: r["how"] for r in match.reasons} == {
            "vendor": "same", "number": "series_folio", "total": "exact", "date": "same"}
    # Nothing else in Sage lacks a UUID: only these two documents are proposed.
    assert {(m.vendor, m.document_number) for m in proposals} == set(HAND_KEYED.values())

    for vendor, number in HAND_KEYED.values():
        match = matching.confirm(best[(vendor, number)].pk, by="tester")
        # Posted: Sage lets nothing write its optional fields, so the match is the tie; Sage is untouched.
        assert (match.state, match.sage_write) == (MatchState.CONFIRMED, SageWrite.KEPT)
        assert not APOBLO.objects.using(alias).filter(IDVEND=vendor, IDINVC=number).exists()

    steps = cycle(tenant)
    assert steps["cfdi_import"].status == StepRun.Status.SUCCEEDED, steps["cfdi_import"].log
    for docnbr, (vendor, number) in HAND_KEYED.items():
        expected = plan_cfdi(plan, number)
        cfdi = Cfdi.objects.get(tenant=tenant, uuid=expected.uuid)
        posted = APOBL.objects.using(alias).get(IDVEND=vendor, IDINVC=number)
        assert cfdi.status == CfdiStatus.IMPORTED
        assert (cfdi.sage_batch, cfdi.sage_entry) == (int(posted.CNTBTCH), int(posted.CNTITEM))
        sent = SandboxPayment.objects.get(external_id=docnbr)
        assert [line["uuid"] for line in sent.request["cfdis"]] == [expected.uuid]
        assert Payment.objects.get(tenant=tenant, docnbr=docnbr).state == Payment.State.UPLOADED
        # The portal heard that the CFDI reached the ERP.
        assert SandboxCfdi.objects.get(uuid=expected.uuid).erp_status == "DELIVERED_ERP"

    # A third cycle has nothing left to do for them, and nothing is proposed any more.
    steps = cycle(tenant)
    assert steps["payment_upload"].created_count == 0 and steps["cfdi_import"].created_count == 0
    assert SandboxPayment.objects.filter(external_id__in=HAND_KEYED).count() == 2
    assert matching.find_matches(tenant) == []


def test_a_payment_posted_after_the_confirm_goes_out_with_the_matched_uuid(demo):
    tenant, plan = demo
    alias = sage_alias(tenant)
    # PY0000010 is posted in Sage only after a person confirmed the match of the invoice it pays.
    entry = APTCR.objects.using(alias).get(DOCNBR="PY0000010")
    lines = list(APTCP.objects.using(alias).filter(CNTBTCH=entry.CNTBTCH, CNTRMIT=entry.CNTENTR))
    APTCP.objects.using(alias).filter(CNTBTCH=entry.CNTBTCH, CNTRMIT=entry.CNTENTR).delete()
    APTCR.objects.using(alias).filter(DOCNBR="PY0000010").delete()
    cycle(tenant)
    assert not Payment.objects.filter(tenant=tenant, docnbr="PY0000010").exists()
    [match] = proposal_of(tenant, *HAND_KEYED["PY0000010"])
    assert matching.confirm(match.pk, by="tester").sage_write == SageWrite.KEPT

    entry.save(using=alias, force_insert=True)
    for line in lines:
        line.save(using=alias, force_insert=True)
    cycle(tenant)
    sent = SandboxPayment.objects.get(external_id="PY0000010")
    assert [line["uuid"] for line in sent.request["cfdis"]] == [plan_cfdi(plan, "FA-1022").uuid]


def test_an_entry_keyed_by_hand_in_an_open_batch_gets_its_uuid_through_the_web_api(demo):
    tenant, plan = demo
    alias = sage_alias(tenant)
    cycle(tenant)
    like = plan_cfdi(plan, "FA-1010")
    cfdi = issue(tenant, like, like.vendor_id, folio="7301", issued=like.issued + dt.timedelta(days=2), **AMOUNTS)
    # A person keys it in A/P Invoice Entry first, as "fa 07301", and leaves the batch open.
    with SageWebApi(tenant) as webapi:
        keyed = webapi.create_invoice_batch(APInvoiceBatch(Description="capturada a mano", Invoices=[APInvoice(
            VendorNumber=cfdi.vendor_id, DocumentNumber="fa 07301", DocumentDate=cfdi.issued.date(),
            DocumentTotalIncludingTax=cfdi.total, TaxAmountControl="Enter", TaxAmount1=cfdi.tax,
            InvoiceDetails=[APInvoiceDetail(LineNumber=20, DistributionCode="INV",
                                            DistributedAmount=cfdi.total - cfdi.tax)])]))
    batch, entry = keyed.BatchNumber, keyed.Invoices[0].EntryNumber
    # Downloaded, not imported yet: spelled "FA-7301", Sage would not even see it as a duplicate.
    run_tenant(tenant.pk, only_step="cfdi_download")

    [match] = proposal_of(tenant, cfdi.vendor_id, "fa 07301")
    assert match.cfdi.uuid == cfdi.uuid and not match.posted and (match.sage_batch, match.sage_entry) == (batch, entry)
    assert {r["code"]: r["how"] for r in match.reasons}["number"] == "series_folio"  # "fa 07301" is FA-7301
    match = matching.confirm(match.pk, by="tester")
    assert (match.state, match.sage_write) == (MatchState.CONFIRMED, SageWrite.WRITTEN), match.sage_error
    assert match.sage_request["method"] == "PATCH" and match.sage_request["url"].endswith(f"APInvoiceBatches({batch})")
    assert list(APIBHO.objects.using(alias).filter(CNTBTCH=batch, CNTITEM=entry).values_list("OPTFIELD", "VALUE")) == [
        ("FOLIOCFD", cfdi.uuid)]

    cycle(tenant)  # downloads it, and finds it in Sage: never sent, so never refused as a duplicate
    stored = Cfdi.objects.get(tenant=tenant, uuid=cfdi.uuid)
    assert (stored.status, stored.sage_batch, stored.sage_entry) == (CfdiStatus.IMPORTED, batch, entry)
    assert not import_history(stored).filter(error_code="RecordDuplicate").exists()
    assert APIBH.objects.using(alias).filter(IDVEND=cfdi.vendor_id).exclude(CNTBTCH=batch).filter(
        IDINVC__in=["FA-7301", "fa 07301"]).count() == 0
    # Posting copies the field to the posted document (AOM APOBLO), where Sage keeps it from then on.
    stand_in.post_batch(alias, batch, Audit("ADMIN", "SAGETEST"))
    assert APOBLO.objects.using(alias).get(IDVEND=cfdi.vendor_id, IDINVC="fa 07301",
                                          OPTFIELD="FOLIOCFD").VALUE.strip() == cfdi.uuid


def test_a_confirm_sage_refuses_is_recorded_and_can_be_done_again(demo):
    tenant, plan = demo
    alias = sage_alias(tenant)
    cycle(tenant)
    like = plan_cfdi(plan, "FA-1022")
    cfdi = issue(tenant, like, like.vendor_id, folio="7302", **AMOUNTS)
    with SageWebApi(tenant) as webapi:
        keyed = webapi.create_invoice_batch(APInvoiceBatch(Invoices=[APInvoice(
            VendorNumber=cfdi.vendor_id, DocumentNumber="FA-7302", DocumentDate=cfdi.issued.date(),
            DocumentTotalIncludingTax=cfdi.total, TaxAmountControl="Enter", TaxAmount1=cfdi.tax,
            InvoiceDetails=[APInvoiceDetail(DistributionCode="INV", DistributedAmount=cfdi.total - cfdi.tax)])]))
    cycle(tenant)
    [match] = proposal_of(tenant, cfdi.vendor_id, "FA-7302")
    assert Cfdi.objects.get(tenant=tenant, uuid=cfdi.uuid).status == CfdiStatus.NEEDS_ATTENTION
    # Sage's business layer refuses the write (say, the optional field is not set up for A/P invoices).
    set_faults(f"sage:{tenant.webapi_company.upper()}", refuse_when_body_has=cfdi.uuid, refuse_code="RecordInvalid")
    match = matching.confirm(match.pk, by="tester")
    assert (match.state, match.sage_write) == (MatchState.CONFIRMED, SageWrite.FAILED)
    assert match.sage_error.startswith("RecordInvalid")
    assert not APIBHO.objects.using(alias).filter(CNTBTCH=keyed.BatchNumber).exists()
    assert Cfdi.objects.get(tenant=tenant, uuid=cfdi.uuid).status == CfdiStatus.NEEDS_ATTENTION  # not put back
    clear_faults()
    match = matching.confirm(match.pk, by="tester")
    assert match.sage_write == SageWrite.WRITTEN
    assert Cfdi.objects.get(tenant=tenant, uuid=cfdi.uuid).status == CfdiStatus.VALID
    cycle(tenant)
    stored = Cfdi.objects.get(tenant=tenant, uuid=cfdi.uuid)
    assert (stored.status, stored.sage_batch) == (CfdiStatus.IMPORTED, keyed.BatchNumber)


def test_a_rejected_proposal_is_never_proposed_again(demo, capsys):
    tenant, plan = demo
    cycle(tenant)
    vendor, number = HAND_KEYED["PY0000005"]
    [match] = proposal_of(tenant, vendor, number)
    with pytest.raises(SystemExit) as done:
        call_command("match_invoices", "--tenant", tenant.code, "--reject", str(match.pk))
    assert done.value.code == 0 and "will not be proposed again" in capsys.readouterr().out
    for _ in range(2):
        assert proposal_of(tenant, vendor, number) == []
        cycle(tenant)
    assert InvoiceMatch.objects.get(pk=match.pk).state == MatchState.REJECTED
    assert Payment.objects.get(tenant=tenant, docnbr="PY0000005").state == Payment.State.WAITING
    # The other one is still proposed.
    assert [m.document_number for m in matching.find_matches(tenant)] == [HAND_KEYED["PY0000010"][1]]


def test_a_cfdi_from_another_vendor_with_the_same_total_scores_lower_and_waits_for_a_person(demo):
    tenant, plan = demo
    vendor, number = HAND_KEYED["PY0000005"]
    right = plan_cfdi(plan, number)
    other_vendor = next(v.vendor_id for v in plan.vendors if v.in_sage and v.external_id_on_portal
                        and v.vendor_id != vendor and v.currency == "MXP")
    cycle(tenant)
    # Another supplier whose folio is also FA-1010, for the same amount, the same day; downloaded, not imported yet.
    wrong = issue(tenant, right, other_vendor)
    run_tenant(tenant.pk, only_step="cfdi_download")

    matches = proposal_of(tenant, vendor, number)
    assert [m.cfdi.uuid for m in matches] == [right.uuid, wrong.uuid]  # best first
    assert matches[0].score > matches[1].score >= matching.PROPOSE_AT
    assert {r["code"]: r["points"] > 0 for r in matches[1].reasons} == {
        "vendor": False, "number": True, "total": True, "date": True}
    cycle(tenant)  # nobody decided: nothing is tied or sent
    assert InvoiceMatch.objects.filter(tenant=tenant, state=MatchState.PROPOSED).count() == len(matches) + 1
    assert not InvoiceMatch.objects.exclude(state=MatchState.PROPOSED).exists()
    assert not SandboxPayment.objects.filter(external_id="PY0000005").exists()

    matching.confirm(matches[0].pk, by="tester")
    assert InvoiceMatch.objects.get(pk=matches[1].pk).state == MatchState.SUPERSEDED
    with pytest.raises(matching.MatchRefused):
        matching.confirm(matches[1].pk, by="tester")
    # Two people pressing Confirm on both at the same moment: the database lets one document have one.
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceMatch.objects.filter(pk=matches[1].pk).update(state=MatchState.CONFIRMED)
    cycle(tenant)
    sent = SandboxPayment.objects.get(external_id="PY0000005")
    assert [line["uuid"] for line in sent.request["cfdis"]] == [right.uuid]


def test_the_command_lists_the_proposals_as_json_and_confirms_one(demo, capsys):
    tenant, plan = demo
    cycle(tenant)
    with pytest.raises(SystemExit):
        call_command("match_invoices", "--tenant", tenant.code, "--json")
    listed = json.loads(capsys.readouterr().out)
    assert [(row["sage"]["vendor"], row["sage"]["document_number"]) for row in listed] == sorted(
        HAND_KEYED.values(), key=lambda key: next(c.issued for c in plan.cfdis if c.document_number == key[1]))
    assert all(row["score"] == 100 and len(row["reasons"]) == 4 and row["reasons"][0]["text"] for row in listed)
    with pytest.raises(SystemExit) as done:
        call_command("match_invoices", "--tenant", tenant.code, "--confirm", str(listed[0]["id"]))
    assert done.value.code == 0
    assert "SageConnect keeps the match" in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        call_command("match_invoices", "--tenant", tenant.code, "--reject", str(listed[0]["id"]))
    assert done.value.code == 1 and "can no longer be rejected" in capsys.readouterr().err
    with pytest.raises(CommandError) as refused:
        call_command("match_invoices", "--tenant", "nobody")
    assert refused.value.returncode == 2 and "sagetest" in str(refused.value)


def test_scoring_normalises_numbers_and_allows_the_exchange_rate_for_a_foreign_invoice():
    assert matching.normalise_number("fa 01010") == matching.normalise_number("FA-1010") == "FA1010"
    assert matching.normalise_number("A/0007-B") == "A7B"
    cfdi = Cfdi(issuer_rfc="ABC010101AB1", series="F", folio="88", currency="USD", total=Decimal("1000.00"),
                exchange_rate=Decimal("17.2500"), kind="I")
    posted = matching.SageInvoice("V1", "F-0088", 1, dt.date(2026, 1, 10), "USD", None, Decimal("17400.00"),
                                  Decimal("17.4000"), 3, 1, posted=True)
    points, reasons = matching.score(cfdi, posted, vendor_rfc="ABC010101AB1", day=dt.date(2026, 1, 8))
    assert {r["code"]: r["how"] for r in reasons} == {"vendor": "same", "number": "series_folio", "total": "exact",
                                                      "date": "near"}
    assert points == 35 + 30 + 25 + 6
    # Keyed in pesos at another day's rate: the total agrees within the tolerance, not to the cent.
    pesos = dataclasses.replace(posted, currency="MXN", rate=Decimal(1), home_total=Decimal("17600.00"))
    assert {r["code"]: r["how"] for r in matching.score(cfdi, pesos, vendor_rfc="", day=None)[1]}["total"] == "rate"
    far = dataclasses.replace(pesos, home_total=Decimal("19000.00"))
    assert {r["code"]: r["how"] for r in matching.score(cfdi, far, vendor_rfc="", day=None)[1]}["total"] == "differs"
