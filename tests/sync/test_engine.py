"""The exporter contract and the outbound record, against a small outside system kept in memory.

(The real kinds are tested against the stand-ins in their own files; this checks
the engine's own promises, once for every kind: look before writing again, the
hash of the payload built, bounded retries, needs a person, dry run, history.)
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.utils import timezone

from sync.engine.context import StepContext
from sync.engine.exporter import Built, Exporter, Job, export
from sync.engine.outbox import (
    Confirmed,
    Failed,
    Needs,
    Waiting,
    backoff,
    close,
    payload_hash,
    raise_finding,
    strip_secrets,
)
from sync.models import Outbound, OutboundAttempt, SyncRun

State, Attention = Outbound.State, Outbound.Attention


class Refused(Exception):
    pass


class Dropped(Exception):
    """The connection dropped: whether the write landed is unknown."""


class TenantLocked(Exception):
    pass


class OutsideSystem:
    def __init__(self) -> None:
        self.records: dict[str, dict] = {}
        self.writes = 0
        self.lookups = 0
        self.fail_with: Exception | None = None
        self.crash_after_write = False
        self.refuse: set[str] = set()

    def write(self, key: str, payload: dict, existing_id: str) -> str:
        if self.fail_with is not None:
            raise self.fail_with
        self.writes += 1
        if key in self.refuse:
            raise Refused(f"{key} has no date")
        record_id = existing_id or self.records.get(key, {}).get("id") or f"{len(self.records) + 1:024x}"
        self.records[key] = {"id": record_id, **payload}
        if self.crash_after_write:
            raise Dropped("connection dropped after the write")
        return record_id


class OrdersExporter(Exporter[dict]):
    """Orders {"key": …, "total": …} onto the outside system; an order with "wait" waits."""
    kind = Outbound.Kind.PO
    name = "orders"
    batch_size = 2
    tenant_errors = (TenantLocked,)
    outside_errors = (ConnectionError,)

    def __init__(self, ctx: StepContext, outside: OutsideSystem, orders: list[dict]) -> None:
        super().__init__(ctx)
        self.outside, self.orders = outside, orders

    def changed(self, keys: frozenset[str] | None) -> Iterator[list[dict]]:
        yield [o for o in self.orders if keys is None or o["key"] in keys]

    def key(self, item: dict) -> str:
        return item["key"]

    def lookup(self, items: list[dict], records: dict[str, Outbound]) -> dict[str, Confirmed]:
        self.outside.lookups += len(items)
        return {o["key"]: Confirmed(self.outside.records[o["key"]]["id"]) for o in items
                if o["key"] in self.outside.records}

    def build(self, items, records, found):
        built: dict = {}
        for order in items:
            if order.get("wait"):
                built[order["key"]] = Waiting("invoice", order["wait"], person=order.get("person", False))
            else:
                built[order["key"]] = Built({"external_id": order["key"], "total": order["total"]}, action="upsert")
        return built

    def send(self, jobs: list[Job[dict]]):
        results = {}
        for job in jobs:
            try:
                results[job.key] = Confirmed(self.outside.write(job.key, job.request, job.outside_id))
            except Refused as refusal:
                results[job.key] = Failed(str(refusal), code="400", permanent=True)
        return results


@pytest.fixture
def tenant(make_tenant):
    return make_tenant()


@pytest.fixture
def new_ctx(tenant):
    def make(**options) -> StepContext:
        run = SyncRun.objects.create(tenant=tenant)
        return StepContext(tenant_id=tenant.pk, run_id=run.pk, step="po_upsert", **options)
    return make


def run(new_ctx, outside, orders, **options):
    ctx = new_ctx(**options)
    export(OrdersExporter(ctx, outside, orders))
    return ctx


def record(key="PO1") -> Outbound:
    return Outbound.objects.get(key=key)


def test_it_writes_once_then_costs_nothing(new_ctx):
    outside = OutsideSystem()
    first = run(new_ctx, outside, [{"key": "PO1", "total": 1}])
    again = run(new_ctx, outside, [{"key": "PO1", "total": 1}])
    assert outside.writes == 1
    assert (first.result.created, again.result.created, again.result.skipped) == (1, 0, 1)
    row = record()
    assert (row.state, row.outside_id, row.run_id) == (State.CONFIRMED, outside.records["PO1"]["id"], first.run_id)
    # The hash is of the payload built, and the payload is what was sent.
    assert row.content_hash == payload_hash({"external_id": "PO1", "total": 1})
    assert row.last_request == {"external_id": "PO1", "total": 1}
    assert list(row.history.values_list("outcome", flat=True)) == [OutboundAttempt.Outcome.CONFIRMED]


def test_it_replaces_the_same_record_when_the_payload_changed(new_ctx):
    outside = OutsideSystem()
    run(new_ctx, outside, [{"key": "PO1", "total": 1}])
    first_id = outside.records["PO1"]["id"]
    ctx = run(new_ctx, outside, [{"key": "PO1", "total": 2}])
    assert ctx.result.updated == 1 and outside.writes == 2
    assert outside.records["PO1"] == {"id": first_id, "external_id": "PO1", "total": 2}
    assert record().content_hash == payload_hash({"external_id": "PO1", "total": 2})


def test_it_finds_a_write_a_crash_left_unrecorded_instead_of_writing_again(new_ctx):
    outside = OutsideSystem()
    outside.crash_after_write = True
    with pytest.raises(Dropped):
        run(new_ctx, outside, [{"key": "PO1", "total": 1}])
    assert record().state == State.PENDING and record().sent_hash == payload_hash({"external_id": "PO1", "total": 1})
    outside.crash_after_write = False
    ctx = run(new_ctx, outside, [{"key": "PO1", "total": 1}])
    assert outside.writes == 1 and outside.lookups == 1
    assert record().state == State.CONFIRMED
    assert record().history.get().outcome == OutboundAttempt.Outcome.RECOVERED
    assert ctx.result.created == 1


def test_it_sends_the_new_payload_when_a_crashed_write_was_found_but_the_content_moved_on(new_ctx):
    outside = OutsideSystem()
    outside.crash_after_write = True
    with pytest.raises(Dropped):
        run(new_ctx, outside, [{"key": "PO1", "total": 1}])
    outside.crash_after_write = False
    run(new_ctx, outside, [{"key": "PO1", "total": 5}])
    assert outside.writes == 2 and outside.records["PO1"]["total"] == 5 and len(outside.records) == 1


def test_it_writes_again_when_the_crashed_write_never_arrived(new_ctx):
    outside = OutsideSystem()
    outside.fail_with = TimeoutError("no answer")
    with pytest.raises(TimeoutError):
        run(new_ctx, outside, [{"key": "PO1", "total": 1}])
    outside.fail_with = None
    run(new_ctx, outside, [{"key": "PO1", "total": 1}])
    assert outside.writes == 1 and len(outside.records) == 1 and record().state == State.CONFIRMED


def test_it_only_shows_the_payloads_in_a_dry_run(new_ctx):
    outside = OutsideSystem()
    ctx = run(new_ctx, outside, [{"key": "PO1", "total": 1}, {"key": "PO2", "wait": "for its invoice"}],
              dry_run=True)
    assert outside.writes == 0 and not Outbound.objects.exists() and not OutboundAttempt.objects.exists()
    assert ctx.result.would_send == [{"target": "portal", "key": "PO1", "payload": {"external_id": "PO1", "total": 1}}]


def test_a_passing_failure_backs_off_then_needs_a_person_after_the_cap(new_ctx, settings):
    settings.SYNC_MAX_ATTEMPTS = 3
    outside = OutsideSystem()
    outside.fail_with = ConnectionError("502 Bad Gateway")
    orders = [{"key": "PO1", "total": 1}]
    ctx = run(new_ctx, outside, orders)
    row = record()
    # It may have landed: PENDING, so the next try asks first; not before the backoff.
    assert (row.state, row.attempts, row.attention, ctx.result.failed) == (State.PENDING, 1, "", 1)
    assert row.not_before > timezone.now() + backoff(1) - dt.timedelta(seconds=5)
    assert "502" in row.last_error
    lookups = outside.lookups
    ctx = run(new_ctx, outside, orders)
    assert (ctx.result.skipped, outside.lookups, record().attempts) == (1, lookups, 1)  # backing off: not even asked
    for attempts in (2, 3):
        Outbound.objects.update(not_before=timezone.now() - dt.timedelta(seconds=1))
        run(new_ctx, outside, orders)
        assert record().attempts == attempts
    row = record()
    assert (row.attention, row.not_before) == (Attention.EXCEEDED, None)
    assert "3 times" in row.reason and "502" in row.reason
    assert row.history.first().outcome == OutboundAttempt.Outcome.NEEDS_PERSON
    outside.fail_with = None
    ctx = run(new_ctx, outside, orders)
    assert outside.writes == 0 and ctx.result.skipped == 1  # not retried silently: a person is asked
    run(new_ctx, outside, orders, only={Outbound.Kind.PO: frozenset({"PO1"})})  # a person's Retry
    assert record().state == State.CONFIRMED and record().attention == "" and outside.writes == 1


def test_a_refusal_needs_a_person_at_once_and_is_sent_again_only_when_something_changes(new_ctx):
    outside = OutsideSystem()
    outside.refuse = {"PO1"}
    ctx = run(new_ctx, outside, [{"key": "PO1", "total": 1}])
    row = record()
    assert (row.state, row.attention, row.reason_code, ctx.result.failed) == (
        State.FAILED, Attention.PERMANENT, "400", 1)
    assert "PO1 has no date" in row.reason and "Retry" in row.reason
    ctx = run(new_ctx, outside, [{"key": "PO1", "total": 1}])
    assert (outside.writes, ctx.result.skipped) == (1, 1)  # refused as it stands: not hammered
    outside.refuse = set()
    run(new_ctx, outside, [{"key": "PO1", "total": 2}])  # its content changed: a new chance
    assert outside.writes == 2 and record().state == State.CONFIRMED and record().attention == ""


def test_a_record_that_waits_shows_why_and_is_neither_failed_nor_retried_as_one(new_ctx):
    outside = OutsideSystem()
    ctx = run(new_ctx, outside, [{"key": "PO1", "wait": "waiting for invoice A-1"}])
    row = record()
    assert (row.state, row.reason, row.attempts, row.attention) == (State.WAITING, "waiting for invoice A-1", 0, "")
    assert (ctx.result.skipped, ctx.result.failed) == (1, 0)
    since = row.since
    run(new_ctx, outside, [{"key": "PO1", "wait": "waiting for invoice A-1"}])
    assert record().since == since and record().history.count() == 1  # the same wait is not written again
    run(new_ctx, outside, [{"key": "PO1", "total": 3}])
    assert record().state == State.CONFIRMED and record().reason == ""


def test_a_wait_only_a_person_can_end_needs_a_person(new_ctx):
    run(new_ctx, OutsideSystem(), [{"key": "PO1", "wait": "enter the complement in Sage", "person": True}])
    assert (record().state, record().attention) == (State.WAITING, Attention.PERSON)


def test_a_problem_of_the_tenant_stops_the_step_and_costs_no_record_an_attempt(new_ctx):
    outside = OutsideSystem()
    outside.fail_with = TenantLocked("the portal refuses the tenant's key")
    with pytest.raises(TenantLocked):
        run(new_ctx, outside, [{"key": "PO1", "total": 1}, {"key": "PO2", "total": 1}])
    assert set(Outbound.objects.values_list("state", "attempts")) == {(State.PENDING, 0)}


def test_it_sends_in_batches_and_records_each_batch(new_ctx):
    outside = OutsideSystem()
    orders = [{"key": f"PO{n}", "total": n} for n in range(5)]
    ctx = run(new_ctx, outside, orders)
    assert ctx.result.created == 5 and Outbound.objects.filter(state=State.CONFIRMED).count() == 5


def test_resolve_sends_it_again_and_ignore_leaves_it_until_it_changes(new_ctx):
    outside = OutsideSystem()
    outside.refuse = {"PO1", "PO2"}
    run(new_ctx, outside, [{"key": "PO1", "total": 1}, {"key": "PO2", "total": 1}])
    outside.refuse = set()
    close([record("PO1")], Outbound.Closed.RESOLVED, by="ana", note="fixed the date in Sage")
    close([record("PO2")], Outbound.Closed.IGNORED, by="ana", note="a test order")
    run(new_ctx, outside, [{"key": "PO1", "total": 1}, {"key": "PO2", "total": 1}])
    assert record("PO1").state == State.CONFIRMED
    assert (record("PO2").state, record("PO2").attention) == (State.FAILED, "")
    assert record("PO2").history.first().by == "ana" and record("PO2").closed_note == "a test order"
    run(new_ctx, outside, [{"key": "PO1", "total": 1}, {"key": "PO2", "total": 7}])
    assert record("PO2").state == State.CONFIRMED


def test_a_finding_a_person_closed_is_not_raised_again(tenant):
    needs = Needs(Attention.PERSON, "sat_cancelled", "Reverse the invoice in Sage.")
    assert raise_finding(tenant.pk, Outbound.Kind.CFDI_IMPORT, "U1", needs)
    assert not raise_finding(tenant.pk, Outbound.Kind.CFDI_IMPORT, "U1", needs)
    close([record("U1")], Outbound.Closed.RESOLVED, by="ana", note="reversed")
    assert not raise_finding(tenant.pk, Outbound.Kind.CFDI_IMPORT, "U1", needs)
    assert record("U1").attention == ""
    assert raise_finding(tenant.pk, Outbound.Kind.CFDI_IMPORT, "U1", Needs(Attention.PERSON, "other", "Look."))


def test_it_stores_requests_without_credentials():
    snapshot = strip_secrets({"headers": {"PDPTenantSecret": "s3cr3t", "PDPTenantKey": "k"},
                              "body": {"external_id": "PO1", "password": "pw"}})
    assert snapshot == {"headers": {"PDPTenantSecret": "***", "PDPTenantKey": "***"},
                        "body": {"external_id": "PO1", "password": "***"}}


def test_the_backoff_doubles_up_to_its_cap(settings):
    settings.SYNC_RETRY_BACKOFF_SECONDS, settings.SYNC_RETRY_BACKOFF_MAX_SECONDS = 60, 300
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [60, 120, 240, 300]
