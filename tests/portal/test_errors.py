"""Permanent refusals: raised at once, carrying the portal's own code and description."""
from decimal import Decimal

import pytest

from sync.portal import PortalAuthError, PortalConflictError, PortalNotFoundError, PortalPermanentError
from tests.portal.factories import add_cfdis, add_providers, payment, purchase_order


def test_it_raises_a_conflict_with_the_portal_code_on_a_duplicate_po(portal, stand_in):
    add_providers(stand_in, 1)
    portal.create_purchase_order(purchase_order("PO000001"))

    with pytest.raises(PortalConflictError) as raised:
        portal.create_purchase_order(purchase_order("PO000001"))

    assert raised.value.status == 409
    assert raised.value.code == "PURCHASE_ORDERS__DUPLICATED"
    assert "PO000001" in raised.value.description
    assert "HTTP 409" in str(raised.value) and "PURCHASE_ORDERS__DUPLICATED" in str(raised.value)
    assert portal.calls.attempts == 2, "a 409 is not retried"


def test_it_raises_400_with_code_1800_for_a_payment_of_an_unknown_cfdi(portal, stand_in):
    with pytest.raises(PortalPermanentError) as raised:
        portal.create_payment(payment("PY0000001", ("0B8A8D1E-0000-4000-8000-000000000001", Decimal("10.00"))))

    assert (raised.value.status, raised.value.code) == (400, 1800)
    assert "0B8A8D1E-0000-4000-8000-000000000001" in str(raised.value)
    assert portal.calls.attempts == 1


def test_it_raises_1827_for_an_already_paid_cfdi(portal, stand_in):
    invoice = add_cfdis(stand_in, 1, total=Decimal("1160.00"))[0]
    portal.create_payment(payment("PY0000001", (invoice.uuid, Decimal("1160.00"))))

    with pytest.raises(PortalPermanentError) as raised:
        portal.create_payment(payment("PY0000002", (invoice.uuid, Decimal("1160.00"))))

    assert raised.value.code == 1827


def test_it_raises_not_found_for_an_unknown_purchase_order(portal, stand_in):
    with pytest.raises(PortalNotFoundError) as raised:
        portal.get_purchase_order("PO999999")

    assert raised.value.code == "PURCHASE_ORDERS__NOT_FOUND"


def test_it_says_which_credentials_to_check_on_401(portal_tenant, stand_in):
    from sync.portal import PortalClient

    stand_in.secret = "another-secret"
    stand_in.save()
    with PortalClient(portal_tenant) as client, pytest.raises(PortalAuthError) as raised:
        client.get_cfdi("0B8A8D1E-0000-4000-8000-000000000001")

    assert raised.value.status == 401
    assert "acme" in str(raised.value) and "key and secret" in str(raised.value)
    assert client.calls.attempts == 1


def test_it_refuses_an_empty_uuid_before_sending(portal, stand_in):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="uuid"):
        payment("PY0000001", ("", Decimal("10.00")))
    add_cfdis(stand_in, 1)
    list(portal.iter_cfdis())  # the recorder wants one real request


def test_it_refuses_a_batch_of_more_than_50_orders_before_sending(portal, stand_in):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="50"):
        portal.upsert_purchase_orders([purchase_order(f"PO{n:06d}") for n in range(51)])
    assert portal.calls.writes == 0
    list(portal.iter_cfdis())
