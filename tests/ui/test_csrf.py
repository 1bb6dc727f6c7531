"""Every action is a POST that Django's CSRF check guards."""
from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.ui.pages import post_urls

pytestmark = pytest.mark.django_db


@pytest.fixture
def strict_client(staff_user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    return client


def _token(client: Client) -> str:
    html = client.get("/scheduler/").content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_it_refuses_every_action_without_the_csrf_token(strict_client, world):
    tenant = world(1)[0]
    for url in post_urls():
        assert strict_client.post(url, {"tenant": tenant.code}).status_code == 403, url
    tenant.refresh_from_db()
    assert tenant.paused is False


def test_it_acts_when_the_token_is_sent(strict_client, world):
    tenant = world(1)[0]
    response = strict_client.post("/scheduler/pause",
                                  {"tenant": tenant.code, "csrfmiddlewaretoken": _token(strict_client)})
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.paused is True


def test_it_does_not_act_on_a_get(staff_client, world):
    tenant = world(1)[0]
    assert staff_client.get(f"/scheduler/pause?tenant={tenant.code}").status_code == 405
    tenant.refresh_from_db()
    assert tenant.paused is False
