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
