"""Step 3, CFDI import, against the Sage 300 Web API stand-in and the portal stand-in over real HTTP."""
from __future__ import annotations

import pytest

from cfdi.models import Cfdi, CfdiStatus
from sandbox.faults import set_faults
from sandbox.portal.models import SandboxCfdi
from sync.models import Outbound, OutboundAttempt, StepRun
from sync.retry import retry_import
from sync.sage.models import APIBC, APIBH, APIBHO, APOBL, APVEN
from sync.sage.values import trimmed
from sync.steps.cfdi_import import ERP_STATUS
from tenants.sage_db import sage_alias
from tests.sync.cfdi.world import (  # noqa: F401 (fixtures)
    cfdi_dir,
    import_history,
    import_record,
    make_plan,
    plan,
    run_step,
    to_import,
    world,
)
from tests.sync.conftest import SAGE_DB

Outcome = OutboundAttempt.Outcome

pytestmark = SAGE_DB


def folio_rows(tenant) -> dict[str, list[tuple[int, int]]]:
    """UUID → every (batch, entry) of Sage carrying it in FOLIOCFD."""
    rows: dict[str, list[tuple[int, int]]] = {}
    for batch, entry, value in APIBHO.objects.using(sage_alias(tenant)).filter(OPTFIELD="FOLIOCFD").values_list(
            "CNTBTCH", "CNTITEM", "VALUE"):
        rows.setdefault(trimmed(value).upper(), []).append((int(batch), int(entry)))
    return rows


def downloaded(tenant):
    step = run_step(tenant, "cfdi_download")
    assert step.status == StepRun.Status.SUCCEEDED, step.message
    return tenant


def test_it_imports_every_valid_cfdi_with_its_batch_and_entry(world, plan):
    downloaded(world)
    batches_before = APIBC.objects.using(sage_alias(world)).count()

    step = run_step(world, "cfdi_import")

    expected = to_import(plan)
    assert step.created_count == len(expected) > 0
    folios = folio_rows(world)
    alias = sage_alias(world)
    for uuid in expected:
        cfdi = Cfdi.objects.get(tenant=world, uuid=uuid)
        assert cfdi.status == CfdiStatus.IMPORTED
        assert folios[uuid] == [(cfdi.sage_batch, cfdi.sage_entry)]
        entry = APIBH.objects.using(alias).get(CNTBTCH=cfdi.sage_batch, CNTITEM=cfdi.sage_entry)
        # Sage's total and tax are the CFDI's, nothing left undistributed.
        assert (entry.IDINVC, entry.AMTGROSTOT, entry.AMTTAXTOT, entry.AMTUNDISTR) == (
            cfdi.document_number, cfdi.total.quantize(entry.AMTGROSTOT),
            (cfdi.taxes_transferred - cfdi.taxes_withheld).quantize(entry.AMTTAXTOT), 0)
        assert entry.TEXTTRX == (3 if cfdi.kind == "E" else 1)
        # In the vendor's currency, a foreign one at the CFDI's exchange rate.
        assert entry.CODECURN == ("USD" if cfdi.currency == "USD" else "MXP")
        assert entry.EXCHRATEHC == (cfdi.exchange_rate if cfdi.currency == "USD" else 1)
        assert import_history(cfdi).get().outcome == Outcome.CONFIRMED
        assert import_record(cfdi).outside_ids == {"sage_batch": cfdi.sage_batch, "sage_entry": cfdi.sage_entry}
    assert APIBC.objects.using(alias).count() > batches_before


def test_it_records_what_sage_already_holds_without_sending_it(world, plan):
    downloaded(world)
    run_step(world, "cfdi_import")

    folios = folio_rows(world)
    for planned in (c for c in plan.cfdis if c.in_sage and c.kind in "IE"):
        cfdi = Cfdi.objects.get(tenant=world, uuid=planned.uuid)
        assert cfdi.status == CfdiStatus.IMPORTED
        assert folios[planned.uuid] == [(cfdi.sage_batch, cfdi.sage_entry)]
        assert import_history(cfdi).get().outcome == Outcome.RECOVERED


