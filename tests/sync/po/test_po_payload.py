"""A Sage PO as the portal's ExternPurchaseOrderRequest (sync.po_payload)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sync.po_payload import PoPayloadError, build_order
from sync.po_state import SagePo, SagePoLine

pytestmark = pytest.mark.django_db
SHIP_TO = {"STDESC": "Almacén norte", "STCODE": "1", "STADDRESS1": "Carretera a Saltillo km 12",
           "STADDRESS2": "Bodega 3", "STCITY": "Santa Catarina", "STSTATE": "NL", "STZIP": "66350",
           "STCOUNTRY": "MEXICO"}
BILL_TO = {"BTCODE": "MATRIZ", "BTADDRESS1": "Av. Constitución 2050", "BTCITY": "Monterrey", "ENTEREDBY": "ADMIN"}


def line(number: int, ordered: str, *, cancelled: str = "0", location: str = "1", cost: str = "10") -> SagePoLine:
    return SagePoLine(line_number=number, item_no=f"A{number}", description=f"Artículo {number}", location=location,
                      unit="PZA", ordered=Decimal(ordered), received=Decimal(0), cancelled=Decimal(cancelled),
                      unit_cost=Decimal(cost), extended=Decimal(ordered) * Decimal(cost))


def sage_po(*lines: SagePoLine, currency: str = "MXN", rate: str = "1", addresses=None, date=dt.date(2026, 11, 2),
            subtotal: str = "100", total: str = "116") -> SagePo:
    return SagePo(
        porhseq=1000, po_number="PO000001", vendor_id="P00002", vendor_name="Aceros", date=date,
        expected=dt.date(2026, 11, 20), portype=1, is_complete=False, on_hold=False, currency=currency,
        rate=Decimal(rate), subtotal=Decimal(subtotal), total=Decimal(total), description="Compra 1", comment="",
        reference="REQ-1000", requisition="", terms="30", watermark=(Decimal(0), Decimal(0), 1000),
        lines=list(lines), optional_fields={"USOCFDI": "G03", "AUTORIZADA": "SI"},
        addresses={**BILL_TO, **SHIP_TO} if addresses is None else addresses,
    )


def test_it_sends_what_is_still_on_order_and_leaves_out_skipped_locations(make_tenant):
    tenant = make_tenant(skip_location_codes=["gral"])
    order = build_order(sage_po(line(1000, "10", cancelled="4"), line(2000, "5", location="GRAL"), line(3000, "2")),
                        tenant).to_json()
    assert [(ln["external_id"], ln["quantity"], ln["subtotal"]) for ln in order["lines"]] == [
        ("PO000001-1000", 6.0, 60.0), ("PO000001-3000", 2.0, 20.0)]
    assert (order["subtotal"], order["total"], order["vat_sum"]) == (80.0, 92.8, 12.8)  # Sage's 16 % kept


def test_it_maps_header_fields_and_keeps_sages_optional_fields(make_tenant):
    order = build_order(sage_po(line(1000, "10")), make_tenant(time_zone="America/Monterrey")).to_json()
    assert order["external_id"] == order["num"] == "PO000001" and order["provider_external_id"] == "P00002"
    assert order["date"] == "2026-11-02T00:00:00.000-06:00" and order["delivery_date"].startswith("2026-11-20")
    assert (order["currency"], order["status"], order["cfdi_use"]) == ("MXN", "OPEN", "G03")
    assert "exchange_rate" not in order
    assert order["requested_by_contact"] == "ADMIN" and order["delivery_contact"] == "Almacén norte"
    assert {"key": "AUTORIZADA", "value": "SI"} in order["metadata"]


def test_it_sends_the_exchange_rate_of_a_foreign_currency_po(make_tenant):
    order = build_order(sage_po(line(1000, "10"), currency="USD", rate="17.25"), make_tenant()).to_json()
    assert (order["currency"], order["exchange_rate"]) == ("USD", 17.25)


def test_it_ships_to_the_po_address_or_else_to_the_tenants_default(make_tenant):
    tenant = make_tenant(ship_to_street="Calle Planta 1", ship_to_city="Apodaca", ship_to_state="NL",
                         ship_to_zip="66600")
    own = build_order(sage_po(line(1000, "1")), tenant).to_json()["addresses"]
    assert [(a["type"], a["street"]) for a in own] == [
        ("BILLING", "Av. Constitución 2050"), ("SHIPPING", "Carretera a Saltillo km 12 Bodega 3")]
    default = build_order(sage_po(line(1000, "1"), addresses=BILL_TO), tenant).to_json()["addresses"]
    assert default[1] == {"type": "SHIPPING", "street": "Calle Planta 1", "city": "Apodaca", "state": "NL",
                          "zip_code": "66600", "country": "MEX"}


def test_it_names_the_po_and_the_field_when_sage_has_no_date(make_tenant):
    with pytest.raises(PoPayloadError, match=r"PO PO000001 has no date in Sage \(POPORH1.DATE\)"):
        build_order(sage_po(line(1000, "1"), date=None), make_tenant())
