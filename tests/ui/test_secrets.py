"""No page, fragment, JSON answer or admin form ever shows a tenant's secret."""
from __future__ import annotations

import pytest

from tests.ui.conftest import SECRETS
from tests.ui.pages import get_urls

pytestmark = pytest.mark.django_db


def _assert_no_secret(url: str, body: str) -> None:
    for name, secret in SECRETS.items():
        assert secret not in body, f"{name} shown on {url}"


def test_it_renders_no_secret_on_any_staff_page(staff_client, world):
    world(2)
    for url in get_urls():
        response = staff_client.get(url)
        assert response.status_code == 200, url
        _assert_no_secret(url, b"".join(response).decode(errors="replace"))


def test_it_renders_no_secret_in_the_admin(admin_client, world):
    tenant = world(1)[0]
    for url in ("/admin/tenants/tenant/", f"/admin/tenants/tenant/{tenant.pk}/change/", "/admin/sync/syncrun/",
                "/admin/sync/outbound/", "/admin/sync/retryrequest/", "/admin/cfdi/cfdi/"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        _assert_no_secret(url, response.content.decode())


def test_it_checks_a_page_that_really_holds_tenant_data(staff_client, world):
    # Guards the test above: the pages it greps do show the tenant's non-secret settings.
    tenant = world(1)[0]
    assert tenant.code in staff_client.get("/").content.decode()
    assert tenant.portal_key == SECRETS["portal_key"]
