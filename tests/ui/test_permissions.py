"""Who sees what: anonymous → login, plain users → 403, staff → pages, admins → tenant admin."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from tests.ui.pages import get_urls, post_urls

pytestmark = pytest.mark.django_db


def test_it_sends_anonymous_visitors_to_login_from_every_page(client, world):
    world(1)
    for url in get_urls():
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next="), url


def test_it_sends_anonymous_actions_to_login_without_acting(client, world):
    tenant = world(1)[0]
    for url in post_urls():
        response = client.post(url, {"tenant": tenant.code})
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
    tenant.refresh_from_db()
    assert tenant.paused is False


def test_it_refuses_logged_in_users_who_are_not_staff(client, world, plain_user):
    world(1)
    client.force_login(plain_user)
    for url in get_urls() + post_urls():
        method = client.post if url in post_urls() else client.get
        assert method(url).status_code == 403, url


@pytest.mark.parametrize("user_fixture", ["staff_user", "group_staff_user", "admin_user_"])
def test_it_shows_every_page_to_staff(client, world, user_fixture, request):
    world(1)
    client.force_login(request.getfixturevalue(user_fixture))
    for url in get_urls():
        assert client.get(url).status_code == 200, url


def test_it_keeps_staff_out_of_the_tenant_admin(client, world, staff_user):
    tenant = world(1)[0]
    client.force_login(staff_user)
    assert client.get("/admin/tenants/tenant/").status_code == 403
    assert client.get(f"/admin/tenants/tenant/{tenant.pk}/change/").status_code == 403
    assert client.get("/admin/sync/syncrun/").status_code == 403


def test_it_lets_sageconnect_admins_manage_tenants(client, world, admin_user_):
    tenant = world(1)[0]
    client.force_login(admin_user_)
    assert client.get("/admin/tenants/tenant/").status_code == 200
    assert client.get(f"/admin/tenants/tenant/{tenant.pk}/change/").status_code == 200
    assert client.get("/admin/sync/syncrun/").status_code == 200


def test_it_creates_the_access_groups_when_an_admin_opens_the_tenant_list(admin_client, db):
    Group.objects.filter(name__startswith="SageConnect").delete()
    assert admin_client.get("/admin/tenants/tenant/").status_code == 200
    assert set(Group.objects.filter(name__startswith="SageConnect").values_list("name", flat=True)) == {
        "SageConnect admins", "SageConnect staff"}


def test_it_keeps_the_run_log_read_only_even_for_admins(admin_client, world):
    world(1)
    assert admin_client.get("/admin/sync/syncrun/add/").status_code == 403
    assert admin_client.get("/admin/sync/payment/").status_code == 200
