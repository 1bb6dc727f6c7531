"""Each role of the README's "Staff pages", logging in for real: what it may open, in the site and in /admin/."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

pytestmark = pytest.mark.django_db

PASSWORD = "a-Long-pass-4-tests"
# role → (overview, admin index, tenant list, run log in the admin)
ROLES = {
    "plain user": (403, "login", "login", "login"),
    "staff (is_staff)": (200, 200, 403, 403),
    "staff (group)": (200, "login", "login", "login"),
    "admin (group, no is_staff)": (200, 200, 200, 200),
    "superuser": (200, 200, 200, 200),
}


def _make(role: str) -> User:
    flags = {"is_staff": role == "staff (is_staff)"}
    if role == "superuser":
        return User.objects.create_superuser("root", "root@example.com", PASSWORD)
    user = User.objects.create_user("person", "person@example.com", PASSWORD, **flags)
    group = {"staff (group)": "SageConnect staff", "admin (group, no is_staff)": "SageConnect admins"}.get(role)
    if group:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def _outcome(response) -> int | str:
    if response.status_code == 302 and "/admin/login/" in response["Location"]:
        return "login"
    return response.status_code


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_role_opens_what_the_readme_says(client, world, role):
    world(1)
    user = _make(role)
    # The admin's own login page, as a person would use it (not force_login).
    response = client.post("/admin/login/", {"username": user.username, "password": PASSWORD,
                                             "next": "/admin/"})
    if ROLES[role][1] == 200:
        assert response.status_code == 302 and response["Location"] == "/admin/", response.content[:300]
    else:
        assert response.status_code == 200  # the admin login refuses, saying so
        client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert "_auth_user_id" in client.session

    got = tuple(_outcome(client.get(url)) for url in
                ("/", "/admin/", "/admin/tenants/tenant/", "/admin/sync/syncrun/"))
    assert got == ROLES[role]


def test_it_shows_the_admin_link_to_group_admins(client, world):
    world(1)
    client.force_login(_make("admin (group, no is_staff)"))
    assert 'href="/admin/"' in client.get("/").content.decode()


def test_it_offers_test_connections_to_superusers_only(client, world):
    world(1)
    client.force_login(_make("admin (group, no is_staff)"))
    assert "test_connections" not in client.get("/admin/tenants/tenant/").content.decode()
    client.force_login(User.objects.create_superuser("root", "root@example.com", PASSWORD))
    assert "test_connections" in client.get("/admin/tenants/tenant/").content.decode()


def test_it_keeps_an_inactive_group_admin_out(client, world):
    world(1)
    user = _make("admin (group, no is_staff)")
    user.is_active = False
    user.save()
    response = client.post("/admin/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200 and "_auth_user_id" not in client.session
