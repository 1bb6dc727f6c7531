"""SAT's CFDI status service ("Servicio de Consulta de CFDI"): one SOAP operation, Consulta.

Only this module talks HTTP to SAT. satcfdi (26.10.1) has a status check,
`satcfdi.pacs.sat.SAT.status`, but its host is fixed by its Environment
(production or SAT's test host), it posts without a timeout and it sends no
`fe=`; it cannot be pointed at the sandbox stand-in, so this small client does
the same call on our HTTP stack: requests, lxml, explicit timeouts, bounded
retries, and a per-process rate limit.

Where the outside names come from:
- SOAP action, namespaces, element names (Consulta/expresionImpresa,
  ConsultaResponse/ConsultaResult, the Acuse fields CodigoEstatus, EsCancelable,
  Estado, EstatusCancelacion, ValidacionEFOS): SAT's WSDL, as kept in
  eclipxe13/CfdiUtils src/CfdiUtils/ConsultaCfdiSat/ConsultaCFDIServiceSAT.svc.xml
  (SAT stopped publishing it in 2018, per that project's docs); the action and
  the tempuri namespace also in satcfdi/pacs/sat.py and
  phpcfdi/sat-estado-cfdi src/Contracts/Constants.php.
- The expression (the text of the printed CFDI's QR code) for CFDI 3.3 and 4.0:
  `https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx?id=&re=&rr=&tt=&fe=`,
  total with at most 6 decimals and no trailing zeros but one, `fe` the last 8
  characters of the seal, an RFC's `&` written `&amp;`: SAT's Anexo 20 as
  implemented by phpcfdi/cfdi-expresiones (Extractors/Standards/Comprobante20170701,
  FormatTotal18x6, FormatRfcXml) and CfdiUtils RequestParameters::expressionVersion40.
- Answer values ("S - Comprobante obtenido satisfactoriamente.", "N - 601: La
  expresión impresa proporcionada no es válida.", "N - 602: Comprobante no
  encontrado.", Vigente / Cancelado / No Encontrado): CfdiUtils
  docs/componentes/estado-sat.md and phpcfdi/sat-estado-cfdi README.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from decimal import Decimal

import requests
from django.conf import settings
from django.utils.translation import gettext as _
from lxml import etree
from requests.adapters import HTTPAdapter

logger = logging.getLogger("sync.sat")

SOAP_ENVELOPE_NS = "http://schemas.xmlsoap.org/soap/envelope/"
TEMPURI_NS = "http://tempuri.org/"
ACUSE_NS = "http://schemas.datacontract.org/2004/07/Sat.Cfdi.Negocio.ConsultaCfdi.Servicio"
SOAP_ACTION = "http://tempuri.org/IConsultaCFDIService/Consulta"
QR_URL = "https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx"
ACUSE_FIELDS = ("CodigoEstatus", "EsCancelable", "Estado", "EstatusCancelacion", "ValidacionEFOS")
VIGENTE, CANCELADO = "Vigente", "Cancelado"
SEAL_TAIL = 8
# How long a caller may be made to wait for the rate limit before the check is left for later.
RATE_WAIT_MAX_SECONDS = 5.0
_jitter = random.Random()


class SatUnavailable(Exception):
    """SAT gave no usable answer (down, refused the request, or answered nonsense); one sentence why."""


class SatRateLimited(Exception):
    """This process has used its SAT calls for now (SAGECONNECT_SAT_CALLS_PER_MINUTE)."""


@dataclass(frozen=True)
class Acuse:
    """SAT's answer, in SAT's words (WSDL type Acuse)."""

    code: str
    state: str
    cancelable: str = ""
    cancellation_status: str = ""
    efos: str = ""

    @property
    def found(self) -> bool:
        # "S - …" is SAT's only success code; "N - 60x" means it found nothing for the expression.
        return self.code.startswith("S")

    @property
    def active(self) -> bool:
        return self.found and self.state == VIGENTE

    @property
    def cancelled(self) -> bool:
        return self.found and self.state == CANCELADO


# ---------------------------------------------------------------------------
# The expression

def format_total(total: Decimal) -> str:
    """Anexo 20 (CFDI 3.3/4.0 QR): at most 6 decimals, trailing zeros dropped, at least one decimal kept."""
    text = f"{Decimal(total).quantize(Decimal('0.000001')):f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _rfc(rfc: str) -> str:
    # phpcfdi/cfdi-expresiones FormatRfcXml: an RFC's "&" is written as an XML entity.
    return rfc.strip().upper().replace("&", "&amp;")


def expression(*, uuid: str, issuer_rfc: str, receptor_rfc: str, total: Decimal, seal: str = "") -> str:
    parts = [f"id={uuid.strip().upper()}", f"re={_rfc(issuer_rfc)}", f"rr={_rfc(receptor_rfc)}",
             f"tt={format_total(total)}"]
    if seal:
        parts.append(f"fe={seal.strip()[-SEAL_TAIL:]}")
    return f"{QR_URL}?" + "&".join(parts)


def envelope(expression_text: str) -> bytes:
    soap = etree.Element(f"{{{SOAP_ENVELOPE_NS}}}Envelope", nsmap={"s": SOAP_ENVELOPE_NS, "c": TEMPURI_NS})
    body = etree.SubElement(soap, f"{{{SOAP_ENVELOPE_NS}}}Body")
    consulta = etree.SubElement(body, f"{{{TEMPURI_NS}}}Consulta")
    etree.SubElement(consulta, f"{{{TEMPURI_NS}}}expresionImpresa").text = expression_text
    return etree.tostring(soap, xml_declaration=True, encoding="UTF-8")


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def parse_answer(content: bytes) -> Acuse:
    """The Acuse in a ConsultaResponse; SatUnavailable for anything else."""
    try:
        root = etree.fromstring(content, parser=_safe_parser())
    except etree.XMLSyntaxError as error:
        raise SatUnavailable(_("SAT's answer is not XML (%(error)s).") % {"error": error}) from None
    result = root.find(f"{{{SOAP_ENVELOPE_NS}}}Body/{{{TEMPURI_NS}}}ConsultaResponse/{{{TEMPURI_NS}}}ConsultaResult")
    if result is None:
        fault = root.findtext(f"{{{SOAP_ENVELOPE_NS}}}Body/{{{SOAP_ENVELOPE_NS}}}Fault/faultstring")
        raise SatUnavailable(_("SAT's answer holds no ConsultaResult%(fault)s.")
                             % {"fault": f" ({fault.strip()})" if fault else ""})
    values = {name: (result.findtext(f"{{{ACUSE_NS}}}{name}") or "").strip() for name in ACUSE_FIELDS}
    if not values["CodigoEstatus"]:
        raise SatUnavailable(_("SAT's answer has no CodigoEstatus."))
    return Acuse(code=values["CodigoEstatus"], state=values["Estado"], cancelable=values["EsCancelable"],
                 cancellation_status=values["EstatusCancelacion"], efos=values["ValidacionEFOS"])


# ---------------------------------------------------------------------------
# The per-process rate limit

class RateLimit:
    """A token bucket: `per_minute` calls in a burst, then one every 60/per_minute seconds.

    A caller waits for its token when that is short; when it would wait longer
    than `max_wait` it gets False and leaves the check for a later cycle.
    """

    def __init__(self, per_minute: int, *, clock=time.monotonic, sleep=time.sleep) -> None:
        self.per_minute = max(1, int(per_minute))
        self.rate = self.per_minute / 60.0
        self.tokens = float(self.per_minute)
        self._clock, self._sleep = clock, sleep
        self._stamp = clock()
        self._lock = threading.Lock()

    def take(self, max_wait: float = RATE_WAIT_MAX_SECONDS) -> bool:
        with self._lock:
            now = self._clock()
            self.tokens = min(float(self.per_minute), self.tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            wait = 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate
            if wait > max_wait:
                return False
            # Taken now, under the lock: a second thread sees the debt and waits behind us.
            self.tokens -= 1
        if wait:
            self._sleep(wait)
        return True


_limit: RateLimit | None = None
_limit_lock = threading.Lock()


def reset_rate_limit() -> None:
    """Start this process's budget afresh (tests; a long-running process never needs it)."""
    global _limit
    with _limit_lock:
        _limit = None


