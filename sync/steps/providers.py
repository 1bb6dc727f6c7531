"""Step 1, providers: every portal provider with an ACCEPTED expedient has a
Sage vendor, and both sides know each other's id.

Select: the portal's ACCEPTED providers (one paged read; the whole list, not
an expedientAcceptedFrom window, because a provider accepted long ago whose
vendor failed or whose external_id was cleared must still be seen). Providers
whose vendor record is confirmed and whose portal external_id is that
VENDORID cost nothing more.
Build: match the portal's external_id when Sage has that VENDORID, else the
RFC (sync.sage.queries.vendors_by_rfc, wherever the tenant keeps it) — a
matched vendor is never created again, it gets PROVIDERID where the Web API
lets us; otherwise a new vendor (APVendors, with APVENO PROVIDERID) under a
VendorNumber chosen once (sync.vendor_payload); and the portal's external_id
when the portal has none. The payload holds all three writes.
Send: the Web API and portal calls of a few providers at once (OutsideCalls).
Record: the provider's outbound record (kind "vendor", key = the portal's
provider id, outside id = VENDORID). The number is committed with PENDING
before the Web API call: a crash after Sage made the vendor and before we
recorded it is found by that number (or the RFC) first, and only what is
still missing is sent.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from sync.engine.context import StepContext, StepResult
from sync.engine.crashpoints import crashpoint
from sync.engine.exporter import Built, Exporter, Job, Records, export
from sync.engine.outbox import Confirmed, Failed, Needs, Result, Waiting
from sync.models import Outbound
from sync.portal.client import PortalClient
from sync.portal.errors import PortalAuthError, PortalError
from sync.portal.schemas import ProviderResponse
from sync.sage.webapi import APVendor, SageWebApi, WebApiError, WebApiPermanentError
from sync.vendor_match import SageVendors
from sync.vendor_payload import VendorNumbers, build_vendor, fits_vendor_id
from tenants.sage_db import sage_alias

KINDS = (Outbound.Kind.VENDOR,)
# Threads making calls; how many calls are under way at once is the tenant's adaptive window's to say
# (sageconnect.outside_calls): as many threads as its ceiling. settings.PROVIDER_WORKERS overrides; 0 makes
# the calls in the step's own thread.
OUTSIDE_ERRORS = (PortalError, WebApiError, ValueError)
CONFLICT = "external_id_conflict"


def run(ctx: StepContext) -> StepResult:
    return export(Providers(ctx))


def settled(provider: ProviderResponse, record: Outbound | None) -> bool:
    return (record is not None and record.state == Outbound.State.CONFIRMED
            and (provider.external_id or "") == record.outside_id)


@dataclass
class Plan:
    """The outside calls one provider still needs, made off the step's thread; the results come back to it."""
    provider: ProviderResponse
    vendor_id: str
    vendor: APVendor | None = None        # to create in Sage
    provider_id_field: str = ""           # to write into an existing Sage vendor's optional field
    set_external_id: bool = False         # the portal provider has no external_id yet
    conflict: str = ""                    # external_id and Sage vendor disagree: a person must correct one side
    created: bool = False
    external_id_set: bool = False
    provider_id_error: str = ""
    error: Exception | None = None

    def payload(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor.payload() if self.vendor else None,
            "provider_id": {"VendorNumber": self.vendor_id, "OptionalField": self.provider_id_field,
                            "Value": self.provider.id} if self.provider_id_field else None,
            "external_id": self.vendor_id if self.set_external_id else None,
        }


class OutsideCalls:
    """A few providers' Web API and portal calls at once. Each thread has its own
    PortalClient and SageWebApi: a client's session is not shared between threads."""

    def __init__(self, tenant, portal: PortalClient) -> None:
        self.tenant, self.portal = tenant, portal
        self.local = threading.local()
        self.lock = threading.Lock()
        self.opened: list[SageWebApi | PortalClient] = []

    def portal_client(self) -> PortalClient:
        if not workers():
            return self.portal
        if not hasattr(self.local, "portal"):
            self.local.portal = self.opened_client(PortalClient(self.tenant))
        return self.local.portal

    def webapi(self) -> SageWebApi:
        if not hasattr(self.local, "webapi"):
            self.local.webapi = self.opened_client(SageWebApi(self.tenant))
        return self.local.webapi

    def opened_client(self, client):
        with self.lock:
            self.opened.append(client)
        return client

    def run(self, plans: list[Plan]) -> Iterator[Plan]:
        """Each plan once done, in the order they finish."""
        try:
            if not workers():
                yield from (self.call(plan) for plan in plans)
                return
            with ThreadPoolExecutor(max_workers=workers(), thread_name_prefix="providers") as pool:
                for done in as_completed([pool.submit(self.call, plan) for plan in plans]):
                    yield done.result()
        finally:
            for client in self.opened:
                client.close()

    def call(self, plan: Plan) -> Plan:
        try:
            if plan.vendor is not None:
                self.webapi().create_vendor(plan.vendor)
                plan.created = True
                crashpoint("providers:vendor_created")
            if plan.provider_id_field:
                self.write_provider_id(self.webapi(), plan)
                crashpoint("providers:provider_id_recorded")
            if plan.set_external_id:
                self.portal_client().set_provider_external_id(plan.provider.id or "", plan.vendor_id)
                plan.external_id_set = True
                crashpoint("providers:external_id_set")
        except PortalAuthError as error:
            plan.error = error  # the tenant's: raised by the step once the others are recorded
        except OUTSIDE_ERRORS as error:
            plan.error = error
        return plan

    @staticmethod
    def write_provider_id(webapi: SageWebApi, plan: Plan) -> None:
        # FIELDS.md: a vendor's optional fields are VendorOptionalFieldValues[] (VendorNumber, OptionalField, Value).
        body = {"VendorOptionalFieldValues": [{"VendorNumber": plan.vendor_id, "OptionalField": plan.provider_id_field,
                                               "Value": plan.provider.id}]}
        try:
            webapi.patch("AP/APVendors", plan.vendor_id, body)
        except WebApiError as error:
            plan.provider_id_error = error.code


