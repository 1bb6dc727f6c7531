"""SAT's CFDI status service, stand-in: POST /sandbox/sat/ConsultaCFDIService.svc, SOAP 1.1, operation Consulta.

Built from SAT's side of the contract, not from our client: the WSDL (copy in
eclipxe13/CfdiUtils src/CfdiUtils/ConsultaCfdiSat/ConsultaCFDIServiceSAT.svc.xml:
document/literal, action http://tempuri.org/IConsultaCFDIService/Consulta,
Consulta/expresionImpresa in, ConsultaResponse/ConsultaResult of type Acuse
out), the expression formats of the printed CFDI's QR code (CFDI 3.3/4.0
`https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx?id=&re=&rr=&tt=&fe=`,
and the `?re=&rr=&tt=&id=` form satcfdi sends), and the answer codes SAT is
documented to give (CfdiUtils docs/componentes/estado-sat.md):
"S - Comprobante obtenido satisfactoriamente.", "N - 601: La expresión impresa
proporcionada no es válida.", "N - 602: Comprobante no encontrado.".
How SAT's WCF host refuses a wrong content type, a wrong action or a body that
is not SOAP (HTTP 415 / a 500 SOAP Fault / 400) is what WCF does by default;
the README lists it as unverified.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from lxml import etree

from sandbox import faults
from sandbox.sat.models import SandboxSatQuery
from sandbox.sat.register import register_of

SOAP_ENVELOPE_NS = "http://schemas.xmlsoap.org/soap/envelope/"
TEMPURI_NS = "http://tempuri.org/"
ACUSE_NS = "http://schemas.datacontract.org/2004/07/Sat.Cfdi.Negocio.ConsultaCfdi.Servicio"
SOAP_ACTION = "http://tempuri.org/IConsultaCFDIService/Consulta"
QR_URL = "https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx"
FAULT_TARGET = "sat"

FOUND = "S - Comprobante obtenido satisfactoriamente."
INVALID_EXPRESSION = "N - 601: La expresión impresa proporcionada no es válida."
NOT_FOUND = "N - 602: Comprobante no encontrado."

UUID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$", re.IGNORECASE)
RFC = re.compile(r"^[A-ZÑ&]{3,4}[0-9]{6}[A-Z0-9]{2}[0-9A]$")  # EXTERNAL.md §4
TOTAL = re.compile(r"^[0-9]{1,18}(\.[0-9]{1,6})?$")             # Anexo 20: 18 integers, 6 decimals
SEAL_TAIL = re.compile(r"^[A-Za-z0-9+/=]{8}$")
KEYS = {"re", "rr", "tt", "id", "fe"}


def _envelope(body: etree._Element) -> HttpResponse:
    soap = etree.Element(f"{{{SOAP_ENVELOPE_NS}}}Envelope", nsmap={"s": SOAP_ENVELOPE_NS})
    etree.SubElement(soap, f"{{{SOAP_ENVELOPE_NS}}}Body").append(body)
    return HttpResponse(etree.tostring(soap, encoding="utf-8"), content_type="text/xml; charset=utf-8")


def acuse(code: str, state: str, cancelable: str = "", cancellation_status: str = "", efos: str = "") -> HttpResponse:
    response = etree.Element(f"{{{TEMPURI_NS}}}ConsultaResponse", nsmap={None: TEMPURI_NS})
    result = etree.SubElement(response, f"{{{TEMPURI_NS}}}ConsultaResult", nsmap={"a": ACUSE_NS})
    for name, value in (("CodigoEstatus", code), ("EsCancelable", cancelable), ("Estado", state),
                        ("EstatusCancelacion", cancellation_status), ("ValidacionEFOS", efos)):
        etree.SubElement(result, f"{{{ACUSE_NS}}}{name}").text = value
    return _envelope(response)


def fault(code: str, text: str, status: int = 500) -> HttpResponse:
    node = etree.Element(f"{{{SOAP_ENVELOPE_NS}}}Fault")
    etree.SubElement(node, "faultcode").text = code
    etree.SubElement(node, "faultstring").text = text
    answer = _envelope(node)
    answer.status_code = status
    return answer


def parse_expression(text: str) -> dict[str, str] | None:
    """The expression's values, or None when SAT would call it not valid (N - 601)."""
    text = text.strip()
    if text.startswith(QR_URL):
        text = text[len(QR_URL):]
    if not text.startswith("?"):
        return None
    # An RFC's "&" is written "&amp;" inside the expression (Anexo 20 QR; phpcfdi FormatRfcXml).
    values: dict[str, str] = {}
    for part in text[1:].replace("&amp;", "\x00").split("&"):
        key, sep, value = part.partition("=")
        if not sep or key not in KEYS or key in values:
            return None
        values[key] = value.replace("\x00", "&")
    if not {"re", "rr", "tt", "id"} <= values.keys():
        return None
    if not (UUID.match(values["id"]) and RFC.match(values["re"].upper()) and RFC.match(values["rr"].upper())
            and TOTAL.match(values["tt"])):
        return None
    if "fe" in values and not SEAL_TAIL.match(values["fe"]):
        return None
    return values


