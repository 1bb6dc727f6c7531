"""A Sage PO (sync.po_state.SagePo) as the portal's ExternPurchaseOrderRequest.

Mapping (EXTERNAL.md §1, §3):
- external_id / num = PONUMBER (trimmed); provider_external_id = VDCODE (the VENDORID);
- date / delivery_date = DATE / EXPARRIVAL at local midnight in the tenant's time zone;
- currency: MXP (Sage's legacy peso code) is already MXN here; exchange_rate only
  for foreign currencies;
- addresses: BILLING from POPORH2 bill-to; SHIPPING from POPORH2 ship-to, or the
  tenant's default ship-to address when the PO has none;
- lines: only those outside the tenant's skipped locations; quantity = ordered −
  cancelled, so a partly cancelled PO shows what is still on order;
- subtotal / total: recomputed from the lines sent (skipped locations and
  cancellations change them), the tax kept at Sage's DOCTOTAL / EXTENDED ratio;
- POPORHO optional fields travel as metadata; USOCFDI, when a valid CFDI use,
  as cfdi_use.
"""
from __future__ import annotations

import typing
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _
from pydantic import ValidationError

from sync.po_state import SagePo, SagePoLine
from sync.portal import schemas as s

CENT = Decimal("0.01")
# The portal's CfdiUse values, each mapped to itself: a lookup both checks a Sage value and gives it its Literal type.
CFDI_USES: dict[str, s.CfdiUse] = {use: use for use in typing.get_args(s.CfdiUse)}


class PoPayloadError(ValueError):
    """The PO cannot be expressed as a portal order; the message names the PO and the field."""


def build_order(po: SagePo, tenant, status: s.PurchaseOrderStatus = "OPEN") -> s.ExternPurchaseOrderRequest:
    if po.date is None:
        raise PoPayloadError(
            _("PO %(po)s has no date in Sage (POPORH1.DATE); the portal needs one.") % {"po": po.po_number})
    lines = sent_lines(po, tenant)
    if not lines:
        raise PoPayloadError(_("PO %(po)s has no line outside the skipped locations.") % {"po": po.po_number})
    tax_ratio = po.total / po.subtotal if po.subtotal else Decimal(1)
    order_lines = [_line(po, line, index, tax_ratio) for index, line in enumerate(lines, start=1)]
    subtotal = sum((line.subtotal for line in order_lines), Decimal(0))
    total = sum((line.total for line in order_lines), Decimal(0))
    try:
        return s.ExternPurchaseOrderRequest(
            external_id=po.po_number, num=po.po_number, provider_external_id=po.vendor_id, status=status,
            date=s.portal_datetime(po.date, tenant.time_zone),
            delivery_date=s.portal_datetime(po.expected or po.date, tenant.time_zone),
            currency=po.currency, exchange_rate=po.rate if po.currency != "MXN" and po.rate else None,
            subtotal=subtotal, total=total, vat_sum=total - subtotal,
            delivery_contact=po.addresses.get("STDESC") or tenant.name,
            requested_by_contact=po.addresses.get("ENTEREDBY") or tenant.name,
            reference=(po.reference or None) and po.reference[:100],
            comments=(po.comment or po.description or None) and (po.comment or po.description)[:512],
            cfdi_use=_cfdi_use(po), addresses=addresses(po, tenant), lines=order_lines,
            metadata=[s.MetadataRequest(key=key, value=value)
                      for key, value in sorted(po.optional_fields.items())] or None,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
        raise PoPayloadError(_("PO %(po)s does not fit the portal's purchase order: %(problems)s")
                             % {"po": po.po_number, "problems": problems}) from None


def sent_lines(po: SagePo, tenant) -> list[SagePoLine]:
    skipped = {code.strip().upper() for code in tenant.skip_location_codes or []}
    return [line for line in sorted(po.lines, key=lambda line: line.line_number)
            if line.location.upper() not in skipped]


def _line(po: SagePo, line: SagePoLine, index: int, tax_ratio: Decimal) -> s.BatchPurchaseOrderLineRequest:
    subtotal = _cents(line.quantity * line.unit_cost)
    return s.BatchPurchaseOrderLineRequest(
        external_id=f"{po.po_number}-{line.line_number}", num=index, code=line.item_no or "-",
        description=(line.description or line.item_no or "-")[:250], unit_of_measure=line.unit or None,
        price=line.unit_cost, quantity=line.quantity, subtotal=subtotal, total=_cents(subtotal * tax_ratio),
        comments=line.location or None,
    )


def addresses(po: SagePo, tenant) -> list[s.BatchAddressRequest]:
    found = []
    bill = po.addresses
    if bill.get("BTADDRESS1"):
        found.append(s.BatchAddressRequest(
            type="BILLING", identifier=bill.get("BTCODE") or None, street=bill["BTADDRESS1"][:100],
            city=bill.get("BTCITY") or None, state=bill.get("BTSTATE") or None,
            zip_code=bill.get("BTZIP") or None, country=bill.get("BTCOUNTRY") or None))
    if bill.get("STADDRESS1"):
        street = " ".join(part for part in (bill["STADDRESS1"], bill.get("STADDRESS2", "")) if part)
        found.append(s.BatchAddressRequest(
            type="SHIPPING", identifier=bill.get("STCODE") or None, street=street[:100],
            city=bill.get("STCITY") or None, state=bill.get("STSTATE") or None,
            zip_code=bill.get("STZIP") or None, country=bill.get("STCOUNTRY") or None))
    elif tenant.ship_to_street:
        found.append(s.BatchAddressRequest(
            type="SHIPPING", street=tenant.ship_to_street[:100], city=tenant.ship_to_city or None,
            state=tenant.ship_to_state or None, zip_code=tenant.ship_to_zip or None,
            country=tenant.ship_to_country or None))
    return found


def _cfdi_use(po: SagePo) -> s.CfdiUse | None:
    return CFDI_USES.get(po.optional_fields.get("USOCFDI", "").upper())


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)
