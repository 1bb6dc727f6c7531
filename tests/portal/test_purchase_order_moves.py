"""The stand-in refuses the purchase-order status changes the portal refuses, with the spec's error
codes (PURCHASE_ORDERS__NOT_OPEN, PURCHASE_ORDERS__UNEXPECTED_STATUS), and a refused call changes nothing."""
from __future__ import annotations

from decimal import Decimal

import pytest

from sandbox.portal.models import SandboxPurchaseOrder
from sync.portal import PortalPermanentError
from tests.portal.factories import add_providers, purchase_order


@pytest.fixture
def order(portal, stand_in):
    add_providers(stand_in, 1)
    portal.create_purchase_order(purchase_order("PO000001"))
    return SandboxPurchaseOrder.objects.get(external_id="PO000001")


def refused(portal, status: str) -> PortalPermanentError:
    with pytest.raises(PortalPermanentError) as raised:
        portal.change_purchase_order_status("PO000001", status)
    return raised.value


@pytest.mark.parametrize("final", ["CLOSED", "CANCELLED"])
def test_it_closes_or_cancels_an_open_order_once_and_again_harmlessly(portal, order, final):
    assert portal.change_purchase_order_status("PO000001", final).status == final
    assert portal.change_purchase_order_status("PO000001", final).status == final  # a resend after a crash

    order.refresh_from_db()
    assert order.status == final


@pytest.mark.parametrize("first, then", [("CANCELLED", "OPEN"), ("CLOSED", "OPEN"), ("CANCELLED", "CLOSED"),
                                         ("CLOSED", "CANCELLED")])
def test_it_refuses_to_move_an_order_that_is_no_longer_open(portal, order, first, then):
    portal.change_purchase_order_status("PO000001", first)

    error = refused(portal, then)

    assert (error.status, error.code) == (400, "PURCHASE_ORDERS__NOT_OPEN")
    order.refresh_from_db()
    assert order.status == first and order.request["status"] == first


def test_it_refuses_an_unexpected_status(portal, order):
    error = refused(portal, "GENERATED")

    assert (error.status, error.code) == (400, "PURCHASE_ORDERS__UNEXPECTED_STATUS")
    order.refresh_from_db()
    assert order.status == "OPEN"


def test_it_refuses_to_replace_a_closed_order_and_keeps_it(portal, order):
    portal.change_purchase_order_status("PO000001", "CLOSED")
    kept = dict(SandboxPurchaseOrder.objects.get(pk=order.pk).request)

    with pytest.raises(PortalPermanentError) as raised:
        portal.replace_purchase_order("PO000001", purchase_order("PO000001", total=Decimal("2320.00"), status="CLOSED"))

    assert raised.value.code == "PURCHASE_ORDERS__NOT_OPEN"
    assert SandboxPurchaseOrder.objects.get(pk=order.pk).request == kept


def test_a_batch_answers_the_refusal_per_order(portal, order):
    portal.change_purchase_order_status("PO000001", "CANCELLED")

    answer = portal.upsert_purchase_orders([purchase_order("PO000001"), purchase_order("PO000002")])

    assert [(o.external_id, o.status) for o in answer.orders_status] == [("PO000001", "ERROR"), ("PO000002", "CREATED")]
    assert answer.orders_status[0].errors[0].error_code == "PURCHASE_ORDERS__NOT_OPEN"
    assert SandboxPurchaseOrder.objects.get(external_id="PO000001").status == "CANCELLED"
