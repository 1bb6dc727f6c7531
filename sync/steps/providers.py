"""Step 1, providers: every portal provider with an ACCEPTED expedient has a
Sage vendor, and both sides know each other's id.

Select: the portal's ACCEPTED providers (one paged read; the whole list, not
an expedientAcceptedFrom window, because a provider accepted long ago whose
vendor failed or whose external_id was cleared must still be seen). Providers
whose vendor link is confirmed and whose portal external_id is that VENDORID
cost nothing more.
Match: the portal's external_id when Sage has that VENDORID, else the RFC
(sync.sage.queries.vendors_by_rfc, wherever the tenant keeps it). A matched
vendor is never created again.
Send: a new vendor through the Web API (AP/APVendors) with APVENO PROVIDERID,
under a VendorNumber chosen once (sync.vendor_payload); then the portal's
external_id when the portal has none.
Record: SyncLink kind "vendor" (sage_key = VENDORID, portal_id = provider id).
A crash after the Web API created the vendor and before we recorded it leaves
the link PENDING; the rerun finds the vendor by VendorNumber or RFC first.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from sync import idempotence
from sync.crashpoints import crashpoint
from sync.models import SyncLink
from sync.portal.client import PortalClient
from sync.portal.errors import PortalError
from sync.portal.schemas import ProviderResponse
from sync.sage import queries
from sync.sage.values import trimmed
from sync.sage.webapi import APVendor, SageWebApi, WebApiError, WebApiPermanentError
from sync.steps.base import StepContext, StepResult
from sync.vendor_payload import VendorNumbers, build_vendor, fits_vendor_id, vendor_hash, vendors_by_id
from tenants.sage_db import sage_alias


KIND = SyncLink.Kind.VENDOR
RFC_CHUNK = 500
OUTSIDE_WORKERS = 4  # settings.PROVIDER_WORKERS overrides; 0 makes the calls in the step's own thread
OUTSIDE_ERRORS = (PortalError, WebApiError, ValueError)


def run(ctx: StepContext) -> StepResult:
    tenant = ctx.tenant
    alias = sage_alias(tenant)
    with PortalClient(tenant) as portal:
        listed = list(portal.iter_providers(status_expedient="ACCEPTED"))
        providers = [p for p in listed if p.id and p.rfc]
        if len(providers) < len(listed):
            # Matching and Sage's tax fields need an RFC; a foreign provider has only a tax_id.
            ctx.log(_("%(n)s accepted provider(s) have no RFC and were left out") % {"n": len(listed) - len(providers)})
        links = {link.portal_id: link for link in SyncLink.objects.filter(tenant=tenant, kind=KIND)}
        todo = [p for p in providers if not settled(p, links.get(p.id or ""))]
        ctx.result.skipped += len(providers) - len(todo)
        if todo:
            Providers(ctx, alias, portal, links).handle_all(todo)
    ctx.log(f"{len(providers)} accepted provider(s); {len(todo)} needed work")
    return ctx.result


def settled(provider: ProviderResponse, link: SyncLink | None) -> bool:
    return (link is not None and link.state == SyncLink.State.CONFIRMED
            and (provider.external_id or "") == link.sage_key)


@dataclass
class Job:
    """The outside calls one provider still needs, made off the step's thread; the results come back to it."""
    provider: ProviderResponse
    vendor_id: str
    link: SyncLink | None = None
    vendor: APVendor | None = None        # to create in Sage
    adopted: bool = False                 # matched to an existing Sage vendor this run
    provider_id_field: str = ""           # to write into an existing Sage vendor's optional field
    set_external_id: bool = False         # the portal provider has no external_id yet
    conflict: str = ""                    # external_id and Sage vendor disagree: reported once the rest is done
    created: bool = False
    external_id_set: bool = False
    provider_id_error: str = ""
    error: Exception | None = None


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

    def run(self, jobs: list[Job]) -> Iterator[Job]:
        """Each job once done, in the order they finish."""
        try:
            if not workers():
                yield from (self.call(job) for job in jobs)
                return
            with ThreadPoolExecutor(max_workers=workers(), thread_name_prefix="providers") as pool:
                for done in as_completed([pool.submit(self.call, job) for job in jobs]):
                    yield done.result()
        finally:
            for client in self.opened:
                client.close()

    def call(self, job: Job) -> Job:
        try:
            if job.vendor is not None:
                self.webapi().create_vendor(job.vendor)
                job.created = True
                crashpoint("providers:vendor_created")
            if job.provider_id_field:
                self.write_provider_id(self.webapi(), job)
            if job.adopted:
                crashpoint("providers:provider_id_recorded")
            if job.set_external_id and not job.conflict:
                self.portal_client().set_provider_external_id(job.provider.id or "", job.vendor_id)
                job.external_id_set = True
                crashpoint("providers:external_id_set")
        except OUTSIDE_ERRORS as error:
            job.error = error
        return job

    @staticmethod
    def write_provider_id(webapi: SageWebApi, job: Job) -> None:
        # FIELDS.md: a vendor's optional fields are VendorOptionalFieldValues[] (VendorNumber, OptionalField, Value).
        body = {"VendorOptionalFieldValues": [{"VendorNumber": job.vendor_id, "OptionalField": job.provider_id_field,
                                               "Value": job.provider.id}]}
        try:
            webapi.patch("AP/APVendors", job.vendor_id, body)
        except WebApiError as error:
            job.provider_id_error = error.code


