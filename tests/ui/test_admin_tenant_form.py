"""The tenant's change page: PO types and location codes as fields, not JSON; "Test connections" on it."""
from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.messages import get_messages

from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def _change_url(tenant: Tenant) -> str:
    return f"/admin/tenants/tenant/{tenant.pk}/change/"


def _form_data(client, tenant: Tenant, **changes) -> dict:
    """What the browser would post back for the page as shown, with `changes` typed over it."""
    form = client.get(_change_url(tenant)).context["adminform"].form
    data: dict = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        if value is True:
            data[name] = "on"
        elif isinstance(value, (list, tuple)):
            data[name] = [str(item) for item in value]
        elif isinstance(value, (dt.date, int)):
            data[name] = str(value)
        else:
            data[name] = value
    data.update(changes)
    return data


def test_it_offers_po_types_as_check_boxes_and_location_codes_as_a_list(admin_client, make_tenant):
    tenant = make_tenant(po_types=[1, 3], skip_location_codes=["GRAL", "ALM2"])
    html = admin_client.get(_change_url(tenant)).content.decode()
    for value in ("1", "2", "3", "4"):
        assert f'type="checkbox" name="po_types" value="{value}"' in html
    assert 'value="1" id="id_po_types_0" checked' in html and 'value="3" id="id_po_types_2" checked' in html
    assert '<textarea name="skip_location_codes"' in html and "GRAL\nALM2</textarea>" in html
    assert "[&quot;GRAL&quot;" not in html  # no JSON to type


def test_it_saves_the_ticked_types_and_the_listed_codes_cleaned(admin_client, make_tenant):
    tenant = make_tenant()
    data = _form_data(admin_client, tenant, po_types=["3", "1"], skip_location_codes="gral, alm2\nGRAL ;x-1\n")
    response = admin_client.post(_change_url(tenant), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    tenant.refresh_from_db()
    assert tenant.po_types == [1, 3]
    assert tenant.skip_location_codes == ["GRAL", "ALM2", "X-1"]


def test_it_saves_nothing_ticked_as_every_type_and_no_code(admin_client, make_tenant):
    tenant = make_tenant(po_types=[2], skip_location_codes=["GRAL"])
    data = _form_data(admin_client, tenant)
    del data["po_types"]
    data["skip_location_codes"] = ""
    assert admin_client.post(_change_url(tenant), data).status_code == 302
    tenant.refresh_from_db()
    assert (tenant.po_types, tenant.skip_location_codes) == ([], [])


def test_it_refuses_a_code_sage_cannot_hold_and_says_which(admin_client, make_tenant):
    tenant = make_tenant(skip_location_codes=["GRAL"])
    data = _form_data(admin_client, tenant, skip_location_codes="GRAL\nTOOLONG7\nbad!")
    response = admin_client.post(_change_url(tenant), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["skip_location_codes"]
    assert errors == ["Not a Sage location code: TOOLONG7, BAD!. A code is 1 to 6 letters or digits."]
    tenant.refresh_from_db()
    assert tenant.skip_location_codes == ["GRAL"]


def test_it_refuses_a_po_type_sage_does_not_have(admin_client, make_tenant):
    tenant = make_tenant()
    response = admin_client.post(_change_url(tenant), _form_data(admin_client, tenant, po_types=["9"]))
    assert response.status_code == 200
    assert "po_types" in response.context["adminform"].form.errors


def test_it_tests_the_connections_from_the_tenants_page(admin_client, make_tenant, sage_db_allowed, tmp_path):
    # A Sage database in a file: an in-memory one would be handed to a later test's live server thread.
    dead = make_tenant(code="unanswered", sage_db_name=str(tmp_path / "sage.sqlite3"),
                       webapi_url="http://127.0.0.1:9/", portal_url="http://127.0.0.1:9/")
    assert 'id="test-connections"' in admin_client.get(_change_url(dead)).content.decode()
    response = admin_client.post(f"/admin/tenants/tenant/{dead.pk}/test-connections/")
    assert response["Location"] == _change_url(dead)
    lines = [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]
    assert [line.split(" — ")[1].split(":")[0] for _level, line in lines] == ["Sage database", "Sage Web API",
                                                                                "portal"]
    assert [level for level, _line in lines][1:] == ["error", "error"]
    assert admin_client.get(f"/admin/tenants/tenant/{dead.pk}/test-connections/").status_code == 405


def test_it_keeps_the_button_from_admins_who_are_not_superusers(client, admin_user_, make_tenant):
    tenant = make_tenant()
    client.force_login(admin_user_)
    assert 'id="test-connections"' not in client.get(_change_url(tenant)).content.decode()
    assert client.post(f"/admin/tenants/tenant/{tenant.pk}/test-connections/").status_code == 403
