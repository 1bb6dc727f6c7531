"""SAT's CFDI schemas, compiled once per process.

satcfdi ships SAT's XSDs; its own `validate_xsd` builds a new XMLSchema on
every call (~11 documents/s). Here one schema that imports CFDI 3.3, 4.0 and
the complements is built on first use and kept. `cfdi:Complemento` is `xs:any`
with strict processing, so a complement validates only if its namespace is
imported here; one whose schema we do not carry is reported, not accepted.

libxml2 checks an enumeration by scanning it, and SAT's catalogs are huge
(95,777 postal codes, 52,747 product keys): that alone held validation under
200 documents/s. Attributes typed with such a catalog are therefore compiled
as plain strings and their values checked against a Python frozenset instead:
the same rule, answered in constant time.
"""
from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from pathlib import Path

import satcfdi.transform
from django.utils.translation import gettext as _
from lxml import etree

SAT_ROOT = Path(satcfdi.transform.SCHEMA_ROOT) / "www.sat.gob.mx" / "sitio_internet"
XS = "http://www.w3.org/2001/XMLSchema"
# Catalogs this long cost more to scan than the rest of the document.
LARGE_CATALOG = 2000

# One file per namespace: XML Schema takes the first import of a namespace.
SCHEMA_FILES = (
    "cfd/4/cfdv40.xsd",
    "cfd/3/cfdv33.xsd",
    "cfd/TimbreFiscalDigital/TimbreFiscalDigitalv11.xsd",
    "cfd/Pagos/Pagos20.xsd",
    "cfd/Pagos/Pagos10.xsd",
    "cfd/implocal/implocal.xsd",
    "cfd/leyendasFiscales/leyendasFisc.xsd",
    "cfd/ComercioExterior20/ComercioExterior20.xsd",
    "cfd/ComercioExterior11/ComercioExterior11.xsd",
    "cfd/CartaPorte/CartaPorte31.xsd",
    "cfd/CartaPorte/CartaPorte30.xsd",
    "cfd/CartaPorte/CartaPorte20.xsd",
    "cfd/nomina/nomina12.xsd",
    "cfd/iedu/iedu.xsd",
    "cfd/ine/ine11.xsd",
    "cfd/divisas/divisas.xsd",
    "cfd/donat/donat11.xsd",
    "cfd/aerolineas/aerolineas.xsd",
    "cfd/detallista/detallista.xsd",
    "cfd/terceros/terceros11.xsd",
    "cfd/valesdedespensa/valesdedespensa.xsd",
    "cfd/EstadoDeCuentaCombustible/ecc12.xsd",
    "cfd/consumodecombustibles/consumodeCombustibles11.xsd",
    "cfd/vehiculousado/vehiculousado.xsd",
    "cfd/servicioparcialconstruccion/servicioparcialconstruccion.xsd",
    "cfd/spei/spei.xsd",
    "cfd/pagoenespecie/pagoenespecie.xsd",
    "cfd/notariospublicos/notariospublicos.xsd",
    "cfd/TuristaPasajeroExtranjero/TuristaPasajeroExtranjero.xsd",
    "cfd/arteantiguedades/obrasarteantiguedades.xsd",
    "cfd/certificadodestruccion/certificadodedestruccion.xsd",
    "cfd/renovacionysustitucionvehiculos/renovacionysustitucionvehiculos.xsd",
    "cfd/acreditamiento/AcreditamientoIEPS10.xsd",
    "cfd/GastosHidrocarburos10/GastosHidrocarburos10.xsd",
    "cfd/IngresosHidrocarburos10/IngresosHidrocarburos.xsd",
    "cfd/hidrocarburospetroliferos.xsd",
    "cfd/cfdiregistrofiscal/cfdiregistrofiscal.xsd",
    "cfd/pfic/pfic.xsd",
)


@dataclass(frozen=True)
class CatalogRule:
    catalog: str                 # e.g. c_ClaveProdServ
    values: frozenset[str]


@dataclass
class CompiledSchemas:
    schema: etree.XMLSchema
    # (element Clark name, attribute) -> the catalog its value must be in
    catalog_rules: dict[tuple[str, str], CatalogRule]
    checked_tags: tuple[str, ...]


_build_lock = threading.Lock()
_validate_lock = threading.Lock()
_compiled: CompiledSchemas | None = None


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)


def _parse(path: Path) -> etree._ElementTree:
    return etree.parse(str(path), parser=_safe_parser())


@functools.cache
def _catalog(path: Path) -> dict[str, frozenset[str]]:
    """Each enumerated simple type of a catalog file, by name."""
    return {
        simple_type.get("name"): frozenset(
            e.get("value") for e in simple_type.iterfind(f"{{{XS}}}restriction/{{{XS}}}enumeration")
        )
        for simple_type in _parse(path).getroot().iterfind(f"{{{XS}}}simpleType")
    }


