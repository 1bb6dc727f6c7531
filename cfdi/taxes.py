"""The taxes of a CFDI as its summary states them: each tax transferred
(traslado) and withheld (retención), by SAT tax code and rate.

The Comprobante's own Impuestos block is the legal summary (Anexo 20: the
totals of the concepts' taxes, grouped by Impuesto, TipoFactor and
TasaOCuota), so that is what is read; local taxes (implocal) are added
under the tax code "LOCAL".
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from lxml import etree

IMPLOCAL_NS = "http://www.sat.gob.mx/implocal"
TAX_NAMES = {"001": "ISR", "002": "IVA", "003": "IEPS", "LOCAL": "local"}
TRANSFERRED, WITHHELD = "T", "R"


@dataclass(frozen=True)
class CfdiTax:
    kind: str                # T transferred (traslado) | R withheld (retención)
    tax: str                 # SAT code: 001 ISR, 002 IVA, 003 IEPS; LOCAL for implocal
    rate: Decimal | None     # TasaOCuota, when the summary gives it
    exempt: bool             # TipoFactor Exento: a base and no tax
    amount: Decimal

    @property
    def key(self) -> str:
        """How a tenant names it in its Sage tax authority setting: T002 = IVA transferred, R001 = ISR withheld."""
        return f"{self.kind}{self.tax}"

    @property
    def signed(self) -> Decimal:
        """What it adds to the document total: a withholding takes off."""
        return self.amount if self.kind == TRANSFERRED else -self.amount

    def as_json(self) -> dict:
        return {"kind": self.kind, "tax": self.tax, "rate": None if self.rate is None else str(self.rate),
                "exempt": self.exempt, "amount": str(self.amount)}

    @classmethod
    def from_json(cls, value: dict) -> "CfdiTax":
        rate = value.get("rate")
        return cls(value["kind"], value["tax"], None if rate is None else Decimal(rate), bool(value["exempt"]),
                   Decimal(value["amount"]))

    def describe(self) -> str:
        kind = "transferred" if self.kind == TRANSFERRED else "withheld"
        rate = f" at {self.rate.normalize() * 100:f} %" if self.rate is not None else ""
        return f"{TAX_NAMES.get(self.tax, self.tax)} {kind}{rate}"


def _amount(value: str | None) -> Decimal:
    try:
        return Decimal((value or "0").strip() or "0")
    except InvalidOperation:
        return Decimal(0)


def cfdi_taxes(root: etree._Element) -> list[CfdiTax]:
    """Every tax line of the Comprobante's summary (and of an implocal complement)."""
    ns = etree.QName(root).namespace
    found: list[CfdiTax] = []
    summary = root.find(f"{{{ns}}}Impuestos")
    if summary is not None:
        for line in summary.iterfind(f"{{{ns}}}Traslados/{{{ns}}}Traslado"):
            exempt = (line.get("TipoFactor") or "") == "Exento"
            rate = line.get("TasaOCuota")
            found.append(CfdiTax(TRANSFERRED, (line.get("Impuesto") or "").strip(),
                                 _amount(rate) if rate else None, exempt, _amount(line.get("Importe"))))
        for line in summary.iterfind(f"{{{ns}}}Retenciones/{{{ns}}}Retencion"):
            found.append(CfdiTax(WITHHELD, (line.get("Impuesto") or "").strip(), None, False,
                                 _amount(line.get("Importe"))))
    local = root.find(f"{{{ns}}}Complemento/{{{IMPLOCAL_NS}}}ImpuestosLocales")
    if local is not None:
        for line in local.iterfind(f"{{{IMPLOCAL_NS}}}TrasladosLocales"):
            found.append(CfdiTax(TRANSFERRED, "LOCAL", _amount(line.get("TasadeTraslado")) / 100, False,
                                 _amount(line.get("Importe"))))
        for line in local.iterfind(f"{{{IMPLOCAL_NS}}}RetencionesLocales"):
            found.append(CfdiTax(WITHHELD, "LOCAL", _amount(line.get("TasadeRetencion")) / 100, False,
                                 _amount(line.get("Importe"))))
    return found
