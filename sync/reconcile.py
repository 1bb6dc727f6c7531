"""The reconcile report: where Sage and the portal disagree for one tenant, and the fix each difference takes.

A pure read pass. Each side is read in bulk — a fixed handful of Sage queries
and database queries per kind, and paged portal list calls — and compared in
memory, so the query count does not grow with the number of records checked:

- providers: the portal's ACCEPTED providers (one paged list) against every
  Sage vendor id and every vendor's PROVIDERID optional field: accepted
  without a Sage vendor (re-send: the provider's vendor record is tried
  again, and the providers step makes or finds the vendor), or a vendor whose
  PROVIDERID is not the provider's id (re-link: the providers step writes it);
- purchase orders: every eligible Sage PO (sync.po_state.read_all_pos)
  against the portal's POs as it holds them now (list_1, paged) — missing
  from the portal, a status that differs, a total or lines that differ
  (re-send);
- CFDIs: the portal's CFDIs (one paged list per type we keep) against those
  stored here and the UUIDs Sage holds (FOLIOCFD of posted documents and of
  invoice entries not posted yet) — on the portal and not stored here, stored and not in
  Sage, in Sage twice, in Sage with a UUID the portal does not know (mark
  resolved: these are a person's to settle; invoices keyed without a UUID
  are matching's job, /matches/);
- payments: every posted Sage payment against the portal's own answer for
  it now (getPayment by our external id, one call each, in threads under the
  tenant's adaptive window) — missing (re-send) or with another amount (mark
  resolved: the portal's spec has no way to change a payment). The spec has
  no list of payments, so this area's outside calls grow with the payments
  checked; its SQL does not.

The fixes never write Sage or the portal: re-send and re-link put the
object's outbound record back to PENDING — "an earlier write may or may not
have landed" — so the next cycle's exporter asks the outside system by our
own key and sends only what is missing, as it does after a crash
(sync.engine.exporter). Mark resolved stores a ReconcileAck with the hash of
the facts: the difference is not shown again until those facts change.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cfdi.models import Cfdi
from sageconnect.per_thread import PerThread
from sync import projections
from sync.engine.outbox import set_needs
from sync.models import Outbound, OutboundAttempt, Payment, ReconcileAck
from sync.po_payload import PoPayloadError, build_order
from sync.po_state import FINAL_STATUS, condition, ineligibility, read_all_pos
from sync.portal.client import PortalClient
from sync.portal.errors import PortalError, PortalNotFoundError
from sync.portal.schemas import ExternalPaymentResponse, PurchaseOrderCoreResponse
from sync.sage import queries
from sync.sage.values import trimmed, uuid_key
from sync.steps.cfdi_download import CFDI_TYPES
from tenants.models import Tenant
from tenants.sage_db import SageDatabaseUnavailable, sage_alias

RESEND, RELINK, RESOLVE = "resend", "relink", "resolve"
FIXES = (RESEND, RELINK, RESOLVE)
FIX_LABELS = {RESEND: gettext_lazy("Re-send"), RELINK: gettext_lazy("Re-link"),
              RESOLVE: gettext_lazy("Mark resolved")}
AREAS = ("providers", "pos", "cfdis", "payments")
AREA_LABELS = {"providers": gettext_lazy("Providers"), "pos": gettext_lazy("Purchase orders"),
               "cfdis": gettext_lazy("CFDIs"), "payments": gettext_lazy("Payments")}


def fix_outcome(fix: str) -> str:
    """What a fix did, in one sentence with %(key)s."""
    if fix == RESOLVE:
        return _("%(key)s marked resolved: not shown again until its facts change.")
    return _("%(key)s goes out again with the next cycle, through its outbound record.")

# kind → (area, outbound kind its fixes move, short label)
KINDS: dict[str, tuple[str, str, Any]] = {
    "provider_without_vendor": ("providers", Outbound.Kind.VENDOR, gettext_lazy("provider without a Sage vendor")),
    "provider_id_mismatch": ("providers", Outbound.Kind.VENDOR, gettext_lazy("PROVIDERID differs")),
    "po_missing": ("pos", Outbound.Kind.PO, gettext_lazy("PO missing from the portal")),
    "po_status": ("pos", Outbound.Kind.PO_STATUS, gettext_lazy("PO status differs")),
    "po_total": ("pos", Outbound.Kind.PO, gettext_lazy("PO total differs")),
    "po_lines": ("pos", Outbound.Kind.PO, gettext_lazy("PO lines differ")),
    "cfdi_not_stored": ("cfdis", Outbound.Kind.CFDI_IMPORT, gettext_lazy("CFDI not stored here")),
    "cfdi_not_in_sage": ("cfdis", Outbound.Kind.CFDI_IMPORT, gettext_lazy("CFDI not in Sage")),
    "cfdi_twice_in_sage": ("cfdis", Outbound.Kind.CFDI_IMPORT, gettext_lazy("CFDI in Sage twice")),
    "cfdi_unknown_to_portal": ("cfdis", Outbound.Kind.CFDI_IMPORT, gettext_lazy("UUID the portal does not know")),
    "payment_missing": ("payments", Outbound.Kind.PAYMENT, gettext_lazy("payment missing from the portal")),
    "payment_amount": ("payments", Outbound.Kind.PAYMENT, gettext_lazy("payment amount differs")),
}


class ReconcileError(Exception):
    """Sage or the portal could not be read: one sentence naming the server."""


@dataclass
class Difference:
    kind: str
    key: str
    what: str
    sage: dict[str, str] = field(default_factory=dict)
    portal: dict[str, str] = field(default_factory=dict)
    fixes: tuple[str, ...] = (RESOLVE,)
    relink_to: str = ""     # re-link: the Sage vendor the provider's record is to name

    @property
    def fingerprint(self) -> str:
        text = json.dumps([self.kind, self.key, self.sage, self.portal], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def area(self) -> str:
        return KINDS[self.kind][0]

    @property
    def label(self) -> str:
        return str(KINDS[self.kind][2])

    @property
    def fix_choices(self) -> list[tuple[str, str]]:
        return [(fix, str(FIX_LABELS[fix])) for fix in self.fixes]

    def as_json(self) -> dict[str, Any]:
        found = asdict(self)
        found.pop("relink_to")
        found["fixes"] = list(self.fixes)
        found["area"] = self.area
        found["fingerprint"] = self.fingerprint
        return found


@dataclass
class Report:
    tenant: Tenant
    differences: list[Difference]
    checked: dict[str, int]
    acknowledged: int
    seconds: float
    area_seconds: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"tenant": self.tenant.code, "checked": self.checked, "acknowledged": self.acknowledged,
                "seconds": round(self.seconds, 3), "area_seconds": self.area_seconds,
                "differences": [d.as_json() for d in self.differences]}

    def by_area(self) -> list[tuple[str, list[Difference]]]:
        return [(area, [d for d in self.differences if d.area == area]) for area in AREAS]


# --- the read pass ----------------------------------------------------------------------------

def reconcile(tenant: Tenant, areas: Iterable[str] = AREAS) -> Report:
    """The differences of `areas` (all by default)."""
    started = time.monotonic()
    try:
        alias = sage_alias(tenant)
    except SageDatabaseUnavailable as error:
        raise ReconcileError(_("Sage's database at %(server)s could not be read: %(error)s") % {
            "server": tenant.sage_db_host or "127.0.0.1", "error": error}) from error
    try:
        portal = PortalClient(tenant)
    except PortalError as error:
        raise ReconcileError(_("The portal at %(server)s could not be read: %(error)s") % {
            "server": tenant.portal_url or "—", "error": error}) from error
    records = _records(tenant)
    checked: dict[str, int] = {}
    found: list[Difference] = []
    seconds: dict[str, float] = {}
    wanted = set(areas)
    # The slow portal reads start first, in threads: they wait on the network while this thread reads Sage
    # and compares.
    reads = PortalReads(tenant)
    try:
        if "pos" in wanted:
            reads.start_purchase_orders()   # first: one thread pages through it while the others ask for payments
        payments: list = []
        if "payments" in wanted:
            payments = _sage_read(tenant, lambda: _posted_payments(tenant, alias))
            reads.start_payments([trimmed(row.DOCNBR) for row in payments])
        readers = {"providers": lambda: _providers(tenant, alias, portal, records, checked),
                   "pos": lambda: _pos(tenant, alias, reads, records, checked),
                   "cfdis": lambda: _cfdis(tenant, alias, portal, records, checked),
                   "payments": lambda: _payments(payments, reads, records, checked)}
        for area, read in readers.items():
            if area not in wanted:
                continue
            began = time.monotonic()
            found += _sage_read(tenant, read)
            seconds[area] = round(time.monotonic() - began, 3)
    except PortalError as error:
        raise ReconcileError(_("The portal at %(server)s could not be read: %(error)s") % {
            "server": tenant.portal_url or "—", "error": error}) from error
    finally:
        portal.close()
        reads.close()
    acks = {(a.kind, a.key): a.fingerprint for a in ReconcileAck.objects.filter(tenant=tenant)}
    shown = [d for d in found if acks.get((d.kind, d.key)) != d.fingerprint]
    return Report(tenant, shown, checked, len(found) - len(shown), time.monotonic() - started, seconds)


def _sage_read(tenant: Tenant, read):
    try:
        return read()
    except DatabaseError as error:
        raise ReconcileError(_("Sage's database at %(server)s could not be read: %(error)s") % {
            "server": tenant.sage_db_host or "127.0.0.1", "error": str(error).splitlines()[0][:200]}) from error


def _records(tenant: Tenant) -> dict[tuple[str, str], Outbound]:
    """Every outbound record of the kinds compared: one query."""
    kinds = {kind for _area, kind, _label in KINDS.values()}
    return {(r.kind, r.key): r for r in Outbound.objects.filter(tenant=tenant, kind__in=kinds)}


def _providers(tenant, alias, portal, records, checked) -> list[Difference]:
    providers = [p for p in portal.iter_providers(status_expedient="ACCEPTED") if p.id and p.rfc]
    checked["providers"] = len(providers)
    vendors = {trimmed(v).upper() for v in queries.all_vendor_ids(alias, tenant)}
    field_name = tenant.provider_id_optfield
    held = {trimmed(r.VENDORID).upper(): trimmed(r.VALUE)
            for r in queries.vendor_optional_field_values(alias, tenant, optfield=field_name)} if field_name else {}
    found = []
    for provider in providers:
        record = records.get((Outbound.Kind.VENDOR, provider.id or ""))
        linked = ((record.outside_id if record and record.outside_id else "") or provider.external_id or "")
        linked = linked.strip().upper()
        portal_facts = {"provider": provider.id or "", "rfc": provider.rfc or "",
                        "external_id": provider.external_id or ""}
        if not linked or linked not in vendors:
            found.append(Difference(
                "provider_without_vendor", provider.id or "",
                _("Provider %(name)s (%(rfc)s) is accepted on the portal and has no Sage vendor%(linked)s.") % {
                    "name": provider.name or provider.id, "rfc": provider.rfc,
                    "linked": (_(" (it names %(vendor)s, which Sage does not have)") % {"vendor": linked})
                    if linked else ""} + ((" " + record.last_error) if record and record.last_error else ""),
                sage={"vendor": ""}, portal=portal_facts, fixes=(RESEND, RESOLVE)))
        elif field_name and held.get(linked, "") != provider.id:
            found.append(Difference(
                "provider_id_mismatch", provider.id or "",
                _("Sage vendor %(vendor)s holds %(field)s %(value)s, not the portal provider's id %(provider)s.") % {
                    "vendor": linked, "field": field_name, "value": held.get(linked) or "—",
                    "provider": provider.id},
                sage={"vendor": linked, field_name: held.get(linked, "")}, portal=portal_facts,
                fixes=(RELINK, RESOLVE), relink_to=linked))
    return found


def _money(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(Decimal("0.01")) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _lines(payload: dict) -> dict[str, tuple[Decimal | None, Decimal | None]]:
    return {str(line.get("external_id")): (_money(line.get("quantity")), _money(line.get("price")))
            for line in payload.get("lines") or []}


def _pos(tenant, alias, reads: PortalReads, records, checked) -> list[Difference]:
    pos = read_all_pos(alias, tenant)
    checked["pos"] = len(pos)
    # What the portal holds now (list_1, paged), not what it once confirmed: a PO deleted or changed
    # there behind our back shows.
    on_portal = reads.purchase_orders()
    found = []
    for po in pos:
        if ineligibility(po, tenant):
            continue  # every line in a skipped location: never sent
        record = records.get((Outbound.Kind.PO, po.po_number))
        state = condition(po)
        final = FINAL_STATUS.get(state)
        sage_facts = {"po": po.po_number, "vendor": po.vendor_id, "condition": state.value}
        held = on_portal.get(po.po_number)
        if held is None:
            if final and record is None:
                continue  # cancelled or closed before it ever reached the portal: not to be sent
            found.append(Difference(
                "po_missing", po.po_number,
                _("PO %(po)s of vendor %(vendor)s is in Sage and not on the portal%(why)s.") % {
                    "po": po.po_number, "vendor": po.vendor_id,
                    "why": (": " + record.reason) if record is not None and record.reason else ""},
                sage=sage_facts, portal={"state": record.state if record else ""}, fixes=(RESEND, RESOLVE)))
            continue
        portal_status = held.status or ""
        if (final or "OPEN") != portal_status:
            found.append(Difference(
                "po_status", po.po_number,
                _("PO %(po)s is %(sage)s in Sage and %(portal)s on the portal.") % {
                    "po": po.po_number, "sage": final or "OPEN", "portal": portal_status or "—"},
                sage={**sage_facts, "status": final or "OPEN"}, portal={"status": portal_status},
                fixes=(RESEND, RESOLVE) if final else (RESOLVE,)))
            continue
        if final:
            continue  # closed or cancelled on both sides: its lines no longer move
        try:
            order = build_order(po, tenant).to_json()
        except PoPayloadError:
            continue  # the PO step reports it on the attention page
        total, portal_total = _money(order.get("total")), _money(held.total)
        if total != portal_total:
            found.append(Difference(
                "po_total", po.po_number,
                _("PO %(po)s totals %(sage)s in Sage and %(portal)s on the portal.") % {
                    "po": po.po_number, "sage": total, "portal": portal_total},
                sage={**sage_facts, "total": str(total)}, portal={"total": str(portal_total)},
                fixes=(RESEND, RESOLVE)))
        ours = _lines(order)
        theirs = _lines({"lines": [line.model_dump() for line in held.lines]})
        if ours != theirs:
            changed = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
            found.append(Difference(
                "po_lines", po.po_number,
                _("PO %(po)s: lines %(lines)s differ between Sage and the portal (quantity or price).") % {
                    "po": po.po_number, "lines": ", ".join(changed)},
                sage={**sage_facts, "lines": json.dumps({k: [str(v) for v in ours.get(k, ())] for k in changed})},
                portal={"lines": json.dumps({k: [str(v) for v in theirs.get(k, ())] for k in changed})},
                fixes=(RESEND, RESOLVE)))
    return found


def _cfdis(tenant, alias, portal, records, checked) -> list[Difference]:
    on_portal: dict[str, str] = {}
    for cfdi_type in CFDI_TYPES:
        for item in portal.iter_cfdis(cfdi_type=cfdi_type):
            if item.cfdi_uuid and item.id:
                on_portal[item.cfdi_uuid] = item.id
    stored = {row["uuid"]: row for row in Cfdi.objects.filter(tenant=tenant).values("uuid", "kind", "status",
                                                                                     "issuer_rfc")}
    posted: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for row in queries.all_posted_folios(alias, tenant):
        posted[uuid_key(row.VALUE)].add((trimmed(row.IDVEND), trimmed(row.IDINVC)))
    entries: dict[str, set[tuple[int, int]]] = defaultdict(set)
    for row in queries.all_entry_folios(alias, tenant):
        entries[uuid_key(row.VALUE)].add((int(row.CNTBTCH), int(row.CNTITEM)))
    checked["cfdis"] = len(set(on_portal) | set(stored))
    found = []
    for uuid, portal_id in sorted(on_portal.items()):
        if uuid not in stored:
            found.append(Difference("cfdi_not_stored", uuid, _(
                "CFDI %(uuid)s is on the portal and not stored here: the next download sweep fetches it (or run "
                "`cfdi download`).") % {"uuid": uuid}, portal={"id": portal_id}))
    importable = {"I", "E"}
    for uuid, row in sorted(stored.items()):
        in_sage = bool(posted.get(uuid) or entries.get(uuid))
        record = records.get((Outbound.Kind.CFDI_IMPORT, uuid))
        if row["kind"] in importable and not in_sage and record is not None \
                and record.state == Outbound.State.CONFIRMED:
            found.append(Difference("cfdi_not_in_sage", uuid, _(
                "CFDI %(uuid)s (%(rfc)s) is recorded as imported and Sage has no document with this UUID.") % {
                "uuid": uuid, "rfc": row["issuer_rfc"]}, sage={"documents": ""},
                portal={"id": on_portal.get(uuid, ""), "status": row["status"]}))
    for uuid in sorted(set(posted) | set(entries)):
        documents, batch_entries = posted.get(uuid, set()), entries.get(uuid, set())
        # Posted documents and entries not posted yet: a posted entry is only its document, so one invoice
        # counts once whether posted or not, and a UUID typed again into a new entry counts twice.
        if len(documents) + len(batch_entries) > 1:
            found.append(Difference("cfdi_twice_in_sage", uuid, _(
                "CFDI %(uuid)s is in Sage more than once: %(where)s. Reverse or delete the extra document in "
                "Sage.") % {"uuid": uuid, "where": _where(documents, batch_entries)},
                sage={"documents": _where(documents, batch_entries)}))
        if uuid not in on_portal:
            found.append(Difference("cfdi_unknown_to_portal", uuid, _(
                "Sage holds UUID %(uuid)s (%(where)s) and the portal has no CFDI with it: check the UUID typed "
                "into Sage.") % {"uuid": uuid, "where": _where(documents, batch_entries)},
                sage={"documents": _where(documents, batch_entries)}, portal={"id": ""}))
    return found


def _where(documents: Iterable[tuple[str, str]], entries: Iterable[tuple[int, int]]) -> str:
    return ", ".join([f"{vendor} {invoice}" for vendor, invoice in sorted(documents)]
                     + [_("batch %(batch)s entry %(entry)s") % {"batch": b, "entry": e} for b, e in sorted(entries)])


def _posted_payments(tenant, alias) -> list:
    # Reversed in Sage (payment check, APPYM): not to be on the portal at all.
    reversed_ = set(Payment.objects.filter(tenant=tenant, state=Payment.State.REVERSED)
                    .values_list("docnbr", flat=True))
    return [row for row in queries.all_posted_payments(alias, tenant) if trimmed(row.DOCNBR) not in reversed_]


def _payments(payments: list, reads: PortalReads, records, checked) -> list[Difference]:
    checked["payments"] = len(payments)
    held = reads.payments()
    found = []
    for row in payments:
        docnbr, amount = trimmed(row.DOCNBR), _money(row.AMTRMITTC)
        record = records.get((Outbound.Kind.PAYMENT, docnbr))
        sage_facts = {"payment": docnbr, "vendor": trimmed(row.IDVEND), "amount": str(amount)}
        on_portal = held.get(docnbr)
        if on_portal is None:
            waits = record is not None and record.state == Outbound.State.WAITING
            found.append(Difference("payment_missing", docnbr, _(
                "Payment %(docnbr)s of %(vendor)s for %(amount)s is posted in Sage and the portal does not have "
                "it%(why)s.") % {"docnbr": docnbr, "vendor": trimmed(row.IDVEND), "amount": amount,
                                 "why": (": " + record.reason) if record and record.reason else ""},
                sage=sage_facts, portal={"state": record.state if record else ""},
                fixes=(RESOLVE,) if waits else (RESEND, RESOLVE)))
            continue
        sent = _money(on_portal.total_amount)
        if sent != amount:
            found.append(Difference("payment_amount", docnbr, _(
                "Payment %(docnbr)s is %(sage)s in Sage and %(portal)s on the portal; the portal cannot change a "
                "payment: reject it there and re-send.") % {"docnbr": docnbr, "sage": amount, "portal": sent},
                sage=sage_facts, portal={"id": on_portal.id or "", "amount": str(sent)}))
    return found


class PortalReads:
    """The portal reads that take longest — the PO list (list_1, page by page) and one getPayment per posted
    payment (by our external id; the spec has no list of payments) — run in threads from the report's start.
    Each thread has its own PortalClient (a client is not shared between threads); how many calls are under
    way at once is the tenant's adaptive window's to say (sageconnect.outside_calls). A read that failed
    raises its PortalError where its result is taken."""

    def __init__(self, tenant: Tenant) -> None:
        self.clients = PerThread(lambda: PortalClient(tenant))
        self.pool = ThreadPoolExecutor(max_workers=max(2, settings.OUTSIDE_CALLS_PER_TENANT),
                                       thread_name_prefix="reconcile-portal")
        self.po_list: Future | None = None
        self.payment_answers: dict[str, Future] = {}

    def start_purchase_orders(self) -> None:
        self.po_list = self.pool.submit(
            lambda: {item.external_id: item for item in self.clients.get().iter_purchase_orders() if item.external_id})

    def purchase_orders(self) -> dict[str, PurchaseOrderCoreResponse]:
        if self.po_list is None:
            self.start_purchase_orders()
        assert self.po_list is not None
        return self.po_list.result()

    def start_payments(self, docnbrs: list[str]) -> None:
        self.payment_answers = {docnbr: self.pool.submit(self._payment, docnbr) for docnbr in docnbrs}

    def _payment(self, docnbr: str) -> ExternalPaymentResponse | None:
        try:
            return self.clients.get().get_payment(docnbr)
        except PortalNotFoundError:
            return None

    def payments(self) -> dict[str, ExternalPaymentResponse]:
        """The portal's answer for each payment started; a 404 leaves it out."""
        answers = {docnbr: future.result() for docnbr, future in self.payment_answers.items()}
        return {docnbr: answer for docnbr, answer in answers.items() if answer is not None}

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.clients.close()


