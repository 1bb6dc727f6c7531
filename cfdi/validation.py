"""Everything wrong with a CFDI, as named reasons a person can act on.

`check_cfdi` never stops at the first problem: staff fix suppliers' documents
in one round trip only if they see every reason at once.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _
from lxml import etree

from cfdi import xsd
from cfdi.parsing import CfdiFacts, ParseError, extract_facts, parse_xml, remove_addenda

RFC_PATTERN = re.compile(r"^[A-ZÑ&]{3,4}[0-9]{6}[A-Z0-9]{2}[0-9A]$")
SUPPORTED_VERSIONS = ("3.3", "4.0")
NO_CURRENCY = "XXX"   # P documents carry no currency of their own
CENT = Decimal("0.01")
MAX_SCHEMA_PROBLEMS = 10

VendorLookup = Callable[[str], bool] | Container[str]


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    detail: dict = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, **self.detail}


@dataclass
class CheckResult:
    facts: CfdiFacts | None
    problems: list[Problem]
    root: etree._Element | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def check_cfdi(
    xml_bytes: bytes,
    *,
    tenant_rfc: str | None = None,
    is_vendor: VendorLookup | None = None,
    imported_uuids: Container[str] | None = None,
) -> CheckResult:
    """Parse strictly, validate against SAT's schemas and our business rules.

    Checks that need context run only when the caller gives it: the tenant's
    RFC, how to tell an issuer RFC is a Sage vendor, the UUIDs already in Sage.
    """
    try:
        root = parse_xml(xml_bytes)
        facts = extract_facts(root)
    except ParseError as error:
        return CheckResult(None, [Problem(error.code, error.message)])
    problems = business_problems(facts, tenant_rfc=tenant_rfc, is_vendor=is_vendor, imported_uuids=imported_uuids)
    problems += schema_problems(root, facts)
    return CheckResult(facts, problems, root)


def schema_problems(root: etree._Element, facts: CfdiFacts) -> list[Problem]:
    problems = []
    if facts.empty_addenda:
        problems.append(Problem("addenda_empty", _(
            "The document carries an empty <cfdi:Addenda/>, which SAT's schema does not allow; "
            "ask the supplier for the file without it (its signed content is not affected).")))
    # The Addenda is outside the seal and custom addenda have no SAT schema:
    # validate what SAT validates. `root` is ours (parsed for this check).
    remove_addenda(root)
    errors = xsd.schema_errors(root)
    for error in errors[:MAX_SCHEMA_PROBLEMS]:
        problems.append(Problem("schema_invalid", _("Does not follow SAT's schema: %(error)s") % {"error": error}))
    if len(errors) > MAX_SCHEMA_PROBLEMS:
        problems.append(Problem("schema_invalid", _("…and %(count)s more schema errors.")
                                % {"count": len(errors) - MAX_SCHEMA_PROBLEMS}))
    return problems


def business_problems(
    facts: CfdiFacts,
    *,
    tenant_rfc: str | None = None,
    is_vendor: VendorLookup | None = None,
    imported_uuids: Container[str] | None = None,
) -> list[Problem]:
    problems = _version_problems(facts) + _stamp_problems(facts) + _rfc_problems(facts, tenant_rfc)
    problems += _total_problems(facts) + _currency_problems(facts)
    problems += _vendor_problems(facts, is_vendor) + _imported_problems(facts, imported_uuids)
    return problems


def _version_problems(facts: CfdiFacts) -> list[Problem]:
    if facts.version in SUPPORTED_VERSIONS:
        return []
    return [Problem("version_unsupported", _("CFDI version '%(version)s' is not supported; only 3.3 and 4.0 are.")
                    % {"version": facts.version})]


def _stamp_problems(facts: CfdiFacts) -> list[Problem]:
    if facts.stamp_count > 1:
        # Which stamp is SAT's cannot be told from the file: the UUID read may not be the one certified.
        return [Problem("stamp_multiple", _(
            "The document carries %(count)s TimbreFiscalDigital stamps; a CFDI has exactly one. "
            "Ask the supplier for the file exactly as the PAC stamped it.") % {"count": facts.stamp_count})]
    if facts.uuid:
        return []
    return [Problem("not_stamped",
                    _("The document has no TimbreFiscalDigital stamp UUID: it was never certified by a PAC."))]


def _rfc_problems(facts: CfdiFacts, tenant_rfc: str | None) -> list[Problem]:
    problems = []
    for role, rfc in ((_("issuer"), facts.issuer_rfc), (_("receptor"), facts.receptor_rfc)):
        if not RFC_PATTERN.match(rfc):
            problems.append(Problem("rfc_malformed", _("The %(role)s RFC '%(rfc)s' is not a valid RFC.")
                                    % {"role": role, "rfc": rfc}))
    if tenant_rfc is not None and facts.receptor_rfc != tenant_rfc.strip().upper():
        problems.append(Problem("receptor_mismatch", _(
            "The receptor RFC is %(receptor)s, not this company's RFC %(tenant)s: the invoice was issued to someone "
            "else.")
            % {"receptor": facts.receptor_rfc, "tenant": tenant_rfc.strip().upper()}))
    return problems


def expected_total(facts: CfdiFacts) -> Decimal:
    return (facts.subtotal - facts.discount + facts.taxes_transferred - facts.taxes_withheld
            + facts.local_taxes_transferred - facts.local_taxes_withheld)


def _total_problems(facts: CfdiFacts) -> list[Problem]:
    expected = expected_total(facts)
    # SAT lets each tax line round on its own; a cent either way is rounding.
    if abs(expected - facts.total) <= CENT:
        return []
    return [Problem("totals_inconsistent", _(
        "Total %(total)s does not add up: SubTotal %(subtotal)s − Descuento %(discount)s + traslados %(transferred)s "
        "− retenciones %(withheld)s = %(expected)s.") % {
        "total": facts.total, "subtotal": facts.subtotal, "discount": facts.discount,
        "transferred": facts.taxes_transferred + facts.local_taxes_transferred,
        "withheld": facts.taxes_withheld + facts.local_taxes_withheld, "expected": expected})]


def _currency_problems(facts: CfdiFacts) -> list[Problem]:
    if facts.currency == "MXN" and facts.exchange_rate not in (None, Decimal(1)):
        return [Problem("exchange_rate_mxn",
                        _("The currency is MXN but TipoCambio is %(rate)s; it must be 1 or absent.")
                        % {"rate": facts.exchange_rate})]
    if facts.currency not in ("MXN", NO_CURRENCY, "") and facts.exchange_rate is None:
        return [Problem("exchange_rate_missing", _("The currency is %(currency)s but the document has no TipoCambio.")
                        % {"currency": facts.currency})]
    if not facts.currency:
        return [Problem("currency_missing", _("The document has no Moneda."))]
    return []


def _vendor_problems(facts: CfdiFacts, is_vendor: VendorLookup | None) -> list[Problem]:
    if is_vendor is None:
        return []
    known = is_vendor(facts.issuer_rfc) if callable(is_vendor) else facts.issuer_rfc in is_vendor
    if known:
        return []
    return [Problem("vendor_unknown",
                    _("No Sage vendor has the issuer's RFC %(rfc)s (%(name)s); create or fix the vendor first.")
                    % {"rfc": facts.issuer_rfc, "name": facts.issuer_name})]


def _imported_problems(facts: CfdiFacts, imported_uuids: Container[str] | None) -> list[Problem]:
    if imported_uuids is None or not facts.uuid or facts.uuid not in imported_uuids:
        return []
    return [Problem("already_imported", _("UUID %(uuid)s is already imported into Sage.") % {"uuid": facts.uuid})]
