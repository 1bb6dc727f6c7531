"""Strict parsing of untrusted CFDI XML, and the facts we keep from it.

A supplier's file is hostile until proven otherwise: it is size-checked before
any parser sees it, parsed with entities, DTDs and the network off and with
error recovery off (satcfdi's own parser recovers, so a truncated file would
"parse"), and anything that is not a well-formed CFDI ends in a ParseError
with a named reason.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import overload

from django.conf import settings
from django.utils.translation import gettext as _
from lxml import etree

from cfdi.taxes import cfdi_taxes

CFDI_NAMESPACES = {"http://www.sat.gob.mx/cfd/4": "4.0", "http://www.sat.gob.mx/cfd/3": "3.3"}
TFD_NS = "http://www.sat.gob.mx/TimbreFiscalDigital"
PAGOS_NAMESPACES = ("http://www.sat.gob.mx/Pagos20", "http://www.sat.gob.mx/Pagos")
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
ZERO = Decimal(0)
_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


class ParseError(Exception):
    """The file is not a CFDI we can read; `code` names the reason."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class PaidDocument:
    """One pago20:DoctoRelacionado: an invoice this payment CFDI settles."""

    invoice_uuid: str
    instalment: int | None
    previous_balance: Decimal | None
    amount_paid: Decimal | None
    remaining: Decimal | None
    currency: str


@dataclass
class CfdiFacts:
    version: str
    kind: str                      # TipoDeComprobante: I, E, P, T, N
    series: str
    folio: str
    issued: dt.datetime | None
    issuer_rfc: str
    issuer_name: str
    receptor_rfc: str
    receptor_name: str
    currency: str
    exchange_rate: Decimal | None
    subtotal: Decimal
    discount: Decimal
    taxes_transferred: Decimal
    taxes_withheld: Decimal
    total: Decimal
    payment_method: str
    uuid: str                      # stamp UUID, upper case; '' when unstamped
    stamped: dt.datetime | None
    related_uuids: list[str] = field(default_factory=list)
    paid_documents: list[PaidDocument] = field(default_factory=list)
    has_addenda: bool = False
    empty_addenda: bool = False
    stamp_count: int = 0           # TimbreFiscalDigital elements outside the Addenda; a CFDI has exactly one
    addenda_po_number: str = ""    # AddendaEmisor/OrdenCompra/@Numero, what the older importer read
    # Each tax line of the summary (cfdi.taxes), read here so the import never parses the original again.
    tax_lines: list[dict] = field(default_factory=list)
    local_taxes_transferred: Decimal = ZERO
    local_taxes_withheld: Decimal = ZERO

    @property
    def document_number(self) -> str:
        return f"{self.series}-{self.folio}" if self.series else self.folio


def max_bytes() -> int:
    return int(getattr(settings, "CFDI_MAX_BYTES", DEFAULT_MAX_BYTES))


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, recover=False, remove_blank_text=False,
    )


def parse_xml(xml_bytes: bytes) -> etree._Element:
    """The document's root element, or ParseError saying why it is refused."""
    limit = max_bytes()
    if len(xml_bytes) > limit:
        raise ParseError("too_large", _("The file is %(size)s bytes; the limit (setting CFDI_MAX_BYTES) is %(limit)s.")
                         % {"size": len(xml_bytes), "limit": limit})
    if not xml_bytes.strip():
        raise ParseError("empty", _("The file is empty."))
    # A CFDI never needs a DTD; refusing one outright also refuses every
    # entity trick (XXE, billion laughs) before a parser can expand it.
    if _DOCTYPE.search(xml_bytes):
        raise ParseError("doctype",
                         _("The file declares a DTD or entities (<!DOCTYPE>/<!ENTITY>), which a CFDI never has."))
    try:
        root = etree.fromstring(xml_bytes, parser=_parser())
    except etree.XMLSyntaxError as error:
        raise ParseError("not_well_formed", _("The file is not well-formed XML: %(error)s")
                         % {"error": error}) from None
    refuse_any_dtd(root)
    if not isinstance(root.tag, str) or etree.QName(root).localname != "Comprobante" \
            or etree.QName(root).namespace not in CFDI_NAMESPACES:
        raise ParseError("not_cfdi", _("The root element is not a cfdi:Comprobante of CFDI 3.3 or 4.0."))
    return root


def refuse_any_dtd(root: etree._Element) -> None:
    """Refuse a document that declared a DTD, whatever its encoding.

    The byte check above only sees an ASCII-compatible "<!DOCTYPE"; a UTF-16
    or EBCDIC file spells it in other bytes. The parsed tree knows whether
    there was one, so it is asked too (the parser loaded and resolved nothing).
    """
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise ParseError("doctype",
                         _("The file declares a DTD or entities (<!DOCTYPE>/<!ENTITY>), which a CFDI never has."))


@overload
def _decimal(value: str | None) -> Decimal: ...
@overload
def _decimal(value: str | None, default: None) -> Decimal | None: ...
def _decimal(value: str | None, default: Decimal | None = ZERO) -> Decimal | None:
    if value is None or not value.strip():
        return default
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        raise ParseError("bad_amount", _("'%(value)s' is not an amount.") % {"value": value}) from None


