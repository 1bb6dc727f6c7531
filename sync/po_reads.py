"""Which Sage POs a PO step looks at this cycle, and how far it has read.

Each PO step keeps its own (AUDTDATE, AUDTTIME, PORHSEQ) watermark in
PoWatermark, so one step reading a PO never hides it from the next. A step
sees, in pages:
1. first the POs it must look at again whatever their audit stamp (`again`:
   a write a crash left unconfirmed or a passing failure left to retry, a PO
   waiting for its invoices);
2. then the POs whose header changed since its watermark.
A person's Retry reads just the POs named (`named`), and moves no watermark.
The watermark moves only once the step has handled a page (the generator
resumes after the step's loop body), and never in a dry run; a step that
dies mid-page rereads that page, and unchanged POs cost nothing but the read.
The three PO steps share each page they read in a run (`_page_after`): a
cycle with nothing new costs one Sage query for the three. A change of the
tenant's settings that go into a PO's payload or decide whether it is sent
(PO_SETTINGS: the default ship-to, the time zone, the eligibility rule, …)
starts the step from the beginning once: every PO is read again, and only
those whose built payload changed are sent.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from sync.engine.context import StepContext
from sync.engine.crashpoints import crashpoint
from sync.engine.outbox import payload_hash
from sync.models import Outbound, PoWatermark
from sync.po_state import (
    START,
    PoDecision,
    SagePo,
    Watermark,
    classify,
    on_the_portal,
    read_pos,
    read_pos_by_number,
)

PAGE_SIZE = 200
# The tenant's settings a PO's payload (sync.po_payload) or its eligibility (sync.po_state) reads.
PO_SETTINGS = ("name", "time_zone", "ship_to_street", "ship_to_city", "ship_to_state", "ship_to_zip",
               "ship_to_country", "skip_location_codes", "po_types", "po_min_date", "po_required_optfield",
               "po_required_value")
UNCONFIRMED = (Outbound.State.PENDING, Outbound.State.SENT)


@dataclass(frozen=True)
class PoCandidate:
    po: SagePo
    decision: PoDecision
    po_record: Outbound | None
    status_record: Outbound | None

    @property
    def po_number(self) -> str:
        return self.po.po_number

    @property
    def on_portal(self) -> bool:
        return on_the_portal(self.po_record)


def candidates(ctx: StepContext, alias: str, *, again: list[str]) -> Iterator[list[PoCandidate]]:
    seen: set[str] = set()
    if again:
        page = read_pos_by_number(alias, ctx.tenant, sorted(set(again)))
        seen = {po.po_number for po in page}
        if page:
            yield _classified(ctx, page)
    mark = load_watermark(ctx)
    while True:
        pos, next_mark = _page_after(ctx, alias, mark)
        if not pos:
            return
        fresh = [po for po in pos if po.po_number not in seen]
        if fresh:
            yield _classified(ctx, fresh)
        if not ctx.dry_run:
            crashpoint("po_reads:before_watermark")
            save_watermark(ctx, next_mark)
        mark = next_mark
        ctx.heartbeat()


# How many PO steps read the same pages in a run (po_upsert, po_close, po_cancel): the last one drops a page.
PAGE_READERS = 3
# The pages a run keeps for the later PO steps: 2,000 POs with their lines (a first cycle's first pages, or
# every change of an ordinary cycle); past them a step reads for itself, so a company of ten thousand POs
# is never held in memory whole (po_close begins only once po_upsert has read every page).
KEPT_PAGES_MAX = 10


def _page_after(ctx: StepContext, alias: str, mark: Watermark) -> tuple[list[SagePo], Watermark]:
    """The page of POs after `mark`, read from Sage once a run.

    The three PO steps start from the same watermark whenever they kept up with each other (always in a
    first cycle), so each would read the same page again: the first reading is kept on the run's
    heartbeat and the later steps classify its POs against their own records. What the later steps see is
    that reading's snapshot; a PO changed since it carries a later audit stamp, so the next cycle reads it.
    """
    shared = getattr(ctx.heartbeat, "shared", None)
    if shared is None:
        return read_pos(alias, ctx.tenant, after=mark, limit=PAGE_SIZE)
    pages = cast(dict[Watermark, list], shared.setdefault("po_pages", {}))
    kept = pages.get(mark)
    if kept is None:
        page = read_pos(alias, ctx.tenant, after=mark, limit=PAGE_SIZE)
        if len(pages) >= KEPT_PAGES_MAX:
            return page
        kept = pages[mark] = [page, 0]
    kept[1] += 1
    if kept[1] >= PAGE_READERS:
        pages.pop(mark, None)  # every PO step has read it: at ten thousand POs the run need not hold them all
    return kept[0]


def named(ctx: StepContext, alias: str, po_numbers: frozenset[str]) -> Iterator[list[PoCandidate]]:
    """Just these POs, whatever their audit stamp (a person's Retry); no watermark moves."""
    page = read_pos_by_number(alias, ctx.tenant, sorted(po_numbers))
    if page:
        yield _classified(ctx, page)


def _classified(ctx: StepContext, pos: list[SagePo]) -> list[PoCandidate]:
    records = {(r.kind, r.key): r for r in Outbound.objects.filter(
        tenant_id=ctx.tenant_id, kind__in=(Outbound.Kind.PO, Outbound.Kind.PO_STATUS),
        key__in=[po.po_number for po in pos])}
    found = []
    for po in pos:
        po_record = records.get((Outbound.Kind.PO, po.po_number))
        status_record = records.get((Outbound.Kind.PO_STATUS, po.po_number))
        found.append(PoCandidate(po, classify(po, ctx.tenant, po_record, status_record), po_record, status_record))
    return found


def settings_fingerprint(tenant) -> str:
    return payload_hash({name: getattr(tenant, name) for name in PO_SETTINGS})


def load_watermark(ctx: StepContext) -> Watermark:
    # Within a pipeline run the first PO step reads every PO step's watermark in
    # one query and leaves them on the run's heartbeat (one object per run, see
    # sync.engine.pipeline.Heartbeat.shared) for the later ones. A step only moves its
    # own watermark, after reading it, so what a later step finds there is what
    # the database holds.
    shared = getattr(ctx.heartbeat, "shared", None)
    marks = shared.get("po_watermarks") if shared is not None else None
    if marks is None:
        marks = {row.step: ((row.audit_date, row.audit_time, row.porhseq), row.settings_hash)
                 for row in PoWatermark.objects.filter(tenant_id=ctx.tenant_id)}
        if shared is not None:
            shared["po_watermarks"] = marks
    mark, read_with = marks.get(ctx.step, (START, ""))
    # Read with other settings: what the portal was sent may differ from what it would be sent now.
    return mark if read_with == settings_fingerprint(ctx.tenant) else START


def save_watermark(ctx: StepContext, mark: Watermark) -> None:
    date, time, porhseq = mark
    fingerprint = settings_fingerprint(ctx.tenant)
    PoWatermark.objects.update_or_create(
        tenant_id=ctx.tenant_id, step=ctx.step,
        defaults={"audit_date": Decimal(date), "audit_time": Decimal(time), "porhseq": int(porhseq),
                  "settings_hash": fingerprint},
    )
    marks = (getattr(ctx.heartbeat, "shared", None) or {}).get("po_watermarks")
    if marks is not None:
        marks[ctx.step] = (mark, fingerprint)  # the run's copy follows the row


def unconfirmed(ctx: StepContext, kind: str) -> list[str]:
    """PO numbers whose last write of `kind` may or may not have reached the portal (a crash, a passing failure)."""
    return list(Outbound.objects.filter(tenant_id=ctx.tenant_id, kind=kind, state__in=UNCONFIRMED)
                .values_list("key", flat=True))


def failed_before_a_vendor_link(ctx: StepContext) -> list[str]:
    """POs the portal refused before a vendor was last linked to it: most
    often refused for a provider it did not know yet, so worth one more try."""
    latest = (Outbound.objects.filter(tenant_id=ctx.tenant_id, kind=Outbound.Kind.VENDOR,
                                      state=Outbound.State.CONFIRMED)
              .order_by("-updated").values_list("updated", flat=True).first())
    if latest is None:
        return []
    return list(Outbound.objects.filter(
        tenant_id=ctx.tenant_id, kind=Outbound.Kind.PO, state=Outbound.State.FAILED,
        attention=Outbound.Attention.PERMANENT, outside_id="", updated__lt=latest,
    ).values_list("key", flat=True))


def waiting(ctx: StepContext, kind: str) -> list[str]:
    return list(Outbound.objects.filter(tenant_id=ctx.tenant_id, kind=kind, state=Outbound.State.WAITING)
                .values_list("key", flat=True))
