"""Stand-in records and payloads for the portal tests, built the way the sync steps build them."""
from __future__ import annotations

import datetime as dt
import uuid as uuidlib
from decimal import Decimal

from sync.portal import schemas as s


def add_providers(stand_in, count: int, *, accepted_on: dt.date | None = None, external: bool = True):
    from sandbox.portal.models import SandboxProvider

    rows = [SandboxProvider(
        portal_tenant=stand_in, external_id=f"V{index:05d}" if external else "",
        rfc=f"ABC8001{index % 28 + 1:02d}AB{index % 10}", name=f"Proveedor {index}",
        expedient_status="ACCEPTED" if accepted_on else "SENT", expedient_accepted=accepted_on,
        data={"country": "MX", "currency": "MXN", "credit_days": 30, "type": "REGULAR",
              "allow_invoice_reception": True},
    ) for index in range(count)]
    return SandboxProvider.objects.bulk_create(rows)


def add_cfdis(stand_in, count: int, *, issued: dt.date = dt.date(2026, 11, 2), cfdi_type: str = "INVOICE",
              total: Decimal = Decimal("1160.00"), provider_external_id: str = "V00000"):
    from sandbox.portal.models import SandboxCfdi

    rows = []
    for index in range(count):
        cfdi_uuid = str(uuidlib.uuid4()).upper()
        rows.append(SandboxCfdi(
            portal_tenant=stand_in, uuid=cfdi_uuid, cfdi_type=cfdi_type, issued=issued, total=total,
            provider_external_id=provider_external_id,
            item={"cfdi": {"timbre": {"uuid": cfdi_uuid}, "emisor": {"rfc": "ABC800101AB1"},
                           "receptor": {"rfc": "AIN8001011A1"}, "total": float(total), "folio": str(index)},
                  "metadata": {"provider_external_id": provider_external_id, "type": cfdi_type}},
            xml=f'<?xml version="1.0"?><cfdi:Comprobante Folio="{index}" UUID="{cfdi_uuid}"/>'.encode(),
        ))
    return SandboxCfdi.objects.bulk_create(rows)


def purchase_order(po_number: str = "PO000001", vendor_id: str = "V00000", **overrides) -> s.ExternPurchaseOrderRequest:
    day = s.portal_datetime(dt.date(2026, 11, 20))
    values = dict(
        external_id=po_number, num=po_number, provider_external_id=vendor_id, currency="MXN",
        date=day, delivery_date=day + dt.timedelta(days=10), delivery_contact="Almacén general",
        requested_by_contact="Compras", status="OPEN", subtotal=Decimal("1000.00"), total=Decimal("1160.00"),
        vat_sum=Decimal("160.00"), cfdi_use="G03",
        addresses=[s.BatchAddressRequest(type="SHIPPING", street="Av. Industria 100", city="Monterrey",
                                         zip_code="64000")],
        lines=[s.BatchPurchaseOrderLineRequest(
            external_id=f"{po_number}-1000", num=1000, code="A1-103", description="Lámina galvanizada cal. 22",
            quantity=Decimal("10"), price=Decimal("100.00"), subtotal=Decimal("1000.00"), total=Decimal("1160.00"),
            unit_of_measure="PZA", vat_taxes=[s.BatchLineTaxRequest(code="IVA", rate=Decimal("0.16"),
                                                                    amount=Decimal("160.00"))],
        )],
    )
    values.update(overrides)
    return s.ExternPurchaseOrderRequest(**values)


def payment(docnbr: str, *cfdi_amounts: tuple[str, Decimal], vendor_id: str = "V00000") -> s.OnePaymentRequest:
    return s.OnePaymentRequest(
        external_id=docnbr, provider_external_id=vendor_id, currency="MXN",
        payment_date=s.portal_datetime(dt.date(2026, 11, 25)), operation_type="TRANSFER", reference="9001",
        total_amount=sum((amount for _, amount in cfdi_amounts), Decimal(0)),
        cfdis=[s.CfdiToPayExternRequest(uuid=cfdi_uuid, amount=amount, payment_amount=amount, currency="MXN",
                                        exchange_rate=Decimal(1)) for cfdi_uuid, amount in cfdi_amounts],
    )