# --- the fixes --------------------------------------------------------------------------------

class FixRefused(Exception):
    pass


def apply_fix(tenant: Tenant, kind: str, key: str, fix: str, *, by: str, note: str = "",
              fingerprint: str = "") -> Difference:
    """Applies one fix to a difference the report shows now (read again: nothing acts on stale facts)."""
    if fix not in FIXES or kind not in KINDS:
        raise FixRefused(_("Unknown fix or kind."))
    area = KINDS[kind][0]
    difference = next((d for d in reconcile(tenant, [area]).differences if (d.kind, d.key) == (kind, key)), None)
    if difference is None:
        raise FixRefused(_("The report no longer shows %(kind)s %(key)s: nothing to fix.") % {"kind": kind,
                                                                                             "key": key})
    if fingerprint and fingerprint != difference.fingerprint:
        raise FixRefused(_("The facts of %(key)s changed since the page was shown: look again.") % {"key": key})
    if fix not in difference.fixes:
        raise FixRefused(_("%(fix)s is not a fix of this difference.") % {"fix": FIX_LABELS[fix]})
    if fix == RESOLVE:
        ReconcileAck.objects.update_or_create(tenant=tenant, kind=kind, key=key, defaults={
            "fingerprint": difference.fingerprint, "by": by[:150], "at": timezone.now(), "note": note})
    else:
        send_again(tenant, KINDS[kind][1], key, by=by, outside_id=difference.relink_to,
                   message=_("%(fix)s from the reconcile report: %(what)s") % {"fix": FIX_LABELS[fix],
                                                                            "what": difference.what})
    return difference


def send_again(tenant: Tenant, kind: str, key: str, *, by: str, message: str, outside_id: str = "") -> Outbound:
    """The object's outbound record back to PENDING: the next cycle's exporter asks the outside system by our
    key (as after a crash) and sends what is missing. `outside_id`: the outside id it is to name (re-link)."""
    now = timezone.now()
    with transaction.atomic():
        record, _created = Outbound.objects.select_for_update().get_or_create(
            tenant=tenant, kind=kind, key=key, defaults={"state": Outbound.State.PENDING})
        record.state, record.attempts, record.not_before = Outbound.State.PENDING, 0, None
        record.closed = ""
        if outside_id:
            record.outside_id = outside_id
        set_needs(record, None, now)
        record.reason_code, record.reason, record.since, record.updated = "", "", None, now
        record.save()
        OutboundAttempt.objects.create(record=record, outcome=OutboundAttempt.Outcome.RETRY, by=by[:150],
                                       message=message[:2000])
        projections.project(kind, [record])
    return record
