"""SAT's large catalogs are checked from Python sets (cfdi.xsd), and the
compiled schema carries their enumerations only where something still needs
libxml2's own check: every place a catalog applies is still checked,
including an element name SAT declares with different types under different
parents (ComercioExterior's Domicilio)."""
from lxml import etree

from cfdi import xsd

CCE = "http://www.sat.gob.mx/ComercioExterior20"
CATCFDI = xsd.CATALOGS / "catCFDI.xsd"


def comercio_exterior(emisor_postal_code: str, receptor_postal_code: str) -> etree._Element:
    # ComercioExterior20.xsd: the issuer's Domicilio takes c_CodigoPostal, the foreign receiver's free text.
    return etree.fromstring(f"""<cce20:ComercioExterior xmlns:cce20="{CCE}" Version="2.0" ClaveDePedimento="A1"
        CertificadoOrigen="0" TipoCambioUSD="17.5" TotalUSD="100.00">
      <cce20:Emisor><cce20:Domicilio Calle="Av. Juarez" Estado="JAL" Pais="MEX"
        CodigoPostal="{emisor_postal_code}"/></cce20:Emisor>
      <cce20:Receptor><cce20:Domicilio Calle="Main St" Estado="Texas" Pais="USA"
        CodigoPostal="{receptor_postal_code}"/></cce20:Receptor>
      <cce20:Mercancias><cce20:Mercancia NoIdentificacion="A-1" ValorDolares="100.00"/></cce20:Mercancias>
    </cce20:ComercioExterior>""".encode())


def test_a_foreign_receivers_postal_code_is_free_text():
    assert xsd.schema_errors(comercio_exterior("44100", "TX 75001")) == []


def test_the_issuers_postal_code_must_be_in_sats_catalog():
    errors = xsd.schema_errors(comercio_exterior("19999", "75001"))
    assert len(errors) == 1
    assert "'CodigoPostal'" in errors[0] and "'19999'" in errors[0] and "c_CodigoPostal" in errors[0]


def enumerated(catalog: bytes, name: str) -> int:
    simple_type = etree.fromstring(catalog).find(f"{{{xsd.XS}}}simpleType[@name='{name}']")
    return len(simple_type.findall(f"{{{xsd.XS}}}restriction/{{{xsd.XS}}}enumeration"))


def schema_using(type_reference: str) -> bytes:
    return f"""<xs:schema xmlns:xs="{xsd.XS}" xmlns:catCFDI="http://www.sat.gob.mx/sitio_internet/cfd/catalogos">
      <xs:element name="Lugar"><xs:complexType>
        <xs:attribute name="CodigoPostal" type="{type_reference}"/>
      </xs:complexType></xs:element></xs:schema>""".encode()


def test_a_large_catalog_type_still_named_somewhere_keeps_its_enumeration():
    stripped = xsd._unenumerated_catalogs({"mine": schema_using("catCFDI:c_CodigoPostal")}, {CATCFDI})
    catalog = stripped[CATCFDI.as_uri()]
    assert enumerated(catalog, "c_CodigoPostal") == 95777
    assert enumerated(catalog, "c_ClaveProdServ") == 0   # named by nothing here: checked from the set
    assert enumerated(catalog, "c_Moneda") > 100          # small catalogs are left to libxml2


def test_a_large_catalog_type_named_by_nothing_is_compiled_without_its_enumeration():
    catalog = xsd._unenumerated_catalogs({"mine": schema_using("xs:string")}, {CATCFDI})[CATCFDI.as_uri()]
    assert enumerated(catalog, "c_CodigoPostal") == 0
