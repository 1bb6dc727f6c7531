"""Logins are throttled (django-axes): 10 failures of one user name from one address, then a cooling-off period,
on the site's login and on the admin's alike."""
from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.test import RequestFactory, override_settings

from sageconnect.clientip import client_ip

pytestmark = pytest.mark.django_db

PASSWORD = "a-Long-pass-4-tests"
LOGINS = {"site": "/login/", "admin": "/admin/login/"}


@pytest.fixture
def person(db) -> User:
    return User.objects.create_superuser("ana", "ana@example.com", PASSWORD)


def _log_in(client, where: str, username: str, password: str, address: str = "10.0.0.7", **headers):
    return client.post(LOGINS[where], {"username": username, "password": password}, REMOTE_ADDR=address, **headers)


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def _fail(client, where: str, times: int, username: str = "ana", address: str = "10.0.0.7") -> None:
    for attempt in range(1, times + 1):
        status = _log_in(client, where, username, "wrong-password", address).status_code
        # The tenth failure is the one that locks: it already answers with the refusal.
        assert status == (429 if attempt >= 10 else 200), attempt


@pytest.mark.parametrize("where", sorted(LOGINS))
def test_it_refuses_even_the_right_password_after_ten_failures(client, person, where):
    _fail(client, where, 10)
    response = _log_in(client, where, "ana", PASSWORD)
    assert response.status_code == 429
    assert "Too many failed logins for this user name from your address" in response.content.decode()
    assert "15 minutes" in response.content.decode()
    assert not _logged_in(client)


@pytest.mark.parametrize("where", sorted(LOGINS))
def test_it_still_lets_the_ninth_failure_be_followed_by_a_login(client, person, where):
    _fail(client, where, 9)
    _log_in(client, where, "ana", PASSWORD)
    assert _logged_in(client)


def test_it_shares_the_count_between_the_site_and_the_admin_login(client, person):
    _fail(client, "site", 5)
    _fail(client, "admin", 4)
    assert _log_in(client, "admin", "ana", "wrong-password").status_code == 429
    assert _log_in(client, "site", "ana", PASSWORD).status_code == 429


def test_it_locks_only_that_user_name_from_that_address(client, person):
    User.objects.create_user("beto", "beto@example.com", PASSWORD, is_staff=True)
    _fail(client, "site", 10)
    _log_in(client, "site", "beto", PASSWORD)
    assert _logged_in(client), "another user from the same address is not locked"
    client.logout()
    _log_in(client, "site", "ana", PASSWORD, address="10.0.0.8")
    assert _logged_in(client), "the same user from another address is not locked"


def test_it_lets_the_user_in_again_after_the_cooling_off_period(client, person):
    _fail(client, "site", 10)
    assert _log_in(client, "site", "ana", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=16))
    _log_in(client, "site", "ana", PASSWORD)
    assert _logged_in(client)


def test_it_says_so_in_spanish(client, person):
    _fail(client, "admin", 10)
    response = _log_in(client, "admin", "ana", PASSWORD, HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 429
    assert "Demasiados inicios de sesión fallidos" in response.content.decode()


@override_settings(PROXY_COUNT=1)
def test_it_takes_the_address_the_proxy_saw_not_what_the_client_claims():
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert client_ip(request) == "203.0.113.9"


def test_it_takes_the_connecting_address_when_no_proxy_is_declared():
    request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.4", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert client_ip(request) == "198.51.100.4"