def _enclosing_element(attribute: etree._Element) -> str | None:
    for ancestor in attribute.iterancestors(f"{{{XS}}}element"):
        return ancestor.get("name")
    return None


def _relax_large_catalogs(path: Path, rules: dict[tuple[str, str], CatalogRule]) -> bytes:
    """The schema file with its large-catalog attributes typed as strings."""
    tree = _parse(path)
    root = tree.getroot()
    namespace = root.get("targetNamespace", "")
    imports = {i.get("namespace"): path.parent / i.get("schemaLocation") for i in root.iterfind(f"{{{XS}}}import")}
    types_per_key: dict[tuple[str, str], set[str]] = {}
    candidates = []
    for attribute in root.iter(f"{{{XS}}}attribute"):
        element = _enclosing_element(attribute)
        if element is None or attribute.get("name") is None:
            continue
        key = (f"{{{namespace}}}{element}", attribute.get("name"))
        type_ref = attribute.get("type") or "<inline>"
        types_per_key.setdefault(key, set()).add(type_ref)
        prefix, _, local = type_ref.rpartition(":")
        catalog_file = imports.get(attribute.nsmap.get(prefix or None, ""))
        if catalog_file is not None:
            candidates.append((key, attribute, catalog_file, local))
    xs_prefix = next(p for p, uri in root.nsmap.items() if uri == XS)
    for key, attribute, catalog_file, local in candidates:
        # An element name declared twice with different types for the same
        # attribute keeps SAT's own check: a key must mean one rule.
        if len(types_per_key[key]) != 1:
            continue
        values = _catalog(catalog_file.resolve()).get(local, frozenset())
        if len(values) < LARGE_CATALOG:
            continue
        rules[key] = CatalogRule(local, values)
        attribute.set("type", f"{xs_prefix}:string")
    return etree.tostring(tree)


class _RelaxedResolver(etree.Resolver):
    def __init__(self, documents: dict[str, bytes]):
        super().__init__()
        self.documents = documents

    def resolve(self, url, public_id, context):
        if url in self.documents:
            return self.resolve_string(self.documents[url], context, base_url=url)
        return None


def _build() -> CompiledSchemas:
    rules: dict[tuple[str, str], CatalogRule] = {}
    documents: dict[str, bytes] = {}
    root = etree.Element(f"{{{XS}}}schema", nsmap={"xs": XS})
    for relative in SCHEMA_FILES:
        path = SAT_ROOT / relative
        documents[path.as_uri()] = _relax_large_catalogs(path, rules)
        namespace = _parse(path).getroot().get("targetNamespace", "")
        etree.SubElement(root, f"{{{XS}}}import", namespace=namespace, schemaLocation=path.as_uri())
    # The parser forbids the network, and every schemaLocation in SAT's files
    # is relative: they can only resolve to the files satcfdi installed.
    parser = _safe_parser()
    parser.resolvers.add(_RelaxedResolver(documents))
    combined = etree.fromstring(etree.tostring(root), parser=parser, base_url=(SAT_ROOT / "combined.xsd").as_uri())
    schema = etree.XMLSchema(combined)
    _catalog.cache_clear()  # the catalogs' trees are large; keep only the rules
    return CompiledSchemas(schema, rules, tuple({tag for tag, _ in rules}))


def compiled() -> CompiledSchemas:
    """The combined schema, built on first use and shared by the process."""
    global _compiled
    if _compiled is None:
        with _build_lock:
            if _compiled is None:
                _compiled = _build()
    return _compiled


def _catalog_errors(tree: etree._Element, schemas: CompiledSchemas) -> list[str]:
    errors = []
    for element in tree.iter(*schemas.checked_tags):
        for (tag, attribute), rule in schemas.catalog_rules.items():
            if tag != element.tag:
                continue
            value = element.get(attribute)
            if value is not None and " ".join(value.split()) not in rule.values:
                local = etree.QName(element).localname
                errors.append(_(
                    "line %(line)s: Element '%(element)s', attribute '%(attribute)s': "
                    "'%(value)s' is not a value of SAT's catalog %(catalog)s."
                ) % {"line": element.sourceline, "element": local, "attribute": attribute, "value": value,
                     "catalog": rule.catalog})
    return errors


def schema_errors(tree: etree._Element) -> list[str]:
    """SAT schema errors of a document (its Addenda already removed)."""
    schemas = compiled()
    # An XMLSchema keeps its error log on itself: serialise its use across
    # threads so one document's errors never land in another's report.
    with _validate_lock:
        if schemas.schema.validate(tree):
            errors = []
        else:
            errors = [f"line {e.line}: {e.message}" for e in schemas.schema.error_log]
    return errors + _catalog_errors(tree, schemas)
