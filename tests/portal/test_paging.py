import datetime as dt

import pytest

from tests.portal.factories import add_cfdis, add_providers


def test_it_yields_every_cfdi_across_pages(portal, stand_in):
    stand_in.page_size_max = 200
    stand_in.save()
    created = add_cfdis(stand_in, 1050)

    seen = [cfdi.cfdi_uuid for cfdi in portal.iter_cfdis(date_from=dt.date(2026, 11, 1), date_to=dt.date(2026, 11, 30),
                                                          cfdi_type="INVOICE", page_size=200)]

    assert len(seen) == 1050
    assert set(seen) == {row.uuid for row in created}
    assert seen[0] == created[-1].uuid, "the portal lists newest first"
    assert portal.calls.reads == 6  # 5 full pages of 200 and one of 50
    assert portal.calls.writes == 0


def test_it_follows_total_when_the_portal_serves_smaller_pages_than_asked(portal, stand_in):
    stand_in.page_size_max = 7
    stand_in.save()
    created = add_cfdis(stand_in, 30)

    seen = [cfdi.cfdi_uuid for cfdi in portal.iter_cfdis(cfdi_type="INVOICE", page_size=200)]

    assert sorted(seen) == sorted(row.uuid for row in created)
    assert portal.calls.reads == 5  # 4 pages of 7 and one of 2, though 200 were asked for


def test_it_stops_on_an_empty_window(portal, stand_in):
    add_cfdis(stand_in, 3, issued=dt.date(2026, 10, 1))

    assert list(portal.iter_cfdis(date_from=dt.date(2026, 11, 1), date_to=dt.date(2026, 11, 30))) == []
    assert portal.calls.reads == 1


@pytest.mark.parametrize("page_size", [0, -1, 201])
def test_it_never_asks_for_page_size_zero_or_above_200(portal, stand_in, page_size):
    with pytest.raises(ValueError, match="page_size"):
        next(portal.iter_cfdis(page_size=page_size))
    assert portal.calls.reads == 0
    list(portal.iter_cfdis(page_size=1))  # the recorder wants one real request


def test_it_filters_providers_accepted_today(portal, stand_in):
    today = dt.date(2026, 11, 27)
    add_providers(stand_in, 3, accepted_on=today - dt.timedelta(days=40))
    accepted_today = add_providers(stand_in, 5, accepted_on=today)

    found = list(portal.iter_providers(status_expedient="ACCEPTED", expedient_accepted_from=today,
                                       expedient_accepted_to=today, page_size=2))

    assert sorted(p.id for p in found) == sorted(p.portal_id for p in accepted_today)
    assert portal.calls.reads == 3


def test_it_answers_page_size_zero_with_200_items_like_the_real_portal(portal_tenant, stand_in, live_server):
    import requests

    from tests.portal.conftest import PORTAL_KEY, PORTAL_SECRET

    stand_in.page_size_max = 500
    stand_in.save()
    add_cfdis(stand_in, 230)
    answer = requests.get(f"{portal_tenant.portal_url}/api/1.0/extern/tenants/acme-portal/cfdis",
                          params={"offset": 0, "pageSize": 0},
                          headers={"PDPTenantKey": PORTAL_KEY, "PDPTenantSecret": PORTAL_SECRET}, timeout=10)

    assert answer.status_code == 200
    assert answer.json()["total"] == 230
    assert len(answer.json()["items"]) == 200


def test_it_caps_every_page_at_the_tenants_page_size(portal_tenant, stand_in, live_server):
    import requests

    from tests.portal.conftest import PORTAL_KEY, PORTAL_SECRET

    stand_in.page_size_max = 25
    stand_in.save()
    add_cfdis(stand_in, 60)
    for asked in (0, 26, 200):
        answer = requests.get(f"{portal_tenant.portal_url}/api/1.0/extern/tenants/acme-portal/cfdis",
                              params={"offset": 0, "pageSize": asked},
                              headers={"PDPTenantKey": PORTAL_KEY, "PDPTenantSecret": PORTAL_SECRET}, timeout=10)
        assert (answer.json()["total"], len(answer.json()["items"])) == (60, 25)


def test_it_yields_every_purchase_order_across_pages_as_the_portal_holds_them(portal, stand_in):
    from sandbox.portal.models import SandboxPurchaseOrder
    from tests.portal.factories import purchase_order

    stand_in.page_size_max = 7
    stand_in.save()
    add_providers(stand_in, 1)
    for index in range(16):
        portal.create_purchase_order(purchase_order(f"PO{index:06d}"))
    SandboxPurchaseOrder.objects.filter(external_id="PO000003").update(status="CLOSED")
    portal.calls.reads = 0

    seen = {order.external_id: order for order in portal.iter_purchase_orders(page_size=200)}

    assert sorted(seen) == [f"PO{index:06d}" for index in range(16)]
    assert portal.calls.reads == 3  # 7 + 7 + 2, though 200 were asked for
    assert seen["PO000003"].status == "CLOSED" and seen["PO000001"].status == "OPEN"
    line = seen["PO000001"].lines[0]
    assert (line.external_id, line.quantity, line.price) == ("PO000001-1000", 10, 100)
    assert [o.external_id for o in portal.iter_purchase_orders(status="CLOSED")] == ["PO000003"]
