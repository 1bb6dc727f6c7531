"""The attention page: every kind of record that needs a person in one list, filters, Retry of just those
records (one task per tenant, its state told as it happens), Resolve and Ignore with a note, counts asked
to be confirmed."""
from __future__ import annotations

import pytest
from django_q.models import OrmQ

from cfdi.models import Cfdi, CfdiStatus
from sync.engine.lease import take_lease
from sync.models import Outbound, OutboundAttempt, RetryRequest
from sync.retry import TASK, run_request

pytestmark = pytest.mark.django_db


def _queued() -> list[tuple]:
    return [(q.task["func"], q.task["args"]) for q in OrmQ.objects.order_by("id")]


def _every_kind(tenant) -> dict[str, Outbound]:
    """Beside the world's refused invoice: a record of every other kind that needs a person."""
    made = {}
    for kind, attention, key in (("vendor", "permanent", "a" * 24), ("po", "exceeded", "PO1"),
                                 ("po_status", "permanent", "PO2"), ("payment", "permanent", "PY1"),
                                 ("complement", "person", "PY2"), ("cfdi_status", "permanent", "U-STATUS")):
        made[kind] = Outbound.objects.create(tenant=tenant, kind=kind, key=key, attention=attention,
                                             state="waiting" if attention == "person" else "failed",
                                             reason=f"What to do about {kind} {key}.")
    return made


def test_it_lists_every_kind_that_needs_a_person_and_filters_them(staff_client, world):
    first, second = world(2)
    _every_kind(first)
    page = staff_client.get("/attention/").content.decode()
    for kind in ("vendor", "po", "po_status", "payment", "complement", "cfdi_status"):
        assert f"What to do about {kind}" in page
    # Both tenants' refused invoices, each with what to do and its last error.
    assert page.count("Vendor H&amp;E951128469 does not exist in Sage.") == 4
    assert "waits for an invoice not yet in Sage" not in page  # waiting is not needing a person

    def listed(query: str) -> set[tuple[str, str]]:
        rows = staff_client.get(f"/attention/?{query}").context["rows"]
        return {(row.record.tenant.code, row.record.kind) for row in rows}

    assert listed(f"tenant={second.code}") == {(second.code, "cfdi_import")}
    assert listed("kind=complement") == {(first.code, "complement")}
    assert listed("reason=exceeded") == {(first.code, "po")}
    assert listed("reason=RecordInvalid") == {(first.code, "cfdi_import"), (second.code, "cfdi_import")}
    waiting = staff_client.get("/attention/?show=waiting")
    assert {(r.record.tenant.code, r.record.kind) for r in waiting.context["rows"]} == {
        (first.code, "payment"), (second.code, "payment")}
    assert "waits for an invoice not yet in Sage" in waiting.content.decode()


def test_bulk_retry_asks_first_then_queues_one_task_per_tenant(staff_client, world,
                                                              django_capture_on_commit_callbacks):
    first, second = world(2)
    made = _every_kind(first)
    chosen = [made["po"].pk, made["vendor"].pk] + list(
        Outbound.objects.filter(kind="cfdi_import").values_list("pk", flat=True))
    form = {"action": "retry", "ids": chosen, "query": ""}

    asked = staff_client.post("/attention/act", form)

    assert 'id="confirm-count">4 records, of 2 tenant(s).' in asked.content.decode()
    assert not RetryRequest.objects.exists() and _queued() == []
    with django_capture_on_commit_callbacks(execute=True):
        done = staff_client.post("/attention/act", {**form, "confirmed": "1"}, follow=True)
    assert "Retry of 4 record(s) queued: one task for each of 2 tenant(s)" in done.content.decode()
    requests = {r.tenant_id: r for r in RetryRequest.objects.all()}
    assert sorted(len(r.records) for r in requests.values()) == [1, 3]
    assert sorted(_queued()) == sorted((TASK, (r.pk,)) for r in requests.values())
    # Nothing about the records changed before a task ran: they still need their person.
    assert Outbound.objects.get(pk=made["po"].pk).attention == "exceeded"
    assert Cfdi.objects.filter(status=CfdiStatus.FAILED).count() == 2
    page = staff_client.get("/attention/").content.decode()
    assert page.count('class="retry-state"><span class="status st-queued"') == 4


