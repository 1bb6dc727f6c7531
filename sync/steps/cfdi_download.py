"""Step 2, CFDI download: every portal CFDI of the tenant stored once, unaltered.

Select: the portal's INVOICE, CREDIT_NOTE and PAYMENT_CFDI documents that
reached the portal (createdFrom/createdUntil) from a few days before the last
finished window up to today — a supplier may upload today an invoice issued
weeks ago — plus, once a day, every one issued (from/to) in the tenant's
sweep window (cfdi_sweep_days), which catches anything a window missed and
refreshes the portal status of recent CFDIs; the two listings are merged by
UUID. Every CFDI whose earlier download failed is retried too.
Fetch: only UUIDs we do not hold yet (a stored original never changes, so a
held UUID costs no download), through each CFDI's pre-signed files URL, a
few at a time. Each worker thread has its own PortalClient: a client's
session and counters are not shared between threads.
Record: cfdi.services.store_cfdi — the original once, by sha256, with the
portal's metadata. A download that fails leaves a row whose problem says why,
retried next cycle; nothing else stops. The portal's status is applied to
every listed row (cfdi.portal_status): rejected or cancelled CFDIs are kept
from the import, and an imported one cancelled later needs a person — its
import record says so, with what to do in Sage, until the portal lifts it or
a person closes it; so does a second, different file for a UUID we hold.
Addenda: for a tenant with addenda on, each stored invoice gets its copy with
our Addenda (sync.cfdi_addenda); the original is never touched.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cfdi import portal_status
from cfdi.models import Cfdi, CfdiDownloadWindow, CfdiStatus
from cfdi.portal_status import after_import_problem, apply_portal_status, was_imported
from cfdi.services import store_cfdi, store_cfdis
from cfdi.storage import sha256_hex
from sageconnect.bulk import update_rows
from sageconnect.per_thread import PerThread
from sync.cfdi_addenda import make_addenda_copies
from sync.engine.context import StepContext, StepResult
from sync.engine.crashpoints import crashpoint
from sync.engine.outbox import Needs, clear_finding, raise_finding
from sync.models import Outbound
from sync.portal.client import PortalClient
from sync.portal.errors import PortalError
from sync.portal.schemas import CfdiExternResponse, CfdiType

CFDI_TYPES: tuple[CfdiType, ...] = ("INVOICE", "CREDIT_NOTE", "PAYMENT_CFDI")
OVERLAP_DAYS = 3
FIRST_WINDOW_DAYS = 90
SWEEP_EVERY = dt.timedelta(days=1)
# Threads fetching: as many as the tenant's adaptive window may grow to (settings.OUTSIDE_CALLS_PER_TENANT),
# which says how many calls are under way at once; settings.CFDI_DOWNLOAD_WORKERS overrides.
DOWNLOAD_FAILED = "download_failed"
# Files stored together: their rows in one transaction (a crash loses at most this many downloads, fetched
# again next cycle; the originals already written stay, content-addressed).
STORE_LOT = 50
TOO_LARGE = "too_large"  # cfdi.parsing's code for the same refusal
# No original yet, or one that never parsed: the rows `needs_download` is true of.
FAILED_DOWNLOAD = Q(sha256="") | Q(kind="", status=CfdiStatus.INVALID)
DIFFERENT_BYTES = "uuid_different_bytes"  # cfdi.services.different_bytes_problem


@dataclass
class PortalCfdi:
    cfdi_uuid: str
    portal_id: str
    metadata: dict


def run(ctx: StepContext) -> StepResult:
    tenant = ctx.tenant
    last = CfdiDownloadWindow.objects.filter(tenant=tenant).first()
    date_from, date_to = window(tenant, last)
    sweep = sweep_window(tenant, last)
    with PortalClient(tenant) as portal:
        listed = {item.cfdi_uuid: item for item in list_portal_cfdis(portal, created_from=date_from,
                                                                     created_until=date_to)}
        if sweep is not None:
            swept = list_portal_cfdis(portal, date_from=sweep[0], date_to=sweep[1])
            listed.update({item.cfdi_uuid: item for item in swept if item.cfdi_uuid not in listed})
    # One read: the listed CFDIs we hold, and the failed downloads dated outside the window.
    rows = list(Cfdi.objects.filter(Q(uuid__in=list(listed)) | FAILED_DOWNLOAD, tenant=tenant))
    held = {row.uuid: row for row in rows if row.uuid in listed}
    outside = [row for row in rows if row.uuid not in listed]
    to_fetch = [item for uuid, item in listed.items() if uuid not in held or needs_download(held[uuid])]
    to_fetch += retries_outside(outside)
    refresh_metadata(ctx, [(held[uuid], item.metadata) for uuid, item in listed.items()
                           if uuid in held and not needs_download(held[uuid])])
    if ctx.dry_run:
        ctx.log(_window_line(_("would download %(n)s CFDI(s) that reached the portal %(from)s – %(to)s"),
                             _("would download %(n)s CFDI(s) that reached the portal %(from)s – %(to)s or were "
                               "issued %(issued_from)s – %(issued_to)s"), len(to_fetch), date_from, date_to, sweep))
        return ctx.result
    known = {row.uuid for row in rows}  # a failed download's row is replaced one by one (keep)
    fresh: list[tuple[PortalCfdi, bytes]] = []
    for item, xml_bytes, error in fetch_all(tenant, to_fetch, ctx):
        if xml_bytes is None or item.cfdi_uuid in known:
            keep(ctx, item, xml_bytes, error)
            continue
        # Not held: stored with the others in lots, a few queries a lot rather than a few a file.
        fresh.append((item, xml_bytes))
        if len(fresh) == STORE_LOT:
            keep_new(ctx, fresh)
            fresh = []
    keep_new(ctx, fresh)
    if tenant.addenda_required:
        make_addenda_copies(ctx)
    remember_window(tenant, last, date_from, date_to, swept=sweep is not None or last is None)
    ctx.log(_window_line(_("%(n)s CFDI(s) reached the portal %(from)s – %(to)s; %(fetched)s downloaded or retried"),
                         _("%(n)s CFDI(s) reached the portal %(from)s – %(to)s or were issued %(issued_from)s – "
                           "%(issued_to)s; %(fetched)s downloaded or retried"),
                         len(listed), date_from, date_to, sweep, fetched=len(to_fetch)))
    return ctx.result


def _window_line(plain: str, swept: str, n: int, date_from, date_to, sweep, **more) -> str:
    values = {"n": n, "from": date_from, "to": date_to, **more}
    if sweep:
        return swept % {**values, "issued_from": sweep[0], "issued_to": sweep[1]}
    return plain % values


def window(tenant, last: CfdiDownloadWindow | None) -> tuple[dt.date, dt.date]:
    """Days the CFDIs to list reached the portal: from a few days before the last window's end to today."""
    today = timezone.localdate()
    if last is not None:
        return min(last.last_to, today) - dt.timedelta(days=OVERLAP_DAYS), today
    return tenant.start_date or today - dt.timedelta(days=FIRST_WINDOW_DAYS), today


