"""The reconcile page on the demo company with drift seeded: each difference with its fixes, reading it
writes nothing, a fix is a staff POST that puts the outbound record back for the next cycle."""
from __future__ import annotations

import re
import socket
from decimal import Decimal

import pytest
from django.core.management import call_command

from sandbox.faults import clear_faults
from sandbox.portal.models import SandboxPurchaseOrder
from sync.models import Outbound, OutboundAttempt, ReconcileAck
from sync.sage.models import APTCR
from tenants.sage_db import sage_alias
from tests.support import needs_system
from tests.sync.test_reconcile import confirmed, cycle, open_pos, wire
from tests.ui.conftest import SAGE_ALIAS
from tests.ui.test_spanish_pages import _visible_text

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", SAGE_ALIAS])


def drifted(tenant, live_server) -> tuple[str, str]:
    """The demo company synced, then one PO lost by the portal and one payment changed in Sage."""
    wire(tenant, live_server)
    cycle(tenant)
    cycle(tenant)
    alias = sage_alias(tenant)
    lost = open_pos(tenant, alias)[0]
    SandboxPurchaseOrder.objects.filter(external_id=lost).delete()
    Outbound.objects.filter(tenant=tenant, kind=Outbound.Kind.PO, key=lost).delete()
    payment = confirmed(tenant, Outbound.Kind.PAYMENT)[0].key
    APTCR.objects.using(alias).filter(DOCNBR=payment).update(
        AMTRMITTC=APTCR.objects.using(alias).get(DOCNBR=payment).AMTRMITTC + Decimal("50"))
    return lost, payment


@pytest.fixture
def demo(sage_test_alias, sage_tenant, live_server, tmp_path, settings):
    settings.STORAGES = {**settings.STORAGES, "cfdi": {
        "BACKEND": "cfdi.storage.AtomicFileSystemStorage", "OPTIONS": {"location": str(tmp_path / "cfdi")}}}
    lost, payment = drifted(sage_tenant, live_server)
    yield sage_tenant, lost, payment
    clear_faults()


def rows(html: str) -> set[tuple[str, str]]:
    return set(re.findall(r'data-kind="([a-z_]+)" data-key="([^"]+)"', html))


def test_staff_see_each_difference_and_fix_it_through_the_outbound_record(staff_client, demo):
    tenant, lost, payment = demo
    tenant_page = staff_client.get(f"/tenants/{tenant.code}/").content.decode()
    assert f'href="/tenants/{tenant.code}/reconcile/"' in tenant_page
    before = (Outbound.objects.count(), OutboundAttempt.objects.count(), ReconcileAck.objects.count())
    html = staff_client.get(f"/tenants/{tenant.code}/reconcile/").content.decode()
    assert (Outbound.objects.count(), OutboundAttempt.objects.count(), ReconcileAck.objects.count()) == before
    assert {("po_missing", lost), ("payment_amount", payment)} <= rows(html)
    text = _visible_text(html)
    assert f"PO {lost} of vendor" in text and "the portal cannot change a payment" in text
    assert 'name="csrfmiddlewaretoken"' in html

    response = staff_client.post(f"/tenants/{tenant.code}/reconcile/fix",
                                 {"kind": "po_missing", "key": lost, "fix": "resend"})
    assert response.status_code == 302 and response["Location"] == f"/tenants/{tenant.code}/reconcile/"
    record = Outbound.objects.get(tenant=tenant, kind=Outbound.Kind.PO, key=lost)
    assert record.state == Outbound.State.PENDING and record.history.first().by == "staffer"
    page = staff_client.post(f"/tenants/{tenant.code}/reconcile/fix",
                             {"kind": "payment_amount", "key": payment, "fix": "resolve"}, follow=True)
    assert f"{payment} marked resolved" in _visible_text(page.content.decode())
    # A fix the difference does not take is refused, with the reason.
    page = staff_client.post(f"/tenants/{tenant.code}/reconcile/fix",
                             {"kind": "payment_missing", "key": "PY0000005", "fix": "resend"}, follow=True)
    assert "is not a fix of this difference" in _visible_text(page.content.decode())

    cycle(tenant)
    assert SandboxPurchaseOrder.objects.filter(external_id=lost).exists()
    left = rows(staff_client.get(f"/tenants/{tenant.code}/reconcile/").content.decode())
    assert ("po_missing", lost) not in left and ("payment_amount", payment) not in left


def test_the_chooser_leads_to_the_tenants_report_and_people_who_are_not_staff_get_nothing(client, staff_client,
                                                                                          demo):
    tenant, _lost, _payment = demo
    response = staff_client.get(f"/reconcile/?tenant={tenant.code}")
    assert response.status_code == 302 and response["Location"] == f"/tenants/{tenant.code}/reconcile/"
    client.logout()
    assert client.get(f"/tenants/{tenant.code}/reconcile/").status_code == 302   # to the login page
    assert client.post(f"/tenants/{tenant.code}/reconcile/fix", {"kind": "po_missing", "key": "x",
                                                                  "fix": "resend"}).status_code == 302
    assert not Outbound.objects.filter(key="x").exists()


@needs_system("unixodbc", "tdsodbc")
def test_an_unreachable_sage_database_is_named_on_the_page_and_by_the_command(staff_client, make_tenant,
                                                                             sage_db_allowed, capsys):
    with socket.socket() as probe:       # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tenant = make_tenant(code="mx01", sandbox=False, sage_db_engine="mssql", sage_db_host="127.0.0.1",
                         sage_db_port=port, sage_db_name="SAMLTD", sage_db_user="sa",
                         sage_db_password="not-shown-1", sage_db_driver="FreeTDS", sage_db_python_driver="pyodbc")
    before = (Outbound.objects.count(), OutboundAttempt.objects.count(), ReconcileAck.objects.count())

    html = staff_client.get(f"/tenants/{tenant.code}/reconcile/").content.decode()
    text = _visible_text(html)
    assert f"127.0.0.1:{port}" in text and "SAMLTD" in text and "not-shown-1" not in html
    assert "Traceback" not in html
    refused = staff_client.post(f"/tenants/{tenant.code}/reconcile/fix",
                                {"kind": "po_missing", "key": "PO000001", "fix": "resend"}, follow=True)
    assert f"127.0.0.1:{port}" in _visible_text(refused.content.decode())

    with pytest.raises(SystemExit) as exit_:
        call_command("reconcile", "--tenant", tenant.code)
    assert exit_.value.code == 3
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in err and "not-shown-1" not in err and "\n" not in err.strip()
    assert (Outbound.objects.count(), OutboundAttempt.objects.count(), ReconcileAck.objects.count()) == before
