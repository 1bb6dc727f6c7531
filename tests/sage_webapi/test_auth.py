"""Who may call the stand-in, and which company it serves."""
from __future__ import annotations

import pytest

from sync.sage.webapi import WebApiPermanentError

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_answers_unauthorized_for_a_wrong_password(webapi_tenant, alias, make_client):
    webapi_tenant.webapi_password = "not-the-password"
    client = make_client(webapi_tenant, retries=3, sleep=lambda s: pytest.fail("a 401 is not retried"))

    with pytest.raises(WebApiPermanentError) as raised:
        client.vendor("1200")

    assert (raised.value.code, raised.value.status) == ("Unauthorized", 401)
    assert "not-the-password" not in str(raised.value)
    assert client.calls["reads"] == 1


def test_it_answers_unauthorized_without_credentials(webapi_tenant, alias):
    import requests

    url = f"{webapi_tenant.webapi_url}/Sage300WebApi/v1.0/-/ACME/AP/APVendors"
    response = requests.get(url, timeout=5)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "Unauthorized"
    assert response.json()["error"]["message"]["lang"] == "en-US"


def test_it_refuses_an_unknown_company_like_a_wrong_password(webapi_tenant, alias, make_client):
    # Which companies exist is not told to a caller without their credentials (sandbox/access.py).
    webapi_tenant.webapi_company = "NOSUCHCO"
    client = make_client(webapi_tenant)

    with pytest.raises(WebApiPermanentError) as raised:
        client.vendor("1200")

    assert (raised.value.code, raised.value.status) == ("Unauthorized", 401)
    assert raised.value.message == "Invalid user name or password."


def test_it_says_which_settings_are_missing(make_tenant, make_client):
    tenant = make_tenant(webapi_url="", webapi_company="")

    with pytest.raises(WebApiPermanentError) as raised:
        make_client(tenant)

    assert "webapi_url" in raised.value.message and "webapi_company" in raised.value.message
