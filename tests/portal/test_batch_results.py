"""Batch answers: the stand-in gives `results[].id` as the spec describes it ("Id externo") or, switched,
as the portal's own id; the client matches each result by every id it carries, whichever the reading."""
from __future__ import annotations

from decimal import Decimal

import pytest

from sandbox.portal.models import BatchResultId, SandboxPayment
from sync.portal import schemas as s
from sync.portal.batch import describe, match_results
from tests.portal.factories import add_cfdis, payment


def reading(stand_in, which: str) -> None:
    stand_in.batch_result_id = which
    stand_in.save()


def test_the_stand_in_answers_cfdi_results_by_external_id_by_default(portal, stand_in):
    rows = add_cfdis(stand_in, 2)

    answer = portal.update_cfdi_erp_status([
        s.CfdiProgressRequest(cfdi_id=rows[0].portal_id, uuid=rows[0].uuid, new_status="DELIVERED_ERP"),
        s.CfdiProgressRequest(cfdi_id="0" * 24, uuid=rows[1].uuid, new_status="DELIVERED_ERP")])

    assert [r.id for r in answer.results] == [rows[0].uuid, rows[1].uuid]


def test_the_stand_in_answers_cfdi_results_by_portal_id_when_switched(portal, stand_in):
    reading(stand_in, BatchResultId.PORTAL)
    rows = add_cfdis(stand_in, 2)

    answer = portal.update_cfdi_erp_status([
        s.CfdiProgressRequest(cfdi_id=rows[0].portal_id, uuid=rows[0].uuid, new_status="DELIVERED_ERP"),
        s.CfdiProgressRequest(cfdi_id="0" * 24, uuid=rows[1].uuid, new_status="DELIVERED_ERP")])

    assert [r.id for r in answer.results] == [rows[0].portal_id, "0" * 24]


@pytest.mark.parametrize("which", [BatchResultId.EXTERNAL, BatchResultId.PORTAL])
def test_the_client_matches_cfdi_results_under_either_reading(portal, stand_in, which):
    reading(stand_in, which)
    rows = add_cfdis(stand_in, 3)
    sent = [s.CfdiProgressRequest(cfdi_id=row.portal_id, uuid=row.uuid, new_status="DELIVERED_ERP") for row in rows]
    sent[2] = s.CfdiProgressRequest(cfdi_id="0" * 24, uuid=rows[2].uuid, new_status="DELIVERED_ERP")

    answer = portal.update_cfdi_erp_status(sent)
    matched = match_results(answer.results, {u.uuid: (u.uuid, u.cfdi_id) for u in sent})

    assert set(matched.by_key) == {row.uuid for row in rows} and matched.unmatched == []
    assert [matched.by_key[row.uuid].error_code for row in rows] == [0, 0, 1800]


@pytest.mark.parametrize("which", [BatchResultId.EXTERNAL, BatchResultId.PORTAL])
def test_the_client_matches_payment_results_under_either_reading(portal, stand_in, which):
    reading(stand_in, which)
    invoices = add_cfdis(stand_in, 2, total=Decimal("500.00"))
    sent = [payment("PY1", (invoices[0].uuid, Decimal("500.00"))), payment("PY2", (invoices[1].uuid, Decimal("10")))]

    answer = portal.create_payments(sent)
    matched = match_results(answer.results, {p.external_id: (p.external_id,) for p in sent})

    created = {row.external_id: row.portal_id for row in SandboxPayment.objects.all()}
    assert set(matched.by_key) == {"PY1", "PY2"} and matched.unmatched == []
    assert {key: r.item.id for key, r in matched.by_key.items()} == created
    assert {r.id for r in answer.results} == ({"PY1", "PY2"} if which == BatchResultId.EXTERNAL
                                              else set(created.values()))


def test_a_refused_payment_under_the_portal_reading_matches_nothing(portal, stand_in):
    reading(stand_in, BatchResultId.PORTAL)

    answer = portal.create_payments([payment("PY9", ("0B8A8D1E-0000-4000-8000-000000000001", Decimal("1")))])
    matched = match_results(answer.results, {"PY9": ("PY9",)})

    assert matched.by_key == {} and matched.unanswered(["PY9"]) == ["PY9"]
    assert "1800" in describe(matched.unmatched[0])


def _result(result_id: str = "", item: dict | None = None, error_code: int = 0) -> s.BatchResponseCfdiResponse:
    return s.BatchResponseCfdiResponse(id=result_id, error_code=error_code, error_message="", item=item)


def test_it_matches_by_the_items_ids_when_the_result_id_is_foreign():
    uuid, portal_id = "0B8A8D1E-0000-4000-8000-00000000000A", "6046b54e8d2c344452f7346e"
    by_item_uuid = _result("ffffffffffffffffffffffff", {"cfdi": {"timbre": {"uuid": uuid.lower()}}})
    by_item_id = _result("", {"id": portal_id.upper()})

    assert match_results([by_item_uuid], {uuid: (uuid, "x")}).by_key == {uuid: by_item_uuid}
    assert match_results([by_item_id], {uuid: (uuid, portal_id)}).by_key == {uuid: by_item_id}


def test_it_keeps_apart_results_that_match_nothing_twice_or_two_records():
    first, second = "0B8A8D1E-0000-4000-8000-00000000000A", "0B8A8D1E-0000-4000-8000-00000000000B"
    sent = {first: (first, "a" * 24), second: (second, "b" * 24)}
    stranger, ambiguous = _result("c" * 24), _result(first, {"id": "b" * 24})
    once, again = _result(first), _result("a" * 24, error_code=1800)

    matched = match_results([stranger, ambiguous, once, again], sent)

    assert matched.by_key == {first: once}
    assert matched.unmatched == [stranger, ambiguous, again]
    assert matched.unanswered([first, second]) == [second]