def sweep_window(tenant, last: CfdiDownloadWindow | None) -> tuple[dt.date, dt.date] | None:
    """Issue dates of the daily sweep, or None when today's sweep is done (or the first window covers it)."""
    today = timezone.localdate()
    if last is not None and last.swept_on is not None and today - last.swept_on < SWEEP_EVERY:
        return None
    since = today - dt.timedelta(days=tenant.cfdi_sweep_days)
    since = max(since, tenant.start_date or since)
    if last is None and window(tenant, last)[0] <= since:
        # A CFDI reaches the portal on or after its issue date: the first window, by arrival
        # from an earlier day, already lists everything the sweep would.
        return None
    return since, today


def remember_window(tenant, last: CfdiDownloadWindow | None, date_from: dt.date, date_to: dt.date, *,
                    swept: bool) -> None:
    swept_on = timezone.localdate() if swept else (last.swept_on if last else None)
    if last is None:
        CfdiDownloadWindow.objects.create(tenant=tenant, last_from=date_from, last_to=date_to, swept_on=swept_on)
    elif (last.last_from, last.last_to, last.swept_on) != (date_from, date_to, swept_on):
        # The same window again, no sweep: nothing to write.
        last.last_from, last.last_to, last.swept_on = date_from, date_to, swept_on
        last.save(update_fields=["last_from", "last_to", "swept_on", "updated"])


def list_portal_cfdis(portal: PortalClient, *, date_from: dt.date | None = None, date_to: dt.date | None = None,
                      created_from: dt.date | None = None, created_until: dt.date | None = None,
                      ) -> Iterator[PortalCfdi]:
    """The portal's CFDIs of the types we keep, for the given iter_cfdis date filters."""
    for cfdi_type in CFDI_TYPES:
        for item in portal.iter_cfdis(cfdi_type=cfdi_type, date_from=date_from, date_to=date_to,
                                      created_from=created_from, created_until=created_until):
            if item.cfdi_uuid and item.id:
                yield PortalCfdi(item.cfdi_uuid, item.id, portal_metadata(item))


