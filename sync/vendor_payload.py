"""Portal provider → Sage 300 vendor: the new VendorNumber and the APVendors body.

VendorNumber scheme: the tenant's prefix + a zero-padded sequence
(`PP000001`), always within APVEN.VENDORID's CHAR(12). Not the RFC: a
persona física's RFC has 13 characters, and RFCs carry '&' and 'Ñ', which
some Sage screens and reports mishandle. The number is chosen once, stored in
the provider's outbound record (its outside id, committed PENDING before the
Web API call) and reused by every rerun, so a crash never leads to a second
vendor under a second number.
When the portal already names an external_id that fits, that is the number:
both sides then agree without a portal write.
"""
from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from sync.models import Outbound
from sync.portal.schemas import ProviderResponse
from sync.sage.models import APVEN
from sync.sage.queries import sage_query
from sync.sage.webapi import VENDOR_PROPERTY_BY_COLUMN, APVendor, OptionalField

VENDOR_ID_LENGTH = 12
DEFAULT_PREFIX = "PP"
SEQUENCE_DIGITS = 6
# APVendors property that holds the RFC, by the tenant's vendor_rfc_source (FIELDS.md:
# TaxRegistrationCode1..5 for IDTAXREGI1..5).
RFC_PROPERTY = VENDOR_PROPERTY_BY_COLUMN


@sage_query("vendors_by_id", vendor_ids=["P00001", "P00002"])
def vendors_by_id(alias: str, tenant, *, vendor_ids: Iterable[str]) -> QuerySet:
    return APVEN.objects.using(alias).filter(VENDORID__in=sorted(set(vendor_ids))).order_by("VENDORID")


@sage_query("vendor_ids_with_prefix", prefix="PP")
def vendor_ids_with_prefix(alias: str, tenant, *, prefix: str) -> QuerySet:
    return APVEN.objects.using(alias).filter(VENDORID__startswith=prefix).order_by("-VENDORID")


def vendor_prefix(tenant) -> str:
    # A tenant setting once tenants.models has it (see the report); PP until then.
    return (tenant.vendor_number_prefix or DEFAULT_PREFIX).strip().upper()


def fits_vendor_id(value: str | None) -> bool:
    if not value:
        return False
    stripped = value.strip()
    return len(stripped) <= VENDOR_ID_LENGTH and stripped.isascii()


class VendorNumbers:
    """Hands out new VendorNumbers above every number Sage or our vendor records hold."""

    def __init__(self, alias: str, tenant) -> None:
        self.prefix = vendor_prefix(tenant)
        digits = VENDOR_ID_LENGTH - len(self.prefix)
        self.width = min(SEQUENCE_DIGITS, digits)
        taken = [v.strip() for v in vendor_ids_with_prefix(alias, tenant, prefix=self.prefix)
                 .values_list("VENDORID", flat=True)[:500]]
        taken += list(Outbound.objects.filter(tenant=tenant, kind=Outbound.Kind.VENDOR,
                                              outside_id__startswith=self.prefix).values_list("outside_id", flat=True))
        self.last = max((self._sequence(v) for v in taken), default=0)

    def _sequence(self, vendor_id: str) -> int:
        tail = vendor_id[len(self.prefix):]
        return int(tail) if tail.isdigit() else 0

    def next(self) -> str:
        self.last += 1
        number = f"{self.prefix}{self.last:0{self.width}d}"
        if len(number) > VENDOR_ID_LENGTH:
            raise ValueError(
                f"Vendor numbers with prefix {self.prefix!r} are used up ({number} is over 12 characters).")
        return number


def build_vendor(tenant, provider: ProviderResponse, vendor_number: str) -> APVendor:
    """The APVendors body (property names: FIELDS.md "AP/APVendors")."""
    name = (provider.name or provider.rfc or vendor_number).strip()
    extra = provider.model_extra or {}
    fields = [OptionalField(OptionalField=tenant.provider_id_optfield, Value=provider.id or "")]
    body: dict = {"VendorNumber": vendor_number, "ShortName": name[:10], "VendorName": name[:60], "Status": "Active"}
    if tenant.vendor_group_code:
        body["GroupCode"] = tenant.vendor_group_code
    rfc = (provider.rfc or "").strip().upper()
    if tenant.vendor_rfc_source == "OPTFIELD" and tenant.vendor_rfc_optfield:
        fields.append(OptionalField(OptionalField=tenant.vendor_rfc_optfield, Value=rfc))
    elif tenant.vendor_rfc_source in RFC_PROPERTY:
        body[RFC_PROPERTY[tenant.vendor_rfc_source]] = rfc
    if extra.get("email"):
        # The provider's own address: Sage's vendor e-mail (Email = EMAIL2), not its contact's (ContactsEmail).
        body["Email"] = str(extra["email"])[:50]
    if provider.currency_str and provider.currency_str.upper() not in ("MXN", "MXP"):
        # Pesos: the vendor group's default; Sage companies spell it MXP or MXN.
        body["CurrencyCode"] = provider.currency_str.upper()
    return APVendor(**body, VendorOptionalFieldValues=fields)
