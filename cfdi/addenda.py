"""Adding our Addenda to a copy of a CFDI, never touching the original.

The seal covers everything except cfdi:Addenda, and it covers *bytes*:
re-serialising the whole tree with lxml would change quoting, whitespace
inside tags or the XML declaration and break the signature. So the Addenda
element is built with lxml and spliced into the original bytes in place of
the existing Addenda (or just before the closing Comprobante tag). Before the
copy is kept we check that it is well-formed and that every byte outside its
Addenda is the original's; the copy lands with temp file + os.replace under
its own name, so concurrent writers only ever leave a whole file behind.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _
from lxml import etree

from cfdi import storage
from cfdi.parsing import ParseError, parse_xml


class AddendaError(Exception):
    """The copy could not be made safely; the original is untouched."""


@dataclass(frozen=True)
class AddendaData:
    """What the older system put in AddendaEmisor for the tenant's AP clerks."""

    po_number: str = ""
    provider_id: str = ""
    provider_name: str = ""
    provider_rfc: str = ""
    bank_name: str = ""
    bank_account: str = ""
    clabe: str = ""


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def _tag(prefix: str | None, local: str) -> bytes:
    return (f"{prefix}:{local}" if prefix else local).encode()


def addenda_span(xml_bytes: bytes, root: etree._Element) -> Span | None:
    """Byte span of the document's cfdi:Addenda element, None if it has none."""
    ns = etree.QName(root).namespace
    if root.find(f"{{{ns}}}Addenda") is None:
        return None
    name = re.escape(_tag(root.prefix, "Addenda"))
    # The XSD puts Addenda last, so the last opening tag is the one.
    openings = list(re.finditer(rb"<" + name + rb"(?=[\s/>])", xml_bytes))
    if not openings:
        raise AddendaError(_("The Addenda could not be located in the file's bytes."))
    start = openings[-1].start()
    self_closing = re.compile(rb"<" + name + rb"(\s[^>]*)?/>")
    match = self_closing.match(xml_bytes, start)
    if match:
        return Span(start, match.end())
    closing = re.compile(rb"</" + name + rb"\s*>").search(xml_bytes, start)
    if closing is None:
        raise AddendaError(_("The Addenda has no closing tag."))
    return Span(start, closing.end())


def _insertion_point(xml_bytes: bytes, root: etree._Element) -> int:
    closing = list(re.finditer(rb"</" + re.escape(_tag(root.prefix, "Comprobante")) + rb"\s*>", xml_bytes))
    if not closing:
        raise AddendaError(_("The closing Comprobante tag could not be located."))
    return closing[-1].start()


def build_addenda_element(root: etree._Element, data: AddendaData) -> bytes:
    ns = etree.QName(root).namespace
    addenda = etree.Element(f"{{{ns}}}Addenda", nsmap={root.prefix: ns})
    emisor = etree.SubElement(addenda, "AddendaEmisor")
    if data.po_number:
        etree.SubElement(emisor, "OrdenCompra", Numero=data.po_number)
    etree.SubElement(emisor, "Proveedor", Numero=data.provider_id, Nombre=data.provider_name, Rfc=data.provider_rfc)
    if data.bank_name or data.bank_account or data.clabe:
        etree.SubElement(emisor, "Banco", Nombre=data.bank_name, Cuenta=data.bank_account, Clabe=data.clabe)
    return etree.tostring(addenda, encoding="utf-8")


def with_addenda(original: bytes, data: AddendaData) -> bytes:
    """A copy of `original` whose Addenda is ours; the signed part is unchanged."""
    root = _parse(original)
    element = build_addenda_element(root, data)
    span = addenda_span(original, root)
    if span is None:
        point = _insertion_point(original, root)
        span = Span(point, point)
    copy = original[:span.start] + element + original[span.end:]
    verify_signed_part(original, copy)
    return copy


def _parse(xml_bytes: bytes) -> etree._Element:
    try:
        return parse_xml(xml_bytes)
    except ParseError as error:
        raise AddendaError(error.message) from None


def _outside(xml_bytes: bytes) -> tuple[bytes, bytes]:
    root = _parse(xml_bytes)
    span = addenda_span(xml_bytes, root)
    if span is None:
        point = _insertion_point(xml_bytes, root)
        return xml_bytes[:point], xml_bytes[point:]
    return xml_bytes[:span.start], xml_bytes[span.end:]


def verify_signed_part(original: bytes, copy: bytes) -> None:
    """Raise AddendaError unless `copy` differs from `original` only in its Addenda."""
    if _outside(original) != _outside(copy):
        raise AddendaError(_("The copy's signed content differs from the original; it was not kept."))
    # The byte spans come from a pattern; make sure they are really the
    # Addenda element by comparing the parsed documents without it.
    if _without_addenda(original) != _without_addenda(copy):
        raise AddendaError(_("The copy's signed content differs from the original; it was not kept."))


def _without_addenda(xml_bytes: bytes) -> bytes:
    root = _parse(xml_bytes)
    ns = etree.QName(root).namespace
    for addenda in root.findall(f"{{{ns}}}Addenda"):
        root.remove(addenda)
    return etree.tostring(root, method="c14n")


def addenda_name(original_sha256: str) -> str:
    return storage.content_name(original_sha256, ".addenda.xml")


def add_addenda(original_sha256: str, data: AddendaData) -> Path:
    """Write (or replace) the Addenda copy of a stored original; return its path."""
    original = storage.read_original(original_sha256)
    if storage.sha256_hex(original) != original_sha256:
        raise AddendaError(_("The stored original %(sha256)s no longer matches its checksum.")
                           % {"sha256": original_sha256})
    copy = with_addenda(original, data)
    path = Path(storage.cfdi_storage().path(addenda_name(original_sha256)))
    storage.write_atomically(path, copy)
    return path
