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
                                 "/scheduler/", "/attention/?show=waiting"])
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

    from sync.models import Outbound, OutboundAttempt, StepRun, SyncRun

    tenant = world(1)[0]
    url = f"/tenants/{tenant.code}/"
    _queries(staff_client, url)
    with_one = _queries(staff_client, url)
    for day in range(30):
        started = timezone.now() - dt.timedelta(hours=11 * day)
        run = SyncRun.objects.create(tenant=tenant, started=started, finished=started, status=SyncRun.Status.FAILED)
        StepRun.objects.create(run=run, step="providers", status=StepRun.Status.FAILED, started=started, duration=2)
        record = Outbound.objects.create(tenant=tenant, run=run, step="providers", kind="vendor", key=f"V{day}",
                                         action="create", state="failed", attention="permanent", since=started)
        OutboundAttempt.objects.create(record=record, run=run, step="providers", outcome="refused")
    with django_assert_num_queries(with_one):
        response = staff_client.get(url)
    assert "30 vendors needing a person" in " ".join(response.content.decode().replace("</span>", "").split())


def test_it_makes_as_many_queries_for_30_records_needing_a_person_as_for_3(staff_client, world,
                                                                           django_assert_num_queries):
    from sync.models import Outbound
    from sync.retry import request_retry

    world(3)
    Outbound.objects.filter(kind="po").update(attention="permanent", state="failed")
    request_retry(Outbound.objects.filter(kind="po"), by="ana", queue=False)  # each row says what became of it
    _queries(staff_client, "/attention/")
    with_three = _queries(staff_client, "/attention/")
    world(27)
    Outbound.objects.filter(kind="po").update(attention="permanent", state="failed")
    request_retry(Outbound.objects.filter(kind="po"), by="ana", queue=False)
    with django_assert_num_queries(with_three):
        response = staff_client.get("/attention/")
    page = response.content.decode()
    # Every kind in one list: 30 POs and 30 invoices (a page of 50 of them), each with its Retry's state.
    assert response.context["page"].paginator.count == 60
    assert page.count('class="retry-state"><span class="status st-queued"') == 20  # the POs on the page
    assert page.count("The portal refused PO: unknown provider.") == 20
