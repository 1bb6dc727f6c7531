"""sageconnect.bulk.update_rows: each row gets its own values — text, numbers, nullable dates, JSON,
foreign keys — exactly as QuerySet.bulk_update writes them, in one statement, on this run's database."""
import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sageconnect.bulk import update_rows
from sync.models import Outbound, SyncRun

pytestmark = pytest.mark.django_db

FIELDS = ["state", "attempts", "not_before", "outside_ids", "last_request", "run", "updated"]


def _records(tenant, n: int) -> list[Outbound]:
    return Outbound.objects.bulk_create(
        Outbound(tenant=tenant, kind=Outbound.Kind.PO, key=f"PO{i:05d}", state=Outbound.State.PENDING)
        for i in range(n))


def _change(records: list[Outbound], run: SyncRun) -> None:
    moment = dt.datetime(2026, 12, 2, 10, 30, 15, 123456, tzinfo=dt.timezone.utc)
    for i, record in enumerate(records):
        record.state = Outbound.State.CONFIRMED if i % 2 else Outbound.State.FAILED
        record.attempts = i
        record.not_before = None if i % 3 == 0 else moment + dt.timedelta(minutes=i)
        record.outside_ids = {"id": f"{i:024x}", "nested": {"n": i, "ñ": "sí"}}
        record.last_request = {"lines": [{"quantity": "1.5", "price": i}], "note": 'comillas " y \\ barras'}
        record.run = run if i % 2 else None
        record.updated = moment


def _read(tenant) -> list[tuple]:
    return list(Outbound.objects.filter(tenant=tenant).order_by("key").values_list("key", *[
        "run_id" if name == "run" else name for name in FIELDS]))


def test_it_writes_what_bulk_update_writes_in_one_statement(make_tenant):
    ours, django = make_tenant(code="ours", portal_tenant_id="ours"), make_tenant(code="theirs",
                                                                                 portal_tenant_id="theirs")
    run = SyncRun.objects.create(tenant=ours)
    mine, theirs = _records(ours, 30), _records(django, 30)
    _change(mine, run)
    _change(theirs, run)
    with CaptureQueriesContext(connection) as queries:
        assert update_rows(mine, FIELDS) == 30
    assert len(queries) == 1, [q["sql"] for q in queries]
    Outbound.objects.bulk_update(theirs, FIELDS)
    assert _read(ours) == _read(django)
    assert _read(ours)[1][1:4] == ("confirmed", 1, dt.datetime(2026, 12, 2, 10, 31, 15, 123456,
                                                             tzinfo=dt.timezone.utc))
    assert Outbound.objects.get(tenant=ours, key="PO00003").last_request["note"] == 'comillas " y \\ barras'


def test_it_refuses_rows_never_saved_and_fields_it_cannot_write(make_tenant):
    tenant = make_tenant()
    assert update_rows([], FIELDS) == 0
    with pytest.raises(ValueError, match="never saved"):
        update_rows([Outbound(tenant=tenant, kind=Outbound.Kind.PO, key="X")], ["state"])
    with pytest.raises(ValueError, match="'id'"):
        update_rows(_records(tenant, 1), ["id"])
