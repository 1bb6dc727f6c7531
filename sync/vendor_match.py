"""The Sage vendors a portal provider stands for: by the portal's external_id, else by RFC (wherever the
tenant keeps it: APVEN IDTAXREGI1..5 or BRN, or an APVENO optional field); the vendor an interrupted run
made under the number it chose; and each vendor's PROVIDERID optional field. Reads Sage only."""
from __future__ import annotations

from sync.portal.schemas import ProviderResponse
from sync.sage import queries
from sync.sage.values import trimmed
from sync.vendor_payload import fits_vendor_id, vendors_by_id

RFC_CHUNK = 500


class SageVendors:
    def __init__(self, alias: str, tenant) -> None:
        self.alias, self.tenant = alias, tenant

    def match_in_sage(self, providers: list[ProviderResponse]) -> dict[str, str]:
        """Provider id → the existing Sage VENDORID it stands for (external_id first, then RFC)."""
        external = {(p.external_id or "").strip().upper() for p in providers if fits_vendor_id(p.external_id)}
        in_sage = {trimmed(v) for v in vendors_by_id(self.alias, self.tenant, vendor_ids=external)
                   .values_list("VENDORID", flat=True)} if external else set()
        by_rfc = self.vendors_by_rfc({p.rfc.strip().upper() for p in providers if p.rfc})
        matches: dict[str, str] = {}
        for provider in providers:
            own, rfc = (provider.external_id or "").strip().upper(), (provider.rfc or "").strip().upper()
            if own in in_sage:
                matches[provider.id or ""] = own
            elif by_rfc.get(rfc):
                matches[provider.id or ""] = by_rfc[rfc][0]
        return matches

    def vendors_by_rfc(self, rfcs: set[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        ordered = sorted(rfcs)
        for start in range(0, len(ordered), RFC_CHUNK):
            chunk = ordered[start:start + RFC_CHUNK]
            vendors = list(queries.vendors_by_rfc(self.alias, self.tenant, rfcs=chunk))
            rfc_of = self.rfc_of(vendors)
            for vendor in vendors:
                found.setdefault(rfc_of.get(trimmed(vendor.VENDORID), ""), []).append(trimmed(vendor.VENDORID))
        return found

    def rfc_of(self, vendors: list) -> dict[str, str]:
        source = self.tenant.vendor_rfc_source
        if source != "OPTFIELD":
            return {trimmed(v.VENDORID): trimmed(getattr(v, source)).upper() for v in vendors}
        rows = queries.vendor_optional_fields(self.alias, self.tenant, vendor_ids=[v.VENDORID for v in vendors])
        return {trimmed(r.VENDORID): trimmed(r.VALUE).upper() for r in rows
                if trimmed(r.OPTFIELD).upper() == self.tenant.vendor_rfc_optfield.upper()}

    def find_vendor(self, vendor_number: str, rfc: str) -> str | None:
        """A vendor an earlier, interrupted run may have created: by its number (with this RFC), then by RFC."""
        rfc = rfc.strip().upper()
        numbered = list(vendors_by_id(self.alias, self.tenant, vendor_ids=[vendor_number]))
        if numbered and self.rfc_of(numbered).get(vendor_number) == rfc:
            return vendor_number
        found = self.vendors_by_rfc({rfc})
        return found[rfc][0] if found.get(rfc) else None

    def number_taken(self, vendor_number: str) -> bool:
        return vendors_by_id(self.alias, self.tenant, vendor_ids=[vendor_number]).exists()

    def provider_ids_in_sage(self, vendor_ids: set[str]) -> dict[str, str]:
        """VENDORID → the provider id its optional field holds now (adopted vendors only need PROVIDERID once)."""
        field, found = self.tenant.provider_id_optfield.upper(), {}
        ordered = sorted(vendor_ids)
        for start in range(0, len(ordered), RFC_CHUNK):
            chunk = ordered[start:start + RFC_CHUNK]
            for row in queries.vendor_optional_fields(self.alias, self.tenant, vendor_ids=chunk):
                if trimmed(row.OPTFIELD).upper() == field:
                    found[trimmed(row.VENDORID)] = trimmed(row.VALUE)
        return found
