"""A Sage payment (our Payment row) as the portal's OnePaymentRequest, and the
reason it cannot go yet."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from cfdi.models import Cfdi
from sync.engine.outbox import Waiting
from sync.models import Payment, PaymentLine
from sync.portal.schemas import (
    CfdiToPayExternRequest,
    OnePaymentRequest,
    OperationType,
    portal_datetime,
)
from sync.sage.models import APTCRO
from sync.sage.queries import _pairs, sage_query
from sync.sage.values import currency, uuid_key

# Sage's APTCR does not say how the money moved (transfer, cheque, cash).
OPERATION_TYPE: OperationType = "NOT_DEFINED"
CENT = Decimal("0.01")
HOME_CURRENCY = "MXN"  # the currency a CFDI's TipoCambio converts into (Anexo 20: pesos per unit)


@dataclass(frozen=True)
class CfdiMoney:
    """A paid CFDI's own Moneda and TipoCambio, as its stored original says."""

    currency: str
    exchange_rate: Decimal | None


def cfdi_money(tenant_id: int, uuids: Iterable[str]) -> dict[str, CfdiMoney]:
    """The stored CFDIs' currencies, by upper-case UUID; a CFDI we never downloaded is absent."""
    rows = Cfdi.objects.filter(tenant_id=tenant_id, uuid__in=sorted({uuid_key(u) for u in uuids if u}))
    return {uuid: CfdiMoney(currency or "", rate) for uuid, currency, rate
            in rows.values_list("uuid", "currency", "exchange_rate")}


def payment_rate(payment_currency: str, money: CfdiMoney | None) -> Decimal | None:
    """Units of the payment's currency per unit of the CFDI's: 1 when they are the same currency.

    Only the pesos case is known: a CFDI in a foreign currency carries its
    TipoCambio to MXN, so an MXN payment of it converts at that rate. Any
    other pair has no rate we can stand behind (README, "Unverified against
    the real portal").
    """
    if money is None or not money.currency or money.currency == payment_currency:
        return Decimal(1)
    if payment_currency == HOME_CURRENCY and money.exchange_rate:
        return money.exchange_rate
    return None


def waiting(payment: Payment, lines: list[PaymentLine], confirmed: set[str],
            money: Mapping[str, CfdiMoney] | None = None) -> Waiting | None:
    """Why the payment cannot go to the portal yet (what it waits for); None when it can."""
    if not lines:
        return Waiting("no_invoice", _("the Sage payment applies to no invoice"))
    without = [line.invoice_number for line in lines if not uuid_key(line.cfdi_uuid)]
    if without:
        return Waiting("no_cfdi_uuid", _(
            "waiting for a CFDI UUID: the Sage invoice(s) %(invoices)s have no CFDI UUID (%(field)s)") % {
            "invoices": ", ".join(sorted(set(without))), "field": "APIBHO FOLIOCFD"})
    missing = sorted({uuid_key(line.cfdi_uuid) for line in lines} - confirmed)
    if missing:
        return Waiting("cfdi_not_in_sage", _("waiting for CFDI import: %(uuids)s") % {"uuids": ", ".join(missing)})
    paid_in = currency(payment.currency)
    for line in lines:
        found = (money or {}).get(uuid_key(line.cfdi_uuid))
        # A CFDI missing from `money` is taken to be in the payment's currency: rate 1.
        if found is not None and payment_rate(paid_in, found) is None:
            # Only a person can end this wait: Sage must hold the payment in another currency.
            return Waiting("no_exchange_rate", _(
                "CFDI %(uuid)s is in %(cfdi)s and the payment in %(payment)s: no exchange rate between them is "
                "known (the CFDI's TipoCambio converts only to MXN); record the payment in the CFDI's currency in "
                "Sage") % {"uuid": uuid_key(line.cfdi_uuid), "cfdi": found.currency, "payment": paid_in},
                person=True)
    return None


def wait_reason(payment: Payment, lines: list[PaymentLine], confirmed: set[str],
                money: Mapping[str, CfdiMoney] | None = None) -> str:
    """Why the payment cannot go to the portal yet; "" when it can."""
    found = waiting(payment, lines, confirmed, money)
    return found.reason if found else ""


def build_payment(tenant, payment: Payment, lines: list[PaymentLine],
                  money: Mapping[str, CfdiMoney] | None = None) -> OnePaymentRequest:
    """`money`: each paid CFDI's own currency (cfdi_money); a CFDI missing there is taken to be in the
    payment's currency, which is the Sage invoice's (AP applies a payment in the document's currency)."""
    paid_in = currency(payment.currency)
    return OnePaymentRequest(
        external_id=payment.docnbr,
        provider_external_id=payment.vendor,
        currency=paid_in,
        payment_date=portal_datetime(payment.date, tenant.time_zone),
        total_amount=payment.amount,
        operation_type=OPERATION_TYPE,
        reference=(payment.reference or payment.remit_id or None),
        cfdis=[cfdi_to_pay(line, paid_in, (money or {}).get(uuid_key(line.cfdi_uuid))) for line in lines],
    )


def cfdi_to_pay(line: PaymentLine, paid_in: str, money: CfdiMoney | None) -> CfdiToPayExternRequest:
    """CfdiToPayExternRequest (focaltec/openapi.json): `amount` and `currency` are the CFDI's ("en la
    moneda del comprobante"), `payment_amount` the payment's, `exchange_rate` 1 when both are the same."""
    rate = payment_rate(paid_in, money)
    if rate is None:
        raise ValueError(f"no exchange rate from {money.currency if money else '?'} to {paid_in}")
    own = money.currency if money is not None and money.currency else paid_in
    if own == paid_in:
        return CfdiToPayExternRequest(uuid=uuid_key(line.cfdi_uuid), amount=line.amount, payment_amount=line.amount,
                                      currency=own, exchange_rate=Decimal(1))
    return CfdiToPayExternRequest(
        uuid=uuid_key(line.cfdi_uuid), amount=(line.amount / rate).quantize(CENT, ROUND_HALF_UP),
        payment_amount=line.amount, currency=own, payment_currency=paid_in, exchange_rate=rate)


@sage_query("payment_optional_fields", entries=[(500, 1)], fields=["FOLIOCFD", "FECHACFD"])
def payment_optional_fields(alias: str, tenant, *, entries: Iterable[tuple[int, int]], fields: list[str]) -> QuerySet:
    """APTCRO rows of 'PY' payment entries (batch, entry)."""
    keys = _pairs("CNTBTCH", "CNTENTR", entries)
    rows = APTCRO.objects.using(alias).filter(BTCHTYPE="PY", OPTFIELD__in=fields)
    return (rows.filter(keys) if keys else rows.none()).order_by("CNTBTCH", "CNTENTR", "OPTFIELD")
