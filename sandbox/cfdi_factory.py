"""CFDI 4.0 documents for the sandbox, built from a plan's PlanCfdi.

They pass our strict parse, SAT's schemas and the business checks for the
tenant they are addressed to. The stamp is a test stamp: the seal and
certificate values are placeholders (no PAC signed them), which is all the
download and import steps look at. Same input, same bytes.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from xml.sax.saxutils import quoteattr

from sandbox.plan import CENT, PlanCfdi

CFDI_NS = "http://www.sat.gob.mx/cfd/4"
TFD_NS = "http://www.sat.gob.mx/TimbreFiscalDigital"
PAGOS_NS = "http://www.sat.gob.mx/Pagos20"
TEST_CERTIFICATE_NUMBER = "30001000000500003416"  # SAT's published test certificate
TEST_SEAL = "U0FOREJPWA=="                           # base64 "SANDBOX": not a signature
RATE = Decimal("0.160000")
BORDER_RATE = Decimal("0.080000")
IVA_WITHHELD_RATE = Decimal("0.106667")
ISR_RATE = Decimal("0.100000")
POSTAL_CODE = "64000"


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT, ROUND_HALF_UP))


def _attrs(**values: str) -> str:
    return "".join(f" {name}={quoteattr(value)}" for name, value in values.items() if value != "")


def _stamp(plan_cfdi: PlanCfdi) -> str:
    stamped = plan_cfdi.issued.replace(microsecond=0).isoformat()
    return (f'<tfd:TimbreFiscalDigital xmlns:tfd="{TFD_NS}"'
            + _attrs(Version="1.1", UUID=plan_cfdi.uuid, FechaTimbrado=stamped, RfcProvCertif="SAT970701NN3",
                     SelloCFD=TEST_SEAL, NoCertificadoSAT=TEST_CERTIFICATE_NUMBER, SelloSAT=TEST_SEAL)
            + "/>")


def _header(plan_cfdi: PlanCfdi, kind: str, **amounts: str) -> str:
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            f'<cfdi:Comprobante xmlns:cfdi="{CFDI_NS}"'
            + (f' xmlns:pago20="{PAGOS_NS}"' if kind == "P" else "")
            + _attrs(Version="4.0", Serie=plan_cfdi.series, Folio=plan_cfdi.folio,
                     Fecha=plan_cfdi.issued.replace(microsecond=0).isoformat(), Sello=TEST_SEAL,
                     NoCertificado=TEST_CERTIFICATE_NUMBER, Certificado=TEST_SEAL, **amounts,
                     TipoDeComprobante=kind, Exportacion="01", LugarExpedicion=POSTAL_CODE)
            + ">")


def _parties(plan_cfdi: PlanCfdi, receptor_rfc: str, receptor_name: str, use: str) -> str:
    return ("<cfdi:Emisor" + _attrs(Rfc=plan_cfdi.issuer_rfc, Nombre=plan_cfdi.issuer_name, RegimenFiscal="601") + "/>"
            + "<cfdi:Receptor" + _attrs(Rfc=receptor_rfc, Nombre=receptor_name, DomicilioFiscalReceptor=POSTAL_CODE,
                                        RegimenFiscalReceptor="601", UsoCFDI=use) + "/>")


def _traslado(base: Decimal, rate: Decimal, amount: Decimal) -> str:
    return ("<cfdi:Traslado" + _attrs(Base=_money(base), Impuesto="002", TipoFactor="Tasa",
                                      TasaOCuota=f"{rate:.6f}", Importe=_money(amount)) + "/>")


def _retencion(base: Decimal, tax: str, rate: Decimal, amount: Decimal) -> str:
    return ("<cfdi:Retencion" + _attrs(Base=_money(base), Impuesto=tax, TipoFactor="Tasa",
                                       TasaOCuota=f"{rate:.6f}", Importe=_money(amount)) + "/>")


def _concept(plan_cfdi: PlanCfdi, importe: Decimal, discount: Decimal, taxes: str) -> str:
    return ("<cfdi:Concepto" + _attrs(
        ClaveProdServ="84111506" if plan_cfdi.kind == "E" else "31161500", Cantidad="1",
        ClaveUnidad="ACT" if plan_cfdi.kind == "E" else "H87",
        Descripcion="Bonificación" if plan_cfdi.kind == "E" else "Mercancía según pedido",
        ValorUnitario=_money(importe), Importe=_money(importe),
        Descuento=_money(discount) if discount else "", ObjetoImp="02")
        + f"><cfdi:Impuestos>{taxes}</cfdi:Impuestos></cfdi:Concepto>")


def _invoice(plan_cfdi: PlanCfdi, receptor_rfc: str, receptor_name: str) -> str:
    # The 16 % concept carries the discount and any withholdings; an 8 % concept,
    # when there is one, the border part of the base.
    border = plan_cfdi.base_border
    standard = plan_cfdi.subtotal - plan_cfdi.discount - border
    tax_border = (border * BORDER_RATE).quantize(CENT, ROUND_HALF_UP)
    tax_standard = plan_cfdi.tax - tax_border
    withheld = ""
    if plan_cfdi.withheld:
        withheld = ("<cfdi:Retenciones>" + _retencion(standard, "001", ISR_RATE, plan_cfdi.withheld_isr)
                    + _retencion(standard, "002", IVA_WITHHELD_RATE, plan_cfdi.withheld_iva) + "</cfdi:Retenciones>")
    concepts = _concept(plan_cfdi, standard + plan_cfdi.discount, plan_cfdi.discount,
                        f"<cfdi:Traslados>{_traslado(standard, RATE, tax_standard)}</cfdi:Traslados>{withheld}")
    summary = _traslado(standard, RATE, tax_standard)
    if border:
        concepts += _concept(plan_cfdi, border, Decimal(0),
                             f"<cfdi:Traslados>{_traslado(border, BORDER_RATE, tax_border)}</cfdi:Traslados>")
        summary += _traslado(border, BORDER_RATE, tax_border)
    header = _header(
        plan_cfdi, plan_cfdi.kind, FormaPago="99" if plan_cfdi.payment_method == "PPD" else "03",
        SubTotal=_money(plan_cfdi.subtotal), Descuento=_money(plan_cfdi.discount) if plan_cfdi.discount else "",
        Moneda=plan_cfdi.currency,
        TipoCambio=str(plan_cfdi.exchange_rate) if plan_cfdi.exchange_rate is not None else "",
        Total=_money(plan_cfdi.total), MetodoPago=plan_cfdi.payment_method)
    related = ""
    if plan_cfdi.related:
        related = ('<cfdi:CfdiRelacionados TipoRelacion="01">'
                   + "".join(f'<cfdi:CfdiRelacionado UUID="{uuid}"/>' for uuid in plan_cfdi.related)
                   + "</cfdi:CfdiRelacionados>")
    totals = _attrs(TotalImpuestosRetenidos=_money(plan_cfdi.withheld) if plan_cfdi.withheld else "",
                    TotalImpuestosTrasladados=_money(plan_cfdi.tax))
    retained = ""
    if plan_cfdi.withheld:
        retained = ('<cfdi:Retenciones><cfdi:Retencion Impuesto="001" Importe="' + _money(plan_cfdi.withheld_isr)
                    + '"/><cfdi:Retencion Impuesto="002" Importe="' + _money(plan_cfdi.withheld_iva)
                    + '"/></cfdi:Retenciones>')
    return (header + related
            + _parties(plan_cfdi, receptor_rfc, receptor_name, "G01" if plan_cfdi.kind == "I" else "G02")
            + f"<cfdi:Conceptos>{concepts}</cfdi:Conceptos>"
            + f"<cfdi:Impuestos{totals}>{retained}<cfdi:Traslados>{summary}</cfdi:Traslados></cfdi:Impuestos>"
            + f"<cfdi:Complemento>{_stamp(plan_cfdi)}</cfdi:Complemento></cfdi:Comprobante>")


def _payment(plan_cfdi: PlanCfdi, receptor_rfc: str, receptor_name: str) -> str:
    total = sum((paid.amount_paid for paid in plan_cfdi.pays), Decimal(0))
    documents = "".join(
        "<pago20:DoctoRelacionado" + _attrs(
            IdDocumento=paid.invoice_uuid, MonedaDR=paid.currency, EquivalenciaDR="1",
            NumParcialidad=str(paid.instalment),
            ImpSaldoAnt=_money(paid.previous_balance), ImpPagado=_money(paid.amount_paid),
            ImpSaldoInsoluto=_money(paid.remaining), ObjetoImpDR="01") + "/>"
        for paid in plan_cfdi.pays)
    paid_on = plan_cfdi.issued.replace(microsecond=0).isoformat()
    # Paid in the invoices' own currency, so EquivalenciaDR is 1.
    currency = plan_cfdi.pays[0].currency if plan_cfdi.pays else "MXN"
    rate = plan_cfdi.pays[0].exchange_rate if currency != "MXN" else Decimal(1)
    # Totales are always in pesos.
    pagos = (f'<pago20:Pagos Version="2.0"><pago20:Totales MontoTotalPagos="{_money(total * rate)}"/>'
             + "<pago20:Pago" + _attrs(FechaPago=paid_on, FormaDePagoP="03", MonedaP=currency, TipoCambioP=str(rate),
                                      Monto=_money(total))
             + f">{documents}</pago20:Pago></pago20:Pagos>")
    concept = ('<cfdi:Concepto ClaveProdServ="84111506" Cantidad="1" ClaveUnidad="ACT" Descripcion="Pago" '
               'ValorUnitario="0" Importe="0" ObjetoImp="01"/>')
    return (_header(plan_cfdi, "P", SubTotal="0", Moneda="XXX", Total="0")
            + _parties(plan_cfdi, receptor_rfc, receptor_name, "CP01")
            + f"<cfdi:Conceptos>{concept}</cfdi:Conceptos>"
            + f"<cfdi:Complemento>{pagos}{_stamp(plan_cfdi)}</cfdi:Complemento></cfdi:Comprobante>")


def build_cfdi_xml(plan_cfdi: PlanCfdi, receptor_rfc: str, receptor_name: str) -> bytes:
    """The stamped CFDI 4.0 XML of a planned invoice (I), credit note (E) or payment (P)."""
    if plan_cfdi.kind == "P":
        return _payment(plan_cfdi, receptor_rfc, receptor_name).encode("utf-8")
    if plan_cfdi.kind in ("I", "E"):
        return _invoice(plan_cfdi, receptor_rfc, receptor_name).encode("utf-8")
    raise ValueError(f"sandbox CFDIs are I, E or P, not {plan_cfdi.kind!r}")