def rate_limit() -> RateLimit:
    """This process's limit, made again when the setting changed (a test or a reload)."""
    global _limit
    wanted = settings.SAT_CALLS_PER_MINUTE
    with _limit_lock:
        if _limit is None or _limit.per_minute != wanted:
            _limit = RateLimit(wanted)
        return _limit


# ---------------------------------------------------------------------------
# The client

class SatStatusClient:
    """SAT's status service at `url` (a tenant's sat_status_url). Not shared between threads."""

    def __init__(self, url: str, *, connect_timeout: float = 5.0, read_timeout: float = 20.0,
                 max_attempts: int = 3, backoff_base: float = 0.5, limit: RateLimit | None = None) -> None:
        self.url = url
        self.timeout = (connect_timeout, read_timeout)
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.limit = limit
        self.calls = 0  # Consulta calls made (retries not counted)
        self.session = requests.Session()
        # Our loop decides what is retried; urllib3 must not retry behind its back.
        adapter = HTTPAdapter(max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> SatStatusClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def consult(self, expression_text: str) -> Acuse:
        """SAT's Acuse for one expression. SatRateLimited before any call when the limit is spent."""
        limit = self.limit or rate_limit()
        if not limit.take():
            raise SatRateLimited(_("SAT call limit reached (%(n)s a minute in this process).")
                                 % {"n": limit.per_minute})
        self.calls += 1
        body = envelope(expression_text)
        headers = {"Content-Type": 'text/xml; charset="utf-8"', "Accept": "text/xml", "SOAPAction": SOAP_ACTION}
        last: str = ""
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                time.sleep(_jitter.uniform(0, self.backoff_base * 2 ** (attempt - 2)))
            try:
                response = self.session.post(self.url, data=body, headers=headers, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as error:
                last = _("no answer (%(error)s)") % {"error": error.__class__.__name__}
                continue
            if response.status_code == 429 or response.status_code >= 500:
                last = _("HTTP %(status)s") % {"status": response.status_code}
                continue
            if response.status_code != 200:
                # 4xx: SAT refuses the request itself; asking again changes nothing.
                raise SatUnavailable(_("SAT's status service at %(url)s refused the request: HTTP %(status)s.")
                                     % {"url": self.url, "status": response.status_code})
            try:
                return parse_answer(response.content)
            except SatUnavailable as error:
                last = str(error)
                continue
        raise SatUnavailable(_("SAT's status service at %(url)s did not answer after %(n)s attempts: %(last)s.")
                             % {"url": self.url, "n": self.max_attempts, "last": last})