def portal_metadata(item: CfdiExternResponse) -> dict:
    metadata = item.metadata.model_dump(mode="json", exclude_none=True) if item.metadata else {}
    return {**metadata, "uuid": item.cfdi_uuid, "portal_cfdi_id": item.id}


def needs_download(row: Cfdi) -> bool:
    """No original yet (its download failed), or one that never parsed (maybe cut short)."""
    return not row.sha256 or (not row.kind and row.status == CfdiStatus.INVALID)


def retries_outside(rows: list[Cfdi]) -> list[PortalCfdi]:
    """Failed and unreadable downloads dated outside this cycle's window are retried too."""
    return [PortalCfdi(row.uuid, row.portal_metadata.get("portal_cfdi_id", ""), row.portal_metadata)
            for row in rows if row.portal_metadata.get("portal_cfdi_id")]


def refresh_metadata(ctx: StepContext, held: list[tuple[Cfdi, dict]]) -> None:
    """The portal's metadata (and what its status means for the import) merged into the held rows;
    only rows it changes are written, in one UPDATE."""
    changed = []
    for row, metadata in held:
        merged = {**row.portal_metadata, **metadata}
        if ctx.dry_run:
            ctx.result.skipped += 1
            continue
        moved = merged != row.portal_metadata
        row.portal_metadata = merged
        if not (apply_portal_status(row) | moved):
            ctx.result.skipped += 1
            continue
        row.updated = timezone.now()
        changed.append(row)
    update_rows(changed, ["portal_metadata", "problems", "status", "updated"])
    ctx.result.updated += len(changed)
    if not changed:
        return
    # One read for the findings there may be to lift, not a locked read per row: most rows have none.
    findings = set(Outbound.objects.filter(
        tenant_id=ctx.tenant_id, kind=Outbound.Kind.CFDI_IMPORT, key__in=[row.uuid for row in changed],
        reason_code=portal_status.AFTER_IMPORT).exclude(attention="").values_list("key", flat=True))
    for row in changed:
        # After the rows are written: the engine keeps their status in step.
        note_portal_status(ctx, row, finding=row.uuid in findings)


def note_portal_status(ctx: StepContext, row: Cfdi, *, finding: bool = True) -> None:
    """A CFDI the portal refuses, in the run log: kept from the import, or needing a person. `finding`: whether
    its import record may hold a finding about it to lift."""
    for problem in row.problems:
        if problem.get("code") in portal_status.CODES:
            ctx.log(_("CFDI %(uuid)s: %(message)s") % {"uuid": row.uuid, "message": problem.get("message", "")})
    if not was_imported(row):
        return
    refused = after_import_problem(row)
    if refused is None:
        if not finding:
            return  # nothing was raised for it: nothing to lift
        clear_finding(ctx.tenant_id, Outbound.Kind.CFDI_IMPORT, row.uuid, portal_status.AFTER_IMPORT,
                      note=_("The portal no longer refuses it."))
    elif raise_finding(ctx.tenant_id, Outbound.Kind.CFDI_IMPORT, row.uuid,
                       Needs(Outbound.Attention.PERSON, portal_status.AFTER_IMPORT, refused.get("message", "")),
                       run_id=ctx.run_id, step=ctx.step):
        ctx.result.failed += 1  # a person must act in Sage: said once, when it happened


def note_different_bytes(ctx: StepContext, row: Cfdi) -> None:
    """A second, different file for a UUID we hold: a person must ask the supplier which one SAT stamped."""
    problem = next((p for p in row.problems if p.get("code") == DIFFERENT_BYTES), None)
    if problem is not None:
        raise_finding(ctx.tenant_id, Outbound.Kind.CFDI_IMPORT, row.uuid,
                      Needs(Outbound.Attention.PERSON, DIFFERENT_BYTES, problem.get("message", "")),
                      run_id=ctx.run_id, step=ctx.step)


def own_problems(row: Cfdi) -> list[dict]:
    """The row's problems other than the portal's refusal of it."""
    return [p for p in row.problems if p.get("code") not in portal_status.CODES]