def _matches(entry, values: dict[str, str]) -> bool:
    try:
        total = Decimal(values["tt"])
    except InvalidOperation:
        return False
    return (entry.issuer_rfc == values["re"].upper() and entry.receptor_rfc == values["rr"].upper()
            and entry.total == total and ("fe" not in values or not entry.seal_tail
                                          or entry.seal_tail == values["fe"]))


def _log(expression: str, uuid: str, answer: str) -> None:
    if not settings.SANDBOX_RECORD_REQUESTS:
        return
    SandboxSatQuery.objects.create(expression=expression[:2000], uuid=uuid[:36].upper(), answer=answer[:120])


@csrf_exempt
def consulta(request: HttpRequest) -> HttpResponse:
    injected = faults.inject(request, FAULT_TARGET)
    if injected is not None:
        _log("", "", f"fault HTTP {injected.status_code}")
        return injected
    refusal = _refusal(request)
    if refusal is not None:
        _log("", "", f"refused HTTP {refusal.status_code}")
        return refusal
    expression = _expression(request.body)
    if expression is None:
        _log("", "", "refused HTTP 400")
        return HttpResponse(status=400)
    values = parse_expression(expression)
    if values is None:
        _log(expression, "", INVALID_EXPRESSION)
        return acuse(INVALID_EXPRESSION, "No Encontrado")
    entry = register_of(values["id"])
    if entry is None or not _matches(entry, values):
        _log(expression, values["id"], NOT_FOUND)
        return acuse(NOT_FOUND, "No Encontrado")
    _log(expression, values["id"], f"{FOUND} {entry.state}")
    return acuse(FOUND, entry.state, entry.cancelable, entry.cancellation_status, entry.efos)


def _refusal(request: HttpRequest) -> HttpResponse | None:
    if request.method != "POST":
        response = HttpResponse(status=405)
        response["Allow"] = "POST"
        return response
    # basicHttpBinding is SOAP 1.1: text/xml only.
    if request.content_type != "text/xml":
        return HttpResponse(status=415)
    action = request.headers.get("SOAPAction", "").strip().strip('"')
    if action != SOAP_ACTION:
        return fault("a:ActionNotSupported", f"The message with Action '{action}' cannot be processed at the "
                     "receiver, due to a ContractFilter mismatch at the EndpointDispatcher.")
    return None


def _expression(body: bytes) -> str | None:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError:
        return None
    operation = root.find(f"{{{SOAP_ENVELOPE_NS}}}Body/{{{TEMPURI_NS}}}Consulta")
    if etree.QName(root).text != f"{{{SOAP_ENVELOPE_NS}}}Envelope" or operation is None:
        return None
    # expresionImpresa is minOccurs=0 nillable in the WSDL: missing is an empty expression, not a bad message.
    return operation.findtext(f"{{{TEMPURI_NS}}}expresionImpresa") or ""
