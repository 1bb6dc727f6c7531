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
the same rule, answered in constant time. Once no compiled attribute names
such a catalog type any more, the catalog file is compiled without its
enumeration too: libxml2 keeps each value as a compiled facet, ~100 MB for
these catalogs in every process that validates (measured in a fresh process:
271 → 124 MB, with the freed parse trees given back).
"""
from __future__ import annotations

import ctypes
import functools
import threading
from dataclasses import dataclass
from pathlib import Path

import satcfdi.transform
from django.utils.translation import gettext as _
from lxml import etree

SAT_ROOT = Path(satcfdi.transform.SCHEMA_ROOT) / "www.sat.gob.mx" / "sitio_internet"
CATALOGS = (SAT_ROOT / "cfd" / "catalogos").resolve()
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


# Where a rule applies: (element Clark name, its parent's Clark name or "" for any parent, attribute).
RuleKey = tuple[str, str, str]


@dataclass
class CompiledSchemas:
    schema: etree.XMLSchema
    catalog_rules: dict[RuleKey, CatalogRule]    # -> the catalog the attribute's value must be in
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


def _enclosing_elements(attribute: etree._Element) -> tuple[str | None, str]:
    """The name of the element declaring the attribute, and of the element that declares that one ('' if
    it is declared at the top, where any element may refer to it)."""
    names = [ancestor.get("name") for ancestor in attribute.iterancestors(f"{{{XS}}}element")][:2]
    return (names[0] if names else None), (names[1] or "" if len(names) > 1 else "")


def _relax_large_catalogs(path: Path, rules: dict[RuleKey, CatalogRule]) -> bytes:
    """The schema file with its large-catalog attributes typed as strings."""
    tree = _parse(path)
    root = tree.getroot()
    namespace = root.get("targetNamespace", "")
    imports = {i.get("namespace"): path.parent / i.get("schemaLocation") for i in root.iterfind(f"{{{XS}}}import")}
    types_per_key: dict[RuleKey, set[str]] = {}
    candidates = []
    for attribute in root.iter(f"{{{XS}}}attribute"):
        element, parent = _enclosing_elements(attribute)
        if element is None or attribute.get("name") is None:
            continue
        tag = f"{{{namespace}}}{element}"
        type_ref = attribute.get("type") or "<inline>"
        anywhere: RuleKey = (tag, "", attribute.get("name"))
        here: RuleKey = (tag, f"{{{namespace}}}{parent}" if parent else "", attribute.get("name"))
        for key in {anywhere, here}:
            types_per_key.setdefault(key, set()).add(type_ref)
        prefix, _, local = type_ref.rpartition(":")
        catalog_file = imports.get(attribute.nsmap.get(prefix or None, ""))
        if catalog_file is not None:
            candidates.append((anywhere, here, attribute, catalog_file, local))
    xs_prefix = next(p for p, uri in root.nsmap.items() if uri == XS)
    for anywhere, here, attribute, catalog_file, local in candidates:
        # A key must mean one rule. An element name declared with different types for the same attribute
        # (ComercioExterior's Domicilio under Emisor, Receptor, Destinatario) is told apart by its parent;
        # where even that is ambiguous, SAT's own check stays.
        key = anywhere if len(types_per_key[anywhere]) == 1 else here
        if len(types_per_key[key]) != 1 or (key is here and not key[1]):
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


# Attributes of XML Schema whose value names a type (QNames, or a list of them for memberTypes).
TYPE_REFERENCES = ("type", "base", "itemType", "memberTypes")


def _type_references(tree: etree._Element) -> set[tuple[str, str]]:
    """Every (namespace, name) of a type the schema document refers to."""
    found = set()
    for node in tree.iter(etree.Element):
        for attribute in TYPE_REFERENCES:
            for qname in (node.get(attribute) or "").split():
                prefix, _, local = qname.rpartition(":")
                found.add((node.nsmap.get(prefix or None, ""), local))
    return found


def _imported_files(tree: etree._Element, path: Path) -> set[Path]:
    return {(path.parent / i.get("schemaLocation")).resolve()
            for i in tree.iter(f"{{{XS}}}import", f"{{{XS}}}include") if i.get("schemaLocation")}


def _unenumerated_catalogs(documents: dict[str, bytes], catalogs: set[Path]) -> dict[str, bytes]:
    """The catalog files with the enumeration of each large type nothing refers to any more removed.

    A type still named by an attribute left typed (one element name declared
    with two types), an element, or a derived type keeps its enumeration: there
    libxml2's check is the only one.
    """
    trees = {path: _parse(path).getroot() for path in catalogs}
    referenced = set().union(*(_type_references(etree.fromstring(text)) for text in documents.values()),
                             *(_type_references(tree) for tree in trees.values()))
    stripped = {}
    for path, tree in trees.items():
        namespace = tree.get("targetNamespace", "")
        changed = False
        for simple_type in tree.iterfind(f"{{{XS}}}simpleType"):
            restriction = simple_type.find(f"{{{XS}}}restriction")
            enumeration = [] if restriction is None else restriction.findall(f"{{{XS}}}enumeration")
            if len(enumeration) >= LARGE_CATALOG and (namespace, simple_type.get("name")) not in referenced:
                for value in enumeration:
                    restriction.remove(value)
                changed = True
        if changed:
            stripped[path.as_uri()] = etree.tostring(tree)
    return stripped


def _build() -> CompiledSchemas:
    rules: dict[RuleKey, CatalogRule] = {}
    documents: dict[str, bytes] = {}
    catalogs: set[Path] = set()
    root = etree.Element(f"{{{XS}}}schema", nsmap={"xs": XS})
    for relative in SCHEMA_FILES:
        path = SAT_ROOT / relative
        documents[path.resolve().as_uri()] = _relax_large_catalogs(path, rules)
        original = _parse(path).getroot()
        catalogs |= {p for p in _imported_files(original, path) if p.is_relative_to(CATALOGS)}
        etree.SubElement(root, f"{{{XS}}}import", namespace=original.get("targetNamespace", ""),
                         schemaLocation=path.resolve().as_uri())
    documents.update(_unenumerated_catalogs(documents, catalogs))
    # The parser forbids the network, and every schemaLocation in SAT's files
    # is relative: they can only resolve to the files satcfdi installed.
    parser = _safe_parser()
    parser.resolvers.add(_RelaxedResolver(documents))
    combined = etree.fromstring(etree.tostring(root), parser=parser, base_url=(SAT_ROOT / "combined.xsd").as_uri())
    schema = etree.XMLSchema(combined)
    _catalog.cache_clear()  # the catalogs' trees are large; keep only the rules
    _give_back_freed_memory()
    return CompiledSchemas(schema, rules, tuple({tag for tag, _parent, _attribute in rules}))


def _give_back_freed_memory() -> None:
    """The catalogs' parsed trees are freed by now, but glibc keeps their pages in the process (measured:
    210 MB after the build, 124 MB once trimmed). Elsewhere (musl, macOS) there is nothing to call."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


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
        for (tag, parent, attribute), rule in schemas.catalog_rules.items():
            if tag != element.tag or (parent and getattr(element.getparent(), "tag", None) != parent):
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
