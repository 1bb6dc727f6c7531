"""A tenant whose Sage 300 Web API is the stand-in, served over real HTTP by live_server."""
from __future__ import annotations

from decimal import Decimal

import pytest

from sandbox.sage_webapi.common import Audit
from sync.sage.models import APRDC, APVEN, APVGR, TXGRP, TXRATE
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
    alias = sage_alias(webapi_tenant)
    sample_setup(alias)
    return alias


# A company set up the way Sage's own samples assume (SDK samples: vendor group
# INV in APVendors.json, distribution code INV in APInvoiceBatches_*.json, its
# G/L account 1300 from APDistributionCodes.json). The tax group is ours: one
# authority at 8.25 %, the rate at which the invoice sample's own numbers
# balance (80 distributed + 6.60 tax = 86.60 DocumentTotalIncludingTax).
SAMPLE_TAX_GROUP, SAMPLE_AUTHORITY = "CALIF", "CA"


def sample_setup(alias: str) -> None:
    APVGR(IDGRP="INV", TEXTDESC="Inventory purchases", CURNCODE="MXP", TERMSCODE="N30",
          CODETAXGRP=SAMPLE_TAX_GROUP).save(using=alias, force_insert=True)
    APRDC(IDDIST="INV", TEXTDESC="Purchase of inventory", IDGLACCT="1300").save(using=alias, force_insert=True)
    TXGRP(GROUPID=SAMPLE_TAX_GROUP, TTYPE=2, TAXAUTH1=SAMPLE_AUTHORITY).save(using=alias, force_insert=True)
    TXRATE(AUTHORITY=SAMPLE_AUTHORITY, TTYPE=2, BUYERCLASS=1, ITEMRATE1=Decimal("8.25")).save(
        using=alias, force_insert=True)


def audit() -> Audit:
    return Audit("ADMIN", "ACME")


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
    columns = {"IDGRP": "INV", "CURNCODE": "MXP", "CODETAXGRP": SAMPLE_TAX_GROUP, **columns}
    vendor = APVEN(VENDORID=vendor_id, VENDNAME=name, SWACTV=1, **columns)
    vendor.save(using=alias, force_insert=True)
    return vendor
