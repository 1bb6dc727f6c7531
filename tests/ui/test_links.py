"""Records link to each other both ways: an invoice, the payments that pay it (by UUID, or by its number
where Sage has no UUID), its payment complement, its POs, and the runs that touched each."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from cfdi.models import Cfdi, CfdiStatus
from cfdi.services import store_cfdi
from sync.models import Outbound, OutboundAttempt, Payment, PaymentLine, SyncRun
from tests.cfdi.samples import sample
from tests.ui.conftest import INVOICE_UUID

pytestmark = pytest.mark.django_db

COMPLEMENT = "satcfdi-payment-for-ppd.xml"  # pays INVOICE_UUID
COMPLEMENT_UUID = "5B64ADA3-AA4C-40B4-A2F5-572CED52BE31"


def _waiting_without_uuid(tenant, docnbr: str, invoice_number: str, vendor: str = "1200") -> Payment:
    """A Sage payment of an invoice Sage holds without its CFDI UUID (typed by hand), as in FA-1010."""
    payment = Payment.objects.create(tenant=tenant, docnbr=docnbr, vendor=vendor, date=dt.date(2026, 1, 21),
                                     amount=Decimal("10"), currency="MXN", batch=8, entry=1,
                                     state=Payment.State.WAITING, sage_hash="y")
    PaymentLine.objects.create(payment=payment, line=1, invoice_number=invoice_number, cfdi_uuid="",
                               amount=Decimal("10"))
    Outbound.objects.create(tenant=tenant, kind=Outbound.Kind.PAYMENT, key=docnbr, state=Outbound.State.WAITING,
                            reason_code="no_cfdi_uuid",
                            reason=f"the Sage invoice(s) {invoice_number} have no CFDI UUID")
    return payment


def test_it_walks_from_a_stuck_payment_to_its_invoice_and_back(staff_client, world):
    tenant = world(1)[0]
    cfdi = Cfdi.objects.get(tenant=tenant)  # A-123456, needing attention: Sage has it without the UUID
    Cfdi.objects.filter(pk=cfdi.pk).update(status=CfdiStatus.NEEDS_ATTENTION,
                                           portal_metadata={"provider_external_id": "1200"})
    _waiting_without_uuid(tenant, "PY0000005", cfdi.document_number)

    payments = staff_client.get("/payments/?docnbr=PY0000005").content.decode()
    assert f'<a href="/cfdis/{cfdi.pk}/" class="waits-for">A-123456 (no UUID in Sage)</a>' in payments
    assert '<span class="status st-needs_attention">needs attention</span>' in payments
    assert "the Sage invoice(s) A-123456 have no CFDI UUID" in payments  # why it waits: its record's reason

    page = staff_client.get(f"/cfdis/{cfdi.pk}/").content.decode()
    assert f'href="/payments/?tenant={tenant.code}&amp;docnbr=PY0000005">PY0000005</a>' in page
    assert f'href="/payments/?tenant={tenant.code}&amp;docnbr=PY00000">PY00000</a>' in page  # pays it by UUID


def test_it_does_not_link_another_vendors_invoice_with_the_same_number(staff_client, world):
    tenant = world(1)[0]
    cfdi = Cfdi.objects.get(tenant=tenant)
    Cfdi.objects.filter(pk=cfdi.pk).update(portal_metadata={"provider_external_id": "1200"})
    _waiting_without_uuid(tenant, "PY0000006", cfdi.document_number, vendor="9999")
    assert "PY0000006" not in staff_client.get(f"/cfdis/{cfdi.pk}/").content.decode()
    assert 'class="waits-for"' not in staff_client.get("/payments/?docnbr=PY0000006").content.decode()


def test_it_links_an_invoice_and_the_payment_complement_that_settles_it(staff_client, world):
    tenant = world(1)[0]
    invoice = Cfdi.objects.get(tenant=tenant)
    complement = store_cfdi(tenant, sample(COMPLEMENT))
    assert complement.uuid == COMPLEMENT_UUID

    page = staff_client.get(f"/cfdis/{invoice.pk}/").content.decode()
    assert f'<a href="/cfdis/{complement.pk}/"><code>{COMPLEMENT_UUID}</code></a>' in page
    page = staff_client.get(f"/cfdis/{complement.pk}/").content.decode()
    assert f'<a href="/cfdis/{invoice.pk}/"><code>{INVOICE_UUID}</code></a>' in page


def test_it_links_each_record_to_the_run_and_step_that_last_touched_it(staff_client, world):
    tenant = world(1)[0]
    run = SyncRun.objects.get(tenant=tenant)
    cfdi = Cfdi.objects.get(tenant=tenant)
    payment = Outbound.objects.get(tenant=tenant, kind=Outbound.Kind.PAYMENT, key="PY00000")
    OutboundAttempt.objects.create(record=payment, run=run, step="payment_upload", action="create",
                                   outcome="confirmed")
    to_step = f'href="/runs/{run.pk}/#step-{{}}" class="touch">Run {run.pk}</a>'

    assert to_step.format("cfdi_import") in staff_client.get(f"/cfdis/{cfdi.pk}/").content.decode()
    assert to_step.format("payment_upload") in staff_client.get("/payments/").content.decode()
    assert to_step.format("po_upsert") in staff_client.get("/pos/").content.decode()
    # And back: the run's failed records open their records' pages.
    run_page = staff_client.get(f"/runs/{run.pk}/").content.decode()
    assert f'<a href="/cfdis/{cfdi.pk}/">{cfdi.uuid}</a>' in run_page
    assert f'<a href="/pos/?tenant={tenant.code}&amp;po=PO00000">PO00000</a>' in run_page


def test_it_links_an_invoice_to_its_purchase_orders_and_lists_a_pos_invoices(staff_client, world):
    first, second = world(2)
    cfdi = Cfdi.objects.get(tenant=first)
    Cfdi.objects.filter(pk=cfdi.pk).update(portal_metadata={"purchase_orders": [
        {"purchase_order_external_id": "PO000012"}]})
    page = staff_client.get(f"/cfdis/{cfdi.pk}/").content.decode()
    assert f'<a href="/pos/?tenant={first.code}&amp;po=PO000012">PO000012</a>' in page
    listed = staff_client.get("/cfdis/?po=PO000012").context["page"]
    assert [c.pk for c in listed] == [cfdi.pk]
    assert list(staff_client.get("/cfdis/?po=PO00001").context["page"]) == []  # the whole number, not a prefix


def test_the_attention_list_links_each_record_to_its_page_and_to_the_run_that_left_it(staff_client, world):
    tenant = world(1)[0]
    cfdi = Cfdi.objects.get(tenant=tenant)
    run = SyncRun.objects.get(tenant=tenant)

    needing = staff_client.get("/attention/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'<a href="/cfdis/{cfdi.pk}/">{cfdi.uuid}</a>' in needing
    assert f'href="/runs/{run.pk}/#step-cfdi_import"' in needing

    waiting = staff_client.get("/attention/?show=waiting", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'<a href="/payments/?tenant={tenant.code}&amp;docnbr=PY00000">PY00000</a>' in waiting
    assert f'href="/runs/{run.pk}/#step-payment_upload"' in waiting
    assert "waits for an invoice not yet in Sage" in waiting  # why it waits, its record's reason
    # ...and the payment's own page leads on to the invoice it waits for.
    payments = staff_client.get(f"/payments/?tenant={tenant.code}&docnbr=PY00000").content.decode()
    assert f'href="/cfdis/{cfdi.pk}/"' in payments