def workers() -> int:
    ceiling = settings.OUTSIDE_CALLS_PER_TENANT
    return max(0, min(ceiling, int(getattr(settings, "PROVIDER_WORKERS", ceiling))))


class Providers(Exporter[ProviderResponse]):
    kind = Outbound.Kind.VENDOR
    name = "providers"
    target = "sage"
    found_is_final = True      # found = the vendor is in Sage and the portal names it: nothing left to write
    tenant_errors = (PortalAuthError,)

    def __init__(self, ctx: StepContext) -> None:
        super().__init__(ctx)
        self.alias = sage_alias(ctx.tenant)
        self.sage = SageVendors(self.alias, ctx.tenant)
        self._portal: PortalClient | None = None
        self._numbers: VendorNumbers | None = None
        self.existing: dict[str, str] = {}   # provider id → the Sage vendor an earlier run left there

    @property
    def portal(self) -> PortalClient:
        if self._portal is None:
            self._portal = PortalClient(self.ctx.tenant)
        return self._portal

    @property
    def numbers(self) -> VendorNumbers:
        if self._numbers is None:
            self._numbers = VendorNumbers(self.alias, self.ctx.tenant)
        return self._numbers

    def close(self) -> None:
        if self._portal is not None:
            self._portal.close()

    def key(self, item: ProviderResponse) -> str:
        return item.id or ""

    def changed(self, keys: frozenset[str] | None) -> Iterator[list[ProviderResponse]]:
        listed = list(self.portal.iter_providers(status_expedient="ACCEPTED"))
        providers = [p for p in listed if p.id and p.rfc and (keys is None or p.id in keys)]
        if keys is None and len(providers) < len(listed):
            # Matching and Sage's tax fields need an RFC; a foreign provider has only a tax_id.
            self.ctx.log(_("%(n)s accepted provider(s) have no RFC and were left out")
                         % {"n": len(listed) - len(providers)})
        records = {r.key: r for r in Outbound.objects.filter(tenant_id=self.ctx.tenant_id, kind=self.kind)}
        self.outbox.known.update(records)
        todo = [p for p in providers if not settled(p, records.get(p.id or ""))]
        self.ctx.result.skipped += len(providers) - len(todo)
        self.ctx.log(_("%(n)s accepted provider(s); %(todo)s needed work") % {"n": len(providers), "todo": len(todo)})
        yield todo

    def lookup(self, items: list[ProviderResponse], records: Records) -> dict[str, Confirmed]:
        """What a crashed run left: its vendor (by the number it chose, then the RFC); done when the portal names it."""
        found = {}
        for provider in items:
            vendor_id = self.sage.find_vendor(records[provider.id or ""].outside_id, provider.rfc or "")
            if vendor_id is None:
                continue
            self.existing[provider.id or ""] = vendor_id
            if (provider.external_id or "").strip().upper() == vendor_id.upper():
                found[provider.id or ""] = Confirmed(vendor_id, ids={"vendor_id": vendor_id}, counted="")
        if found and self.ctx.tenant.provider_id_optfield:
            # Not done while the vendor does not hold the provider's id (a re-link from the reconcile report):
            # built as an existing vendor, only PROVIDERID is written.
            held = self.sage.provider_ids_in_sage({self.existing[key] for key in found})
            items_by_id = {provider.id or "": provider for provider in items}
            found = {key: done for key, done in found.items() if held.get(self.existing[key]) == items_by_id[key].id}
        return found

    def build(self, items: list[ProviderResponse], records: Records,
              found: dict[str, Confirmed]) -> dict[str, Built | Failed | Waiting | Confirmed]:
        matches = self.sage.match_in_sage([p for p in items if (p.id or "") not in records])
        due = self.sage.provider_ids_in_sage(set(matches.values()) | set(self.existing.values()))
        built: dict[str, Built | Failed | Waiting | Confirmed] = {}
        for provider in items:
            try:
                plan = self.plan(provider, records.get(provider.id or ""), matches.get(provider.id or ""), due)
            except OUTSIDE_ERRORS as error:
                built[provider.id or ""] = Failed(str(error), permanent=isinstance(error, WebApiPermanentError))
                continue
            payload = plan.payload()
            if not any(payload.values()):
                built[provider.id or ""] = (Failed(plan.conflict, code=CONFLICT,
                                                   needs=Needs(Outbound.Attention.PERSON, CONFLICT, plan.conflict))
                                            if plan.conflict else Confirmed(plan.vendor_id, counted=""))
                continue
            portal_only = plan.vendor is None and not plan.provider_id_field
            built[provider.id or ""] = Built(
                payload, request=plan, outside_id=plan.vendor_id,
                action="create" if plan.vendor else ("match" if (provider.id or "") not in records else "link"),
                target="portal" if portal_only else "sage",
                label=(f"providers/{provider.id}/external-id" if portal_only else f"APVendors {plan.vendor_id}"
                       if plan.vendor else f"vendor {plan.vendor_id} {plan.provider_id_field}"))
        return built

    def plan(self, provider: ProviderResponse, record: Outbound | None, matched: str | None,
             provider_ids: dict[str, str]) -> Plan:
        existing = self.existing.get(provider.id or "")
        if record is not None and record.state == Outbound.State.CONFIRMED:
            plan = Plan(provider, record.outside_id)
        elif existing:
            plan = Plan(provider, existing, provider_id_field=self.due(existing, provider, provider_ids))
        elif record is not None and record.outside_id:
            number = record.outside_id
            if record.unconfirmed and self.sage.number_taken(number):
                number = self.numbers.next()  # someone else's vendor took our number meanwhile
            plan = Plan(provider, number, vendor=build_vendor(self.ctx.tenant, provider, number))
        elif matched:
            plan = Plan(provider, matched, provider_id_field=self.due(matched, provider, provider_ids))
        else:
            own = (provider.external_id or "").strip().upper()
            number = own if fits_vendor_id(own) else self.numbers.next()
            plan = Plan(provider, number, vendor=build_vendor(self.ctx.tenant, provider, number))
        current = (provider.external_id or "").strip()
        if current and current.upper() != plan.vendor_id.upper():
            plan.conflict = _("The portal provider %(provider)s (%(rfc)s) has external_id %(current)s, but its Sage "
                              "vendor is %(vendor)s: correct one side.") % {
                "provider": provider.id, "rfc": provider.rfc, "current": current, "vendor": plan.vendor_id}
        plan.set_external_id = not current
        return plan

    def due(self, vendor_id: str, provider: ProviderResponse, provider_ids: dict[str, str]) -> str:
        """PROVIDERID to write into an existing vendor, where it does not hold this provider's id yet."""
        return self.ctx.tenant.provider_id_optfield if provider_ids.get(vendor_id) != provider.id else ""

    def send(self, jobs: list[Job[ProviderResponse]]) -> dict[str, Result]:
        results: dict[str, Result] = {}
        tenant_problem: PortalAuthError | None = None
        for plan in OutsideCalls(self.ctx.tenant, self.portal).run([job.request for job in jobs]):
            self.ctx.heartbeat()
            if isinstance(plan.error, PortalAuthError):
                tenant_problem = plan.error
            results[plan.provider.id or ""] = self.settle(plan)
        if tenant_problem is not None:
            # The tenant's portal credentials: the step stops; what was made stays PENDING and is found next time.
            raise tenant_problem
        return results

    def settle(self, plan: Plan) -> Result:
        provider = plan.provider
        if plan.created:
            self.ctx.log(_("created Sage vendor %(vendor)s for provider %(provider)s (%(rfc)s)") % {
                "vendor": plan.vendor_id, "provider": provider.id, "rfc": provider.rfc})
        if plan.provider_id_error:
            # The record keeps the provider id either way; Sage's copy is a convenience for Sage users.
            self.ctx.log(_("Sage vendor %(vendor)s: %(field)s not written (%(error)s); the provider id is kept "
                           "in SageConnect's link.") % {"vendor": plan.vendor_id, "field": plan.provider_id_field,
                                                        "error": plan.provider_id_error})
        if plan.external_id_set:
            self.ctx.result.updated += 1
        if plan.error is not None:
            # Only Sage's own refusal of a vendor not made is final; an unknown outcome stays PENDING.
            permanent = isinstance(plan.error, WebApiPermanentError) and not plan.created
            return Failed(str(plan.error), permanent=permanent, outside_id=plan.vendor_id)
        if plan.conflict:
            return Failed(plan.conflict, code=CONFLICT, outside_id=plan.vendor_id,
                          needs=Needs(Outbound.Attention.PERSON, CONFLICT, plan.conflict))
        return Confirmed(plan.vendor_id, ids={"vendor_id": plan.vendor_id}, counted="created" if plan.created else "")