def _datetime(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ParseError("bad_date", _("'%(value)s' is not a date and time (AAAA-MM-DDThh:mm:ss).")
                         % {"value": value}) from None


def _clean(value: str | None) -> str:
    # Real issuers send ' AAA010101AAA' and names with doubled spaces.
    return " ".join((value or "").split())


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value and value.strip() else None
    except ValueError:
        return None


def _taxes(root: etree._Element, ns: str) -> tuple[Decimal, Decimal]:
    taxes = root.find(f"{{{ns}}}Impuestos")
    if taxes is None:
        return ZERO, ZERO
    return _decimal(taxes.get("TotalImpuestosTrasladados")), _decimal(taxes.get("TotalImpuestosRetenidos"))


def _local_taxes(complement: etree._Element | None) -> tuple[Decimal, Decimal]:
    if complement is None:
        return ZERO, ZERO
    local = complement.find("{http://www.sat.gob.mx/implocal}ImpuestosLocales")
    if local is None:
        return ZERO, ZERO
    return _decimal(local.get("TotaldeTraslados")), _decimal(local.get("TotaldeRetenciones"))


def _paid_documents(complement: etree._Element | None) -> list[PaidDocument]:
    if complement is None:
        return []
    paid = []
    for ns in PAGOS_NAMESPACES:
        for docto in complement.iterfind(f"{{{ns}}}Pagos/{{{ns}}}Pago/{{{ns}}}DoctoRelacionado"):
            paid.append(PaidDocument(
                invoice_uuid=_clean(docto.get("IdDocumento")).upper(),
                instalment=_int(docto.get("NumParcialidad")),
                previous_balance=_decimal(docto.get("ImpSaldoAnt"), None),
                amount_paid=_decimal(docto.get("ImpPagado"), None),
                remaining=_decimal(docto.get("ImpSaldoInsoluto"), None),
                currency=_clean(docto.get("MonedaDR")),
            ))
    return paid


def extract_facts(root: etree._Element) -> CfdiFacts:
    """The business facts of a strictly parsed Comprobante."""
    ns = etree.QName(root).namespace
    issuer = root.find(f"{{{ns}}}Emisor")
    receptor = root.find(f"{{{ns}}}Receptor")
    complement = root.find(f"{{{ns}}}Complemento")
    stamp = complement.find(f"{{{TFD_NS}}}TimbreFiscalDigital") if complement is not None else None
    addenda = root.find(f"{{{ns}}}Addenda")
    po_in_addenda = addenda.find(".//{*}OrdenCompra") if addenda is not None else None
    transferred, withheld = _taxes(root, ns)
    local_transferred, local_withheld = _local_taxes(complement)
    return CfdiFacts(
        version=_clean(root.get("Version")),
        kind=_clean(root.get("TipoDeComprobante")),
        series=_clean(root.get("Serie")),
        folio=_clean(root.get("Folio")),
        issued=_datetime(root.get("Fecha")),
        issuer_rfc=_clean(issuer.get("Rfc") if issuer is not None else "").upper(),
        issuer_name=_clean(issuer.get("Nombre") if issuer is not None else ""),
        receptor_rfc=_clean(receptor.get("Rfc") if receptor is not None else "").upper(),
        receptor_name=_clean(receptor.get("Nombre") if receptor is not None else ""),
        currency=_clean(root.get("Moneda")),
        exchange_rate=_decimal(root.get("TipoCambio"), None),
        subtotal=_decimal(root.get("SubTotal")),
        discount=_decimal(root.get("Descuento")),
        taxes_transferred=transferred,
        taxes_withheld=withheld,
        total=_decimal(root.get("Total")),
        payment_method=_clean(root.get("MetodoPago")),
        uuid=_clean(stamp.get("UUID") if stamp is not None else "").upper(),
        stamped=_datetime(stamp.get("FechaTimbrado")) if stamp is not None else None,
        related_uuids=[_clean(r.get("UUID")).upper()
                       for r in root.iterfind(f"{{{ns}}}CfdiRelacionados/{{{ns}}}CfdiRelacionado")],
        paid_documents=_paid_documents(complement),
        has_addenda=addenda is not None,
        empty_addenda=addenda is not None and len(addenda) == 0,
        stamp_count=_stamp_count(root, ns),
        addenda_po_number=_clean(po_in_addenda.get("Numero") if po_in_addenda is not None else ""),
        local_taxes_transferred=local_transferred,
        local_taxes_withheld=local_withheld,
        tax_lines=[tax.as_json() for tax in cfdi_taxes(root)],
    )


def _stamp_count(root: etree._Element, ns: str) -> int:
    """Stamps anywhere but the Addenda (which is outside the seal and may quote anything)."""
    addenda = f"{{{ns}}}Addenda"
    return sum(1 for stamp in root.iter(f"{{{TFD_NS}}}TimbreFiscalDigital")
               if not any(ancestor.tag == addenda for ancestor in stamp.iterancestors()))


def remove_addenda(root: etree._Element) -> None:
    """Drop cfdi:Addenda in place: it is outside the seal and has no SAT schema."""
    ns = etree.QName(root).namespace
    for addenda in root.findall(f"{{{ns}}}Addenda"):
        root.remove(addenda)