def test_a_retry_the_tenant_was_too_busy_for_says_so_and_changes_nothing(world):
    tenant = world(1)[0]
    record = Outbound.objects.get(tenant=tenant, kind="cfdi_import")
    from sync.retry import request_retry

    (request,) = request_retry([record], by="ana", queue=False)
    take_lease(tenant.pk, "other-host:1:abcd")  # another run holds the tenant

    run_request(request.pk)

    request.refresh_from_db()
    assert request.state == RetryRequest.State.BUSY and "other-host:1:abcd" in request.note
    assert request.run.skip_reason == "lease_held"
    record.refresh_from_db()
    assert (record.attention, record.state) == ("permanent", "failed")
    assert Cfdi.objects.get(tenant=tenant).status == CfdiStatus.FAILED
    run_request(request.pk)  # delivered twice: the second delivery does nothing
    assert RetryRequest.objects.get(pk=request.pk).run_id == request.run_id


def test_resolve_and_ignore_need_a_note_and_keep_it(staff_client, world):
    tenant = world(1)[0]
    made = _every_kind(tenant)
    form = {"action": "ignore", "ids": [made["vendor"].pk], "query": "", "confirmed": "1"}

    refused = staff_client.post("/attention/act", form, follow=True)
    assert "Say in a note what was done" in refused.content.decode()
    assert Outbound.objects.get(pk=made["vendor"].pk).attention == "permanent"

    staff_client.post("/attention/act", {**form, "note": "a test supplier"}, follow=True)
    staff_client.post("/attention/act", {**form, "action": "resolve", "ids": [made["po"].pk],
                                         "note": "the portal is back"}, follow=True)

    ignored, resolved = Outbound.objects.get(pk=made["vendor"].pk), Outbound.objects.get(pk=made["po"].pk)
    assert (ignored.attention, ignored.closed, ignored.closed_note) == ("", "ignored", "a test supplier")
    assert (resolved.attention, resolved.closed, resolved.attempts) == ("", "resolved", 0)
    assert ignored.closed_by == resolved.closed_by == "staffer"
    assert OutboundAttempt.objects.get(record=ignored).message == "a test supplier"
    assert "a test supplier" not in staff_client.get("/attention/").content.decode()


def test_every_record_of_the_filtered_list_can_be_chosen_at_once(staff_client, world):
    world(3)
    query = "reason=permanent"
    asked = staff_client.post("/attention/act", {"action": "resolve", "every": "1", "query": query, "note": "done"})
    assert 'id="confirm-count">3 records, of 3 tenant(s).' in asked.content.decode()
    staff_client.post("/attention/act", {"action": "resolve", "every": "1", "query": query, "note": "done",
                                         "confirmed": "1"})
    assert not Outbound.objects.exclude(attention="").exists()
    # Resolved: the invoices are back in line for the next cycle, as the projection says.
    assert set(Cfdi.objects.values_list("status", flat=True)) == {CfdiStatus.VALID}


def test_only_staff_may_act_and_only_by_post(client, world, django_user_model):
    world(1)
    record = Outbound.objects.exclude(attention="").first()
    form = {"action": "resolve", "ids": [record.pk], "note": "x", "confirmed": "1"}
    assert client.post("/attention/act", form).status_code == 302  # to the login page
    client.force_login(django_user_model.objects.create_user("nobody", password="x-Long-pass-4-tests"))
    assert client.post("/attention/act", form).status_code == 403
    assert Outbound.objects.get(pk=record.pk).attention == "permanent"
