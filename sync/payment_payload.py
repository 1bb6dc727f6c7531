"""A Sage payment (our Payment row) as the portal's OnePaymentRequest, and the
reason it cannot go yet."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from sync.models import Payment, PaymentLine
from sync.portal.schemas import CfdiToPayExternRequest, OnePaymentRequest, portal_datetime
from sync.sage.models import APTCRO
from sync.sage.queries import _pairs, sage_query
from sync.sage.values import currency, uuid_key

# Sage's APTCR does not say how the money moved (transfer, cheque, cash).
OPERATION_TYPE = "NOT_DEFINED"


def wait_reason(payment: Payment, lines: list[PaymentLine], confirmed: set[str]) -> str:
    """Why the payment cannot go to the portal yet; "" when it can."""
    if not lines:
        return _("the Sage payment applies to no invoice")
    without = [line.invoice_number for line in lines if not uuid_key(line.cfdi_uuid)]
    if without:
        return _("waiting for a CFDI UUID: the Sage invoice(s) %(invoices)s have no CFDI UUID (%(field)s)") % {
            "invoices": ", ".join(sorted(set(without))), "field": "APIBHO FOLIOCFD"}
    missing = sorted({uuid_key(line.cfdi_uuid) for line in lines} - confirmed)
    if missing:
        return _("waiting for CFDI import: %(uuids)s") % {"uuids": ", ".join(missing)}
    return ""


def build_payment(tenant, payment: Payment, lines: list[PaymentLine]) -> OnePaymentRequest:
    money = currency(payment.currency)
    return OnePaymentRequest(
        external_id=payment.docnbr,
        provider_external_id=payment.vendor,
        currency=money,
        payment_date=portal_datetime(payment.date, tenant.time_zone),
        total_amount=payment.amount,
        operation_type=OPERATION_TYPE,
        reference=(payment.reference or payment.remit_id or None),
        cfdis=[
            # Sage applies a payment in the invoice's currency: the rate between them is 1.
            CfdiToPayExternRequest(uuid=uuid_key(line.cfdi_uuid), amount=line.amount, payment_amount=line.amount,
                                   currency=money, exchange_rate=Decimal(1))
            for line in lines
        ],
    )


def payment_hash(request: OnePaymentRequest) -> str:
    return hashlib.sha256(json.dumps(request.to_json(), sort_keys=True).encode()).hexdigest()


@sage_query("payment_optional_fields", entries=[(500, 1)], fields=["FOLIOCFD", "FECHACFD"])
def payment_optional_fields(alias: str, tenant, *, entries: Iterable[tuple[int, int]], fields: list[str]) -> QuerySet:
    """APTCRO rows of 'PY' payment entries (batch, entry)."""
    keys = _pairs("CNTBTCH", "CNTENTR", entries)
    rows = APTCRO.objects.using(alias).filter(BTCHTYPE="PY", OPTFIELD__in=fields)
    return (rows.filter(keys) if keys else rows.none()).order_by("CNTBTCH", "CNTENTR", "OPTFIELD")
