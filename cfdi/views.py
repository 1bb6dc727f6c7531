"""A CFDI as a person reads it, and its stored files as downloads.

Nothing here checks who asks: the staff views in sync/views.py wrap these
(cfdi must not depend on sync, which owns the access rules and the payments).
The stored original is parsed with our strict parser first; the lines are an
lxml walk of that tree, so no lenient parser ever sees supplier bytes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.http import FileResponse, Http404
from django.utils.translation import gettext as _
from lxml import etree

from cfdi import storage
from cfdi.addenda import addenda_name
from cfdi.models import Cfdi
from cfdi.parsing import TFD_NS, ParseError, parse_xml

# c_Impuesto: the SAT's tax codes, as people call them.
SAT_TAXES = {"001": "ISR", "002": "IVA", "003": "IEPS"}


@dataclass
class Tax:
    kind: str  # "transferred" or "withheld"
    tax: str
    factor: str
    rate: str
    base: Decimal | None
    amount: Decimal | None

    @property
    def name(self) -> str:
        return SAT_TAXES.get(self.tax, self.tax)


@dataclass
class Concept:
    product_code: str
    quantity: Decimal | None
    unit: str
    description: str
    unit_price: Decimal | None
    discount: Decimal | None
    amount: Decimal | None
    taxes: list[Tax] = field(default_factory=list)


@dataclass
class Stamp:
    uuid: str
    stamped_at: str
    pac_rfc: str
    sat_certificate: str


@dataclass
class Invoice:
    concepts: list[Concept]
    taxes: list[Tax]
    stamp: Stamp | None
    use: str
    payment_form: str
    issuer_regime: str
    error: str = ""


def _decimal(value: str | None) -> Decimal | None:
    try:
        return Decimal(value) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _taxes(node: etree._Element | None, ns: str) -> list[Tax]:
    if node is None:
        return []
    taxes = []
    for kind, group, single in (("transferred", "Traslados", "Traslado"), ("withheld", "Retenciones", "Retencion")):
        for tax in node.iterfind(f"{{{ns}}}{group}/{{{ns}}}{single}"):
            taxes.append(Tax(kind=kind, tax=tax.get("Impuesto", ""), factor=tax.get("TipoFactor", ""),
                             rate=tax.get("TasaOCuota", ""), base=_decimal(tax.get("Base")),
                             amount=_decimal(tax.get("Importe"))))
    return taxes


def _concept(node: etree._Element, ns: str) -> Concept:
    return Concept(
        product_code=node.get("ClaveProdServ", ""), quantity=_decimal(node.get("Cantidad")),
        unit=node.get("Unidad") or node.get("ClaveUnidad", ""), description=node.get("Descripcion", ""),
        unit_price=_decimal(node.get("ValorUnitario")), discount=_decimal(node.get("Descuento")),
        amount=_decimal(node.get("Importe")), taxes=_taxes(node.find(f"{{{ns}}}Impuestos"), ns),
    )


def _stamp(root: etree._Element, ns: str) -> Stamp | None:
    node = root.find(f"{{{ns}}}Complemento/{{{TFD_NS}}}TimbreFiscalDigital")
    if node is None:
        return None
    return Stamp(uuid=(node.get("UUID") or "").upper(), stamped_at=node.get("FechaTimbrado", ""),
                 pac_rfc=node.get("RfcProvCertif", ""), sat_certificate=node.get("NoCertificadoSAT", ""))


def invoice_for_people(cfdi: Cfdi) -> Invoice:
    """Lines, taxes and stamp of the stored original, or why they cannot be shown."""
    try:
        root = parse_xml(storage.read_original(cfdi.sha256))
    except FileNotFoundError:
        return Invoice([], [], None, "", "", "", error=_("The original file is missing from the CFDI storage."))
    except ParseError as refused:
        return Invoice([], [], None, "", "", "", error=refused.message)
    ns = etree.QName(root).namespace
    receptor, issuer = root.find(f"{{{ns}}}Receptor"), root.find(f"{{{ns}}}Emisor")
    return Invoice(
        concepts=[_concept(node, ns) for node in root.iterfind(f"{{{ns}}}Conceptos/{{{ns}}}Concepto")],
        taxes=_taxes(root.find(f"{{{ns}}}Impuestos"), ns),
        stamp=_stamp(root, ns),
        use=receptor.get("UsoCFDI", "") if receptor is not None else "",
        payment_form=root.get("FormaPago", ""),
        issuer_regime=issuer.get("RegimenFiscal", "") if issuer is not None else "",
    )


def has_addenda_copy(cfdi: Cfdi) -> bool:
    return storage.cfdi_storage().exists(addenda_name(cfdi.sha256))


def original_download(cfdi: Cfdi) -> FileResponse:
    return _download(storage.content_name(cfdi.sha256), f"{cfdi.uuid or cfdi.sha256}.xml")


def addenda_download(cfdi: Cfdi) -> FileResponse:
    return _download(addenda_name(cfdi.sha256), f"{cfdi.uuid or cfdi.sha256}-addenda.xml")


def _download(name: str, filename: str) -> FileResponse:
    files = storage.cfdi_storage()
    if not files.exists(name):
        raise Http404(_("The file is not in the CFDI storage."))
    response = FileResponse(files.open(name, "rb"), as_attachment=True, filename=filename,
                            content_type="application/xml")
    # Supplier bytes: never let a browser sniff them into something it runs.
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response