def workers() -> int:
    return max(0, min(OUTSIDE_WORKERS, int(getattr(settings, "PROVIDER_WORKERS", OUTSIDE_WORKERS))))


class Providers:
    def __init__(self, ctx: StepContext, alias: str, portal: PortalClient, links: dict[str, SyncLink]) -> None:
        self.ctx, self.alias, self.portal, self.links = ctx, alias, portal, links
        self.tenant = ctx.tenant
        self._numbers: VendorNumbers | None = None
        self.provider_ids: dict[str, str] = {}

    @property
    def numbers(self) -> VendorNumbers:
        if self._numbers is None:
            self._numbers = VendorNumbers(self.alias, self.tenant)
        return self._numbers

    def handle_all(self, providers: list[ProviderResponse]) -> None:
        """Every database write in this thread; only the outside calls go to OutsideCalls."""
        matches = self.match_in_sage(providers)
        self.provider_ids = self.provider_ids_in_sage(set(matches.values()))
        jobs = []
        for provider in providers:
            try:
                job = self.plan(provider, matches.get(provider.id or ""))
            except OUTSIDE_ERRORS as error:
                self.fail(provider, str(error), permanent=isinstance(error, WebApiPermanentError))
                continue
            if job is not None:
                jobs.append(job)
        for job in OutsideCalls(self.tenant, self.portal).run(jobs):
            self.ctx.heartbeat()
            self.settle(job)

    def plan(self, provider: ProviderResponse, matched: str | None) -> Job | None:
        job = self.ensure_vendor(provider, matched)
        if job is None:
            return None
        self.plan_external_id(job)
        if self.ctx.dry_run or (job.vendor is None and not job.adopted and not job.set_external_id):
            if job.conflict:
                raise ValueError(job.conflict)
            return None
        return job

    def settle(self, job: Job) -> None:
        """Records what the outside calls of one provider did."""
        provider = job.provider
        if job.adopted:
            self.record(provider, job.vendor_id, action="match")
        if job.created:
            idempotence.confirm(self.ctx, job.link, portal_id=provider.id or "", action="create",
                                snapshot=job.vendor.payload())
            self.ctx.result.created += 1
            self.ctx.log(f"created Sage vendor {job.vendor_id} for provider {provider.id} ({provider.rfc})")
        if job.provider_id_error:
            # The link keeps the provider id either way; Sage's copy is a convenience for Sage users.
            self.ctx.log(_("Sage vendor %(vendor)s: %(field)s not written (%(error)s); the provider id is kept "
                           "in SageConnect's link.") % {"vendor": job.vendor_id, "field": job.provider_id_field,
                                                        "error": job.provider_id_error})
        if job.external_id_set:
            self.ctx.result.updated += 1
        if job.error is not None:
            # Only Sage's own refusal of the vendor is final; an unknown outcome stays PENDING.
            self.fail(provider, str(job.error), permanent=isinstance(job.error, WebApiPermanentError))
        elif job.conflict:
            self.fail(provider, job.conflict, permanent=False)

    # -- Sage side -------------------------------------------------------------

    def match_in_sage(self, providers: list[ProviderResponse]) -> dict[str, str]:
        """Provider id → the existing Sage VENDORID it stands for (external_id first, then RFC)."""
        external = {p.external_id.strip().upper() for p in providers if fits_vendor_id(p.external_id)}
        in_sage = {trimmed(v) for v in vendors_by_id(self.alias, self.tenant, vendor_ids=external)
                   .values_list("VENDORID", flat=True)} if external else set()
        by_rfc = self.vendors_by_rfc({p.rfc.strip().upper() for p in providers if p.rfc})
        matches: dict[str, str] = {}
        for provider in providers:
            own = (provider.external_id or "").strip().upper()
            if own in in_sage:
                matches[provider.id] = own
            elif by_rfc.get(provider.rfc.strip().upper()):
                matches[provider.id] = by_rfc[provider.rfc.strip().upper()][0]
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
            for row in queries.vendor_optional_fields(self.alias, self.tenant, vendor_ids=ordered[start:start + RFC_CHUNK]):
                if trimmed(row.OPTFIELD).upper() == field:
                    found[trimmed(row.VENDORID)] = trimmed(row.VALUE)
        return found

    def ensure_vendor(self, provider: ProviderResponse, matched: str | None) -> Job | None:
        link = self.links.get(provider.id or "")
        if link is not None and link.state == SyncLink.State.CONFIRMED:
            return Job(provider, link.sage_key)
        if link is not None and link.state == SyncLink.State.FAILED:
            if link.sent_hash == vendor_hash(link.sage_key, provider):
                self.ctx.result.skipped += 1  # refused as it stands: waits for a change or a person
                return None
            return self.create(provider, link.sage_key)
        if idempotence.needs_lookup(link):
            found = self.find_vendor(link.sage_key, provider.rfc or "")
            if found:
                return Job(provider, self.record(provider, found, action="create", link=link))
            if self.number_taken(link.sage_key):
                link.delete()  # someone else's vendor took our number meanwhile
                return self.create(provider, self.numbers.next())
            return self.create(provider, link.sage_key)
        if matched:
            return self.adopt(provider, matched)
        number = provider.external_id.strip().upper() if fits_vendor_id(provider.external_id) else self.numbers.next()
        return self.create(provider, number)

    def adopt(self, provider: ProviderResponse, vendor_id: str) -> Job:
        """An existing Sage vendor: link it, and give it PROVIDERID where the Web API lets us."""
        if self.ctx.dry_run:
            self.ctx.log(f"would link provider {provider.id} ({provider.rfc}) to existing Sage vendor {vendor_id}")
            return Job(provider, vendor_id)
        # Recorded once the outside calls are done (settle): a crash before then
        # leaves no link, so the rerun matches again and still writes PROVIDERID.
        due = self.provider_ids.get(vendor_id) != provider.id
        return Job(provider, vendor_id, adopted=True, provider_id_field=self.tenant.provider_id_optfield if due else "")

    def create(self, provider: ProviderResponse, vendor_number: str) -> Job | None:
        vendor = build_vendor(self.tenant, provider, vendor_number)
        if self.ctx.dry_run:
            self.ctx.would_send("sage", f"APVendors {vendor_number}", vendor.payload())
            return None
        link = self.pending_link(provider, vendor_number, vendor_hash(vendor_number, provider))
        return Job(provider, vendor_number, link=link, vendor=vendor)

    def pending_link(self, provider: ProviderResponse, vendor_number: str, content_hash: str) -> SyncLink:
        # Created with the provider id in the same insert: a rerun must find the
        # chosen number from the provider, whatever moment the crash came.
        SyncLink.objects.get_or_create(
            tenant_id=self.ctx.tenant_id, kind=KIND, sage_key=vendor_number,
            defaults={"portal_id": provider.id, "state": SyncLink.State.PENDING, "sent_hash": content_hash})
        link = idempotence.mark_pending(self.ctx, KIND, vendor_number, content_hash)
        self.links[provider.id or ""] = link
        crashpoint("providers:before_create")
        return link

    def record(self, provider: ProviderResponse, vendor_id: str, *, action: str, link: SyncLink | None = None) -> str:
        content_hash = vendor_hash(vendor_id, provider)
        with transaction.atomic():
            if link is not None and link.sage_key != vendor_id:
                link.delete()  # the number we meant to use; the vendor was found under another
                link = None
            link = link or self.pending_link(provider, vendor_id, content_hash)
            idempotence.confirm(self.ctx, link, portal_id=provider.id or "", action=action)
        self.links[provider.id or ""] = link
        return vendor_id

    # -- portal side -----------------------------------------------------------

    def plan_external_id(self, job: Job) -> None:
        provider, vendor_id = job.provider, job.vendor_id
        current = (provider.external_id or "").strip()
        if current.upper() == vendor_id.upper():
            return
        if current:
            job.conflict = _("The portal provider %(provider)s (%(rfc)s) has external_id %(current)s, but its Sage "
                             "vendor is %(vendor)s: correct one side.") % {
                "provider": provider.id, "rfc": provider.rfc, "current": current, "vendor": vendor_id}
            return
        if self.ctx.dry_run:
            self.ctx.would_send("portal", f"providers/{provider.id}/external-id", {"external_id": vendor_id})
            return
        job.set_external_id = True

    def fail(self, provider: ProviderResponse, error: str, *, permanent: bool) -> None:
        self.ctx.result.failed += 1
        self.ctx.log(f"provider {provider.id} ({provider.rfc}): {error}")
        if self.ctx.dry_run:
            return
        link = self.links.get(provider.id or "")
        if link is not None:
            # A refused create is FAILED (not tried again unchanged); anything else stays
            # PENDING so the rerun looks in Sage before it writes.
            idempotence.record_failure(self.ctx, link, action="create", error=error,
                                       permanent=permanent and link.state != SyncLink.State.CONFIRMED)