def fetch_all(
    tenant, items: list[PortalCfdi], ctx: StepContext,
) -> Iterator[tuple[PortalCfdi, bytes | None, str | PortalError]]:
    """(item, bytes, "") or (item, None, reason), in order; at most download_workers() at once."""
    clients = PerThread(lambda: PortalClient(tenant))

    def fetch(item: PortalCfdi) -> tuple[PortalCfdi, bytes | None, str | PortalError]:
        try:
            return item, clients.get().download_cfdi_xml(item.portal_id), ""
        except PortalError as error:
            return item, None, error

    workers = download_workers()
    try:
        if workers == 0:
            for item in items:
                ctx.heartbeat()
                yield fetch(item)
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cfdi-download") as pool:
            for done in pool.map(fetch, items):
                ctx.heartbeat()
                yield done
    finally:
        clients.close()


def download_workers() -> int:
    """Threads fetching at once; 0 fetches in the step's own thread, one at a time."""
    return max(0, int(getattr(settings, "CFDI_DOWNLOAD_WORKERS", settings.OUTSIDE_CALLS_PER_TENANT)))


def keep(ctx: StepContext, item: PortalCfdi, xml_bytes: bytes | None, error: str | PortalError) -> None:
    tenant = ctx.tenant
    if xml_bytes is None:
        record_download_failure(tenant, item, error)
        ctx.log(_("CFDI %(uuid)s: %(message)s") % {"uuid": item.cfdi_uuid, "message": error})
        ctx.result.failed += 1
        return
    with transaction.atomic():
        earlier = Cfdi.objects.select_for_update().filter(tenant=tenant, uuid=item.cfdi_uuid).first()
        if earlier is not None and earlier.sha256 == sha256_hex(xml_bytes):
            ctx.result.failed += 1 if own_problems(earlier) else 0
            return
        if earlier is not None:
            # A failed or unreadable download is no original: the new bytes replace
            # its row (the unreadable bytes themselves stay in storage).
            earlier.delete()
        crashpoint("cfdi_download:downloaded")
        cfdi = store_cfdi(tenant, xml_bytes, item.metadata)
        if apply_portal_status(cfdi):
            cfdi.save(update_fields=["problems", "status", "updated"])
    counted(ctx, cfdi, new=earlier is None)


def keep_new(ctx: StepContext, fresh: list[tuple[PortalCfdi, bytes]]) -> None:
    """CFDIs this cycle's read found no row for, stored together (cfdi.services.store_cfdis)."""
    if not fresh:
        return
    crashpoint("cfdi_download:downloaded")
    for cfdi in store_cfdis(ctx.tenant, [(xml_bytes, item.metadata) for item, xml_bytes in fresh]):
        if apply_portal_status(cfdi):
            cfdi.save(update_fields=["problems", "status", "updated"])
        counted(ctx, cfdi, new=True)


def counted(ctx: StepContext, cfdi: Cfdi, *, new: bool) -> None:
    """A stored CFDI in the run log and the step's counts."""
    note_different_bytes(ctx, cfdi)
    if cfdi.problems:
        ctx.log(_("CFDI %(uuid)s: %(message)s") % {
            "uuid": cfdi.uuid, "message": "; ".join(p.get("message", "") for p in cfdi.problems)})
    if cfdi.status == CfdiStatus.INVALID and own_problems(cfdi):
        ctx.result.failed += 1
    elif not new:
        # Rejected or cancelled on the portal is the portal's decision, not a failed download.
        ctx.result.updated += 1
    else:
        ctx.result.created += 1


def record_download_failure(tenant, item: PortalCfdi, error: str | PortalError) -> None:
    # A file over the size cap is cut while downloading (sync/portal/files.py): it keeps the parser's own code.
    code = TOO_LARGE if getattr(error, "code", None) == TOO_LARGE else DOWNLOAD_FAILED
    problem = {"code": code, "message": _(
        "The XML could not be downloaded from the portal (%(error)s); it is tried again next cycle.")
        % {"error": str(error)[:300]}}
    if Cfdi.objects.filter(tenant=tenant, uuid=item.cfdi_uuid).exclude(sha256="").exists():
        return  # an unreadable original is already there, with its own reason
    Cfdi.objects.update_or_create(
        tenant=tenant, uuid=item.cfdi_uuid,
        defaults={"sha256": "", "status": CfdiStatus.DOWNLOADED, "problems": [problem],
                  "portal_metadata": item.metadata},
    )