def test_it_holds_back_an_invoice_whose_issuer_is_no_sage_vendor_until_there_is_one(world, plan):
    downloaded(world)
    expected = to_import(plan)
    vendor_id = next(c.vendor_id for c in plan.cfdis if c.uuid in expected)
    held_back = {c.uuid for c in plan.cfdis if c.uuid in expected and c.vendor_id == vendor_id}
    vendor = APVEN.objects.using(sage_alias(world)).filter(VENDORID=vendor_id)
    rfc = trimmed(vendor.get().IDTAXREGI1)
    vendor.update(IDTAXREGI1="")  # no Sage vendor carries the issuer's RFC

    first = run_step(world, "cfdi_import")

    # It waits for its vendor (the providers step, or a person in Sage): no failure, no attempt, the reason shown.
    assert first.failed_count == 0 and first.skipped_count >= len(held_back)
    for uuid in held_back:
        cfdi = Cfdi.objects.get(tenant=world, uuid=uuid)
        assert cfdi.status == CfdiStatus.INVALID
        assert [p["code"] for p in cfdi.problems] == ["vendor_unknown"]
        record = import_record(cfdi)
        assert (record.state, record.reason_code, record.attempts) == ("waiting", "vendor_unknown", 0)
        assert rfc in record.reason and "create or fix the vendor first" in record.reason
        assert uuid not in folio_rows(world)
        assert list(import_history(cfdi).values_list("outcome", flat=True)) == [Outcome.WAITING]
    vendor.update(IDTAXREGI1=rfc)  # e.g. someone fixed the vendor in Sage

    second = run_step(world, "cfdi_import")

    assert (second.created_count, second.failed_count) == (len(held_back), 0)
    for uuid in held_back:
        cfdi = Cfdi.objects.get(tenant=world, uuid=uuid)
        assert (cfdi.status, cfdi.problems) == (CfdiStatus.IMPORTED, [])
        assert folio_rows(world)[uuid] == [(cfdi.sage_batch, cfdi.sage_entry)]


def test_it_imports_nothing_more_on_a_rerun(world, plan):
    downloaded(world)
    run_step(world, "cfdi_import")
    alias = sage_alias(world)
    before = (APIBC.objects.using(alias).count(), APIBH.objects.using(alias).count(), OutboundAttempt.objects.count(),
              list(Outbound.objects.values_list("pk", "updated")))

    step = run_step(world, "cfdi_import")

    assert step.created_count == 0
    assert (APIBC.objects.using(alias).count(), APIBH.objects.using(alias).count(), OutboundAttempt.objects.count(),
            list(Outbound.objects.values_list("pk", "updated"))) == before


def test_it_reports_the_erp_status_to_the_portal_once(world, plan):
    downloaded(world)
    run_step(world, "cfdi_import")

    imported = set(Cfdi.objects.filter(tenant=world, status=CfdiStatus.IMPORTED).values_list("uuid", flat=True))
    told = dict(SandboxCfdi.objects.filter(portal_tenant__tenant_id="acme").values_list("uuid", "erp_status"))
    assert imported and {uuid for uuid, status in told.items() if status == ERP_STATUS} == imported
    records = Outbound.objects.filter(tenant=world, kind=Outbound.Kind.CFDI_STATUS)
    assert set(records.filter(state=Outbound.State.CONFIRMED).values_list("key", flat=True)) == imported
    SandboxCfdi.objects.filter(portal_tenant__tenant_id="acme").update(erp_status="")

    run_step(world, "cfdi_import")

    assert not SandboxCfdi.objects.filter(portal_tenant__tenant_id="acme").exclude(erp_status="").exists()


def test_it_isolates_an_invoice_sage_refuses_and_imports_the_rest(world, plan):
    downloaded(world)
    expected = to_import(plan)
    victim = Cfdi.objects.get(tenant=world, uuid=sorted(expected)[0])
    vendor_id = next(c.vendor_id for c in plan.cfdis if c.uuid == victim.uuid)
    # Our lookup still finds the vendor by RFC; Sage refuses to post to it.
    APVEN.objects.using(sage_alias(world)).filter(VENDORID=vendor_id).update(SWACTV=0)
    refused = {c.uuid for c in plan.cfdis if c.uuid in expected and c.vendor_id == vendor_id}

    step = run_step(world, "cfdi_import")

    assert step.failed_count >= len(refused)
    for uuid in refused:
        cfdi = Cfdi.objects.get(tenant=world, uuid=uuid)
        attempt = import_history(cfdi).get()
        assert (cfdi.status, attempt.outcome, attempt.error_code) == (
            CfdiStatus.FAILED, Outcome.REFUSED, "RecordInvalid")
        assert vendor_id in attempt.message
        assert import_record(cfdi).attention == Outbound.Attention.PERMANENT
    imported = set(Cfdi.objects.filter(tenant=world, uuid__in=expected, status=CfdiStatus.IMPORTED)
                   .values_list("uuid", flat=True))
    assert imported == expected - refused
    assert set(folio_rows(world)) >= imported


def captured_by_hand(plan) -> list:
    """The plan's invoices captured in Sage by hand: their document number, without their FOLIOCFD."""
    captured = {line.invoice_number for p in plan.payments for line in p.lines if not line.cfdi_uuid}
    return [c for c in plan.cfdis if c.document_number in captured]


