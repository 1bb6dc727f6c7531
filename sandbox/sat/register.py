"""The SAT stand-in's register: which CFDIs SAT knows, and which it cancelled.

SAT knows every CFDI a PAC stamped. In the sandbox the stamped CFDIs are the
ones the sandbox made or was given, i.e. the files the portal stand-in holds;
a CFDI is entered in the register from that file the first time it is asked
about (or with `register_stamped`), so its issuer, receptor, total and seal
are the stamped document's, not what a caller claims.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.utils import timezone
from lxml import etree

from sandbox.portal.models import SandboxCfdi
from sandbox.sat.models import SandboxSatCfdi

CFDI_NAMESPACES = ("http://www.sat.gob.mx/cfd/4", "http://www.sat.gob.mx/cfd/3")
TFD_NS = "http://www.sat.gob.mx/TimbreFiscalDigital"
# EstatusCancelacion of a finished cancellation (phpcfdi/sat-estado-cfdi README, "Estados").
CANCELLATION_STATUSES = ("Cancelado con aceptación", "Cancelado sin aceptación", "Plazo vencido")


class NotStamped(LookupError):
    """The sandbox holds no stamped CFDI with that UUID."""


def _facts(xml: bytes) -> dict | None:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(xml, parser=parser)
    except etree.XMLSyntaxError:
        return None
    namespace = etree.QName(root).namespace
    if namespace not in CFDI_NAMESPACES:
        return None
    issuer, receptor = root.find(f"{{{namespace}}}Emisor"), root.find(f"{{{namespace}}}Receptor")
    stamp = root.find(f"{{{namespace}}}Complemento/{{{TFD_NS}}}TimbreFiscalDigital")
    if issuer is None or receptor is None or stamp is None or not stamp.get("UUID"):
        return None
    try:
        total = Decimal(root.get("Total", ""))
    except InvalidOperation:
        return None
    return {"uuid": stamp.get("UUID").strip().upper(), "issuer_rfc": (issuer.get("Rfc") or "").strip().upper(),
            "receptor_rfc": (receptor.get("Rfc") or "").strip().upper(), "total": total,
            "seal_tail": (root.get("Sello") or "").strip()[-8:]}


def register_stamped(xml: bytes) -> SandboxSatCfdi:
    """Enter a stamped CFDI in SAT's register (Vigente), or return its entry."""
    facts = _facts(bytes(xml))
    if facts is None:
        raise NotStamped("The file is not a stamped CFDI 3.3/4.0: SAT would hold no record of it.")
    entry, _ = SandboxSatCfdi.objects.get_or_create(uuid=facts.pop("uuid"), defaults=facts)
    return entry


def register_of(uuid: str) -> SandboxSatCfdi | None:
    """SAT's entry for `uuid`, entered from the sandbox's file on first use; None when nothing was stamped."""
    uuid = uuid.strip().upper()
    entry = SandboxSatCfdi.objects.filter(uuid=uuid).first()
    if entry is not None:
        return entry
    for stored in SandboxCfdi.objects.filter(uuid=uuid).only("xml")[:1]:
        try:
            return register_stamped(stored.xml)
        except NotStamped:
            return None
    return None


def mark_cancelled_at_sat(uuid: str, *, cancellation_status: str = "Cancelado con aceptación") -> SandboxSatCfdi:
    """SAT cancelled this CFDI: from now on the status service answers Estado "Cancelado".

    Raises NotStamped (one sentence) when the sandbox holds no CFDI with that UUID.
    """
    if cancellation_status not in CANCELLATION_STATUSES:
        raise ValueError(f"A finished cancellation is one of {', '.join(CANCELLATION_STATUSES)}, "
                         f"not {cancellation_status!r}.")
    entry = register_of(uuid)
    if entry is None:
        raise NotStamped(f"The sandbox holds no stamped CFDI with UUID {uuid.strip().upper()}: "
                         "SAT cannot cancel what it never stamped.")
    entry.state, entry.cancellation_status = "Cancelado", cancellation_status
    entry.cancelled_at = entry.cancelled_at or timezone.now()
    entry.save(update_fields=["state", "cancellation_status", "cancelled_at"])
    return entry
