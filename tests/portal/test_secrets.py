"""The tenant's key and secret never reach a log line, an error or a stored snapshot."""
import logging
from decimal import Decimal

import pytest

from sandbox.faults import set_faults
from sync.portal import PortalClient, PortalError, RetryPolicy
from tests.portal.conftest import PORTAL_KEY, PORTAL_SECRET
from tests.portal.factories import add_cfdis, payment


def _assert_clean(*texts: str) -> None:
    for text in texts:
        assert PORTAL_KEY not in text and PORTAL_SECRET not in text


def test_it_keeps_secrets_out_of_logs_errors_and_snapshots(portal_tenant, stand_in, caplog):
    caplog.set_level(logging.DEBUG)  # urllib3 and requests included
    invoice = add_cfdis(stand_in, 1)[0]
    errors = []
    client = PortalClient(portal_tenant, retry=RetryPolicy(max_attempts=2, backoff_base=0.001))
    with client:
        list(client.iter_cfdis())
        _assert_clean(repr(client.snapshot()))
        for attempt in (
            lambda: client.create_payment(payment("PY1", ("0B8A8D1E-0000-4000-8000-000000000001", Decimal(1)))),
            lambda: client.get_purchase_order("NOPE"),
        ):
            with pytest.raises(PortalError) as raised:
                attempt()
            errors.append(raised.value)
        set_faults("portal:acme-portal", error_rate=1.0, error_statuses=[503])
        with pytest.raises(PortalError) as raised:
            client.get_cfdi(invoice.uuid)
        errors.append(raised.value)
        stand_in.secret = "rotated"
        stand_in.save()
        set_faults("portal:acme-portal", enabled=False)
        with pytest.raises(PortalError) as raised:
            client.get_cfdi(invoice.uuid)
        errors.append(raised.value)

    snapshot = client.snapshot()
    assert snapshot["headers"] == {"PDPTenantKey": "***", "PDPTenantSecret": "***"}
    assert snapshot["status"] == 401 and snapshot["method"] == "GET"
    assert len(caplog.records) >= 6
    _assert_clean(caplog.text, repr(snapshot), *(str(e) for e in errors), *(repr(e.__dict__) for e in errors))

