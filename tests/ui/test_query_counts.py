"""The overview and the CFDI list cost the same number of queries for 3 tenants as for 30."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("url", ["/", "/overview/table", "/cfdis/", "/payments/", "/pos/", "/runs/", "/api/status",
                                 "/scheduler/"])
def test_it_makes_as_many_queries_for_30_rows_as_for_3(staff_client, world, url, django_assert_num_queries):
    world(3)
    _queries(staff_client, url)  # warm-up: the first request loads the session
    with_three = _queries(staff_client, url)
    world(27)
    with django_assert_num_queries(with_three):
        response = staff_client.get(url)
    assert response.status_code == 200
    assert "t29" in response.content.decode()  # the 30 rows were really there


def test_it_makes_as_many_queries_for_a_tenant_with_many_runs_and_records(staff_client, world,
                                                                          django_assert_num_queries):
    import datetime as dt

    from django.utils import timezone

    from sync.models import RecordOutcome, StepRun, SyncRun

    tenant = world(1)[0]
    url = f"/tenants/{tenant.code}/"
    _queries(staff_client, url)
    with_one = _queries(staff_client, url)
    for day in range(30):
        started = timezone.now() - dt.timedelta(hours=11 * day)
        run = SyncRun.objects.create(tenant=tenant, started=started, finished=started, status=SyncRun.Status.FAILED)
        StepRun.objects.create(run=run, step="providers", status=StepRun.Status.FAILED, started=started, duration=2)
        RecordOutcome.objects.create(tenant=tenant, run=run, step="providers", kind="vendor", sage_key=f"V{day}",
                                     action="create", status=RecordOutcome.Status.FAILED, permanent=True)
    with django_assert_num_queries(with_one):
        response = staff_client.get(url)
    assert "30 vendors failed" in " ".join(response.content.decode().replace("</span>", "").split())


def test_it_makes_as_many_queries_for_30_records_needing_a_person_as_for_3(staff_client, world,
                                                                           django_assert_num_queries):
    from sync.models import RecordOutcome

    world(3)
    RecordOutcome.objects.update(permanent=True)
    _queries(staff_client, "/attention/")
    with_three = _queries(staff_client, "/attention/")
    world(27)
    RecordOutcome.objects.update(permanent=True)
    with django_assert_num_queries(with_three):
        response = staff_client.get("/attention/")
    assert response.content.decode().count("The portal refused PO: unknown provider.") == 30
