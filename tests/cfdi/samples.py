"""The sample CFDIs (tests/fixtures/cfdi, see its SOURCES.md) and what they hold."""
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cfdi"


def sample(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# file: (version, type, UUID, issuer RFC, receptor RFC, subtotal, total, problem codes without context)
SAMPLES = {
    "cfdiutils-cfdi33-real.xml": ("3.3", "I", "CEE4BE01-ADFA-4DEB-8421-ADD60F0BEDAC", "POT9207213D6", "DIM8701081LA",
                                  "1709.12", "2010.01", []),
    "cfdiutils-cfdi33-valid.xml": ("3.3", "I", "9FB6ED1A-5F37-4FEF-980A-7F8C83B51894", "EKU9003173C9", "COSC8001137NA",
                                   "2269400", "2382870", []),
    "cfdiutils-cfdi40-real.xml": ("4.0", "I", "C2832671-DA6D-11EF-A83D-00155D012007", "ISD950921HE5", "COSC8001137NA",
                                  "862.07", "1000.00", []),
    "cfdiutils-cfdi40-valid.xml": ("4.0", "I", "6F35D3B5-3651-5370-BC2C-14CDBE384CD7", "EKU9003173C9", "MCI7306249Y1",
                                   "3824.15", "3327.01", []),
    # Created by CfdiUtils' tests, never sent to a PAC: no stamp.
    "cfdiutils-created-cfdi40-pago20-valid.xml": ("4.0", "P", "", "EKU9003173C9", "COSC8001137NA", "0", "0",
                                                  ["not_stamped"]),
    "cfdiutils-created-with-discounts-40.xml": ("4.0", "I", "", "EKU9003173C9", "COSC8001137NA", "3300.00", "3248.00",
                                                ["not_stamped"]),
    "phpcfdi-cfdi40-real.xml": ("4.0", "I", "04BF2854-FE7D-4377-9196-71248F060ABB", "CSM190311AH6", "MCI7306249Y1",
                                "396.00", "459.36", []),
    "satcfdi-cfdi40-with-addenda.xml": ("4.0", "I", "", "H&E951128469", "KIJ0906199R1", "15390.30", "14672.08",
                                        ["not_stamped"]),
    # A schema example with nonsense amounts and an empty Addenda.
    "satcfdi-cfdv33-addenda.xml": ("3.3", "I", "", "AAA010101AAA", "BASJ600902KL9", "1000", "1500",
                                   ["not_stamped", "totals_inconsistent", "addenda_empty"]),
    "satcfdi-cfdv40-pagos20.xml": ("4.0", "P", "", "AAA010101AAA", "BASJ600902KL9", "0", "0", ["not_stamped"]),
    "satcfdi-invoice-ppd-stamped.xml": ("4.0", "I", "6D7434A6-E3F2-47AD-9E4C-08849946AFA0", "H&E951128469",
                                        "KIJ0906199R1", "15390.30", "17852.75", []),
    "satcfdi-invoice-pue-stamped.xml": ("4.0", "I", "6E546729-960A-4505-8E81-2D2952145BD9", "H&E951128469",
                                        "KIJ0906199R1", "15390.30", "17852.75", []),
    "satcfdi-payment-for-ppd.xml": ("4.0", "P", "5B64ADA3-AA4C-40B4-A2F5-572CED52BE31", "H&E951128469", "KIJ0906199R1",
                                    "0", "0", []),
}
