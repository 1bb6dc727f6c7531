"""The SyncLink contract, against a small outside system kept in memory.

(The real portal client arrives with the PO steps; this checks the helper's
own promises: look before writing again, record in one transaction.)
"""
import pytest

from sync.idempotence import Sent, send_once, strip_secrets
from sync.models import RecordOutcome, SyncLink, SyncRun
from sync.steps.base import StepContext


class OutsideSystem:
    def __init__(self) -> None:
        self.records: dict[str, dict] = {}
        self.writes = 0
        self.crash_after_write = False

    def lookup(self, key: str):
        return self.records.get(key, {}).get("id")

    def write(self, key: str, payload: dict, existing_id: str) -> str:
        self.writes += 1
        record_id = existing_id or f"{len(self.records) + 1:024x}"
        self.records[key] = {"id": record_id, **payload}
        if self.crash_after_write:
            raise ConnectionResetError("connection dropped after the write")
        return record_id


@pytest.fixture
def ctx(make_tenant):
    tenant = make_tenant()
    run = SyncRun.objects.create(tenant=tenant)
    return StepContext(tenant_id=tenant.pk, run_id=run.pk, step="po_create")


def send(ctx, outside, key, payload, content_hash):
    return send_once(ctx, kind="po", sage_key=key, content_hash=content_hash, action="create", payload=payload,
                     lookup=lambda: outside.lookup(key), send=lambda existing: outside.write(key, payload, existing))


def test_it_writes_once_and_then_costs_nothing(ctx):
    outside = OutsideSystem()
    assert send(ctx, outside, "PO1", {"total": 1}, "h1") == Sent.CREATED
    assert send(ctx, outside, "PO1", {"total": 1}, "h1") == Sent.UNCHANGED
    assert outside.writes == 1
    link = SyncLink.objects.get(sage_key="PO1")
    assert (link.state, link.content_hash, link.portal_id) == (SyncLink.State.CONFIRMED, "h1", outside.lookup("PO1"))
    outcome = RecordOutcome.objects.get(sage_key="PO1")
    assert (outcome.status, outcome.attempts, outcome.run_id) == ("succeeded", 1, ctx.run_id)


def test_it_replaces_the_same_record_when_the_content_changed(ctx):
    outside = OutsideSystem()
    send(ctx, outside, "PO1", {"total": 1}, "h1")
    first_id = outside.lookup("PO1")
    assert send(ctx, outside, "PO1", {"total": 2}, "h2") == Sent.UPDATED
    assert outside.lookup("PO1") == first_id and len(outside.records) == 1
    assert SyncLink.objects.get(sage_key="PO1").content_hash == "h2"


def test_it_finds_a_write_a_crash_left_unrecorded_instead_of_writing_again(ctx):
    outside = OutsideSystem()
    outside.crash_after_write = True
    with pytest.raises(ConnectionResetError):
        send(ctx, outside, "PO1", {"total": 1}, "h1")
    assert SyncLink.objects.get(sage_key="PO1").state == SyncLink.State.PENDING
    outside.crash_after_write = False
    assert send(ctx, outside, "PO1", {"total": 1}, "h1") == Sent.RECOVERED
    assert outside.writes == 1
    assert SyncLink.objects.get(sage_key="PO1").state == SyncLink.State.CONFIRMED


def test_it_writes_again_when_the_crashed_write_never_arrived(ctx):
    outside = OutsideSystem()
    original = outside.write

    def refuse(key, payload, existing):
        raise TimeoutError("no answer")

    outside.write = refuse
    with pytest.raises(TimeoutError):
        send(ctx, outside, "PO1", {"total": 1}, "h1")
    outside.write = original
    assert send(ctx, outside, "PO1", {"total": 1}, "h1") == Sent.CREATED
    assert len(outside.records) == 1


def test_it_only_shows_the_payload_in_a_dry_run(ctx):
    ctx.dry_run = True
    outside = OutsideSystem()
    assert send(ctx, outside, "PO1", {"total": 1}, "h1") == Sent.WOULD_SEND
    assert outside.writes == 0 and not SyncLink.objects.exists()
    assert ctx.result.would_send == [{"target": "portal", "key": "PO1", "payload": {"total": 1}}]


def test_it_stores_request_snapshots_without_credentials():
    snapshot = strip_secrets({"headers": {"PDPTenantSecret": "s3cr3t", "PDPTenantKey": "k"},
                              "body": {"external_id": "PO1", "password": "pw"}})
    assert snapshot == {"headers": {"PDPTenantSecret": "***", "PDPTenantKey": "***"},
                        "body": {"external_id": "PO1", "password": "***"}}
