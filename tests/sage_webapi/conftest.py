"""A tenant whose Sage 300 Web API is the stand-in, served over real HTTP by live_server."""
from __future__ import annotations

import pytest

from sync.sage.models import APVEN
from sync.sage.webapi import SageWebApi
from tenants.sage_db import sage_alias

PASSWORD = "admin-secret"  # the one make_tenant gives


@pytest.fixture
def webapi_tenant(sage_tenant, live_server):
    sage_tenant.webapi_url = f"{live_server.url}/sandbox/sage"
    sage_tenant.save()
    return sage_tenant


@pytest.fixture
def alias(webapi_tenant) -> str:
    return sage_alias(webapi_tenant)


class Sleeps(list):
    """Records each back-off instead of waiting it out; `then` runs on every one."""

    def __init__(self, then=None) -> None:
        super().__init__()
        self.then = then

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        if self.then:
            self.then()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_client():
    """Clients closed after the test, so no kept-alive connection outlives the live server."""
    clients: list[SageWebApi] = []

    def make(tenant, **options) -> SageWebApi:
        clients.append(SageWebApi(tenant, **options))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def webapi(webapi_tenant, sleeps, make_client):
    return make_client(webapi_tenant, retries=3, backoff_seconds=0.5, sleep=sleeps, timeout=(2, 10))


def add_vendor(alias: str, vendor_id: str, name: str = "Aceros del Norte SA de CV", **columns) -> APVEN:
    vendor = APVEN(VENDORID=vendor_id, VENDNAME=name, SWACTV=1, CURNCODE="MXP", **columns)
    vendor.save(using=alias, force_insert=True)
    return vendor