def assert_duplicates_need_a_person(tenant, plan, by_hand, says: str) -> None:
    for planned in by_hand:
        cfdi = Cfdi.objects.get(tenant=tenant, uuid=planned.uuid)
        attempt = import_history(cfdi).get()
        assert (cfdi.status, attempt.error_code) == (CfdiStatus.NEEDS_ATTENTION, "RecordDuplicate")
        assert planned.document_number in attempt.message and "by hand" in attempt.message
        assert says.format(number=planned.document_number) in attempt.message
        assert import_record(cfdi).attention == Outbound.Attention.PERSON
    others = to_import(plan) - {c.uuid for c in by_hand}
    assert Cfdi.objects.filter(tenant=tenant, uuid__in=others, status=CfdiStatus.IMPORTED).count() == len(others)


@pytest.mark.parametrize("plan", [make_plan(seed=7, payments=6)], indirect=False)
def test_it_needs_attention_when_sage_has_the_document_number_without_the_uuid(world, plan):
    # The plan's fifth payment pays an invoice captured by hand: in Sage without its FOLIOCFD.
    by_hand = captured_by_hand(plan)
    assert by_hand
    downloaded(world)

    run_step(world, "cfdi_import")

    # Read from Sage's posted documents before sending: not one batch sent only to be refused for it.
    assert_duplicates_need_a_person(world, plan, by_hand, "(APOBL), read before sending")


@pytest.mark.parametrize("plan", [make_plan(seed=7, payments=6)], indirect=False)
def test_a_document_number_sage_holds_in_an_unposted_batch_is_refused_by_sage_itself(world, plan):
    # The same invoices captured by hand, but still in an open batch: not posted, so the import's own read
    # of posted documents does not see them, and Sage's refusal naming the entry is what sorts them out.
    by_hand = captured_by_hand(plan)
    alias = sage_alias(world)
    entries = APIBH.objects.using(alias).filter(IDINVC__in=[c.document_number for c in by_hand])
    assert entries.count() == len(by_hand)
    APIBC.objects.using(alias).filter(CNTBTCH__in=entries.values("CNTBTCH")).update(BTCHSTTS=1)
    APOBL.objects.using(alias).filter(IDINVC__in=[c.document_number for c in by_hand]).delete()
    downloaded(world)

    run_step(world, "cfdi_import")

    assert_duplicates_need_a_person(world, plan, by_hand, "Document Number {number} already exists")  # Sage's


def test_it_converges_under_web_api_faults(world, plan, settings):
    # Back-to-back cycles stand for cycles the backoff would space out.
    settings.SYNC_RETRY_BACKOFF_SECONDS = 0
    downloaded(world)
    world.invoice_batch_max = 3
    world.save()
    set_faults(f"sage:{world.webapi_company.upper()}", error_rate=0.3, error_statuses=[503])
    expected = to_import(plan)
    for _cycle in range(10):
        run_step(world, "cfdi_import")
        if Cfdi.objects.filter(tenant=world, uuid__in=expected, status=CfdiStatus.IMPORTED).count() == len(expected):
            break
    folios = folio_rows(world)
    assert all(len(folios.get(uuid, [])) == 1 for uuid in expected), {u: folios.get(u) for u in expected}
    assert Cfdi.objects.filter(tenant=world, uuid__in=expected, status=CfdiStatus.IMPORTED).count() == len(expected)


def test_it_retries_one_invoice_on_request(world, plan):
    downloaded(world)
    expected = to_import(plan)
    victim_uuid = sorted(expected)[0]
    vendor_id = next(c.vendor_id for c in plan.cfdis if c.uuid == victim_uuid)
    vendors = APVEN.objects.using(sage_alias(world)).filter(VENDORID=vendor_id)
    vendors.update(SWACTV=0)
    run_step(world, "cfdi_import")
    assert Cfdi.objects.get(tenant=world, uuid=victim_uuid).status == CfdiStatus.FAILED
    vendors.update(SWACTV=1)

    run = retry_import(world.pk, victim_uuid.lower(), by="ana")

    cfdi = Cfdi.objects.get(tenant=world, uuid=victim_uuid)
    assert run.trigger == "retry" and [s.step for s in run.steps.all()] == ["cfdi_import"]
    assert cfdi.status == CfdiStatus.IMPORTED and folio_rows(world)[victim_uuid] == [(cfdi.sage_batch, cfdi.sage_entry)]
    assert [a.outcome for a in import_history(cfdi).order_by("at", "pk")] == [
        Outcome.REFUSED, Outcome.RETRY, Outcome.CONFIRMED]
    assert import_history(cfdi).get(outcome=Outcome.RETRY).by == "ana"
    # Just that one: no other invoice was looked at.
    assert run.steps.get().created_count == 1


def test_it_names_an_unknown_tenant_in_the_import_command(db):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="No tenant with code 'nope'"):
        call_command("cfdi", "import", "--tenant", "nope")


def test_it_refuses_to_retry_a_cfdi_that_cannot_be_imported(world, plan):
    downloaded(world)
    payment = next(c for c in plan.cfdis if c.kind == "P")

    with pytest.raises(ValueError, match=payment.uuid):
        retry_import(world.pk, payment.uuid)
