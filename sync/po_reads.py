"""Which Sage POs a PO step looks at this cycle, and how far it has read.

Each PO step keeps its own (AUDTDATE, AUDTTIME, PORHSEQ) watermark in
PoWatermark, so one step reading a PO never hides it from the next. A step
sees, in pages:
1. first the POs it must look at again whatever their audit stamp (`again`:
   a write a crash left unconfirmed, a PO waiting for its invoices);
2. then the POs whose header changed since its watermark.
The watermark moves only once the step has handled a page (the generator
resumes after the step's loop body), and never in a dry run; a step that
dies mid-page rereads that page, and unchanged POs cost nothing but the read.
A cycle with nothing new costs one Sage query per step.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from sync.crashpoints import crashpoint
from sync.models import PoWatermark, RecordOutcome, SyncLink
from sync.po_state import START, PoDecision, SagePo, Watermark, classify, read_pos, read_pos_by_number
from sync.steps.base import StepContext

PAGE_SIZE = 200
UNCONFIRMED = (SyncLink.State.PENDING, SyncLink.State.SENT)


@dataclass(frozen=True)
class PoCandidate:
    po: SagePo
    decision: PoDecision
    po_link: SyncLink | None
    status_link: SyncLink | None

    @property
    def po_number(self) -> str:
        return self.po.po_number

    @property
    def on_portal(self) -> bool:
        return self.po_link is not None and bool(self.po_link.portal_id)


def candidates(ctx: StepContext, alias: str, *, again: list[str]) -> Iterator[list[PoCandidate]]:
    seen: set[str] = set()
    if again:
        page = read_pos_by_number(alias, ctx.tenant, sorted(set(again)))
        seen = {po.po_number for po in page}
        if page:
            yield _classified(ctx, page)
    mark = load_watermark(ctx)
    while True:
        pos, next_mark = read_pos(alias, ctx.tenant, after=mark, limit=PAGE_SIZE)
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


def _classified(ctx: StepContext, pos: list[SagePo]) -> list[PoCandidate]:
    links = {(link.kind, link.sage_key): link for link in SyncLink.objects.filter(
        tenant_id=ctx.tenant_id, kind__in=(SyncLink.Kind.PO, SyncLink.Kind.PO_STATUS),
        sage_key__in=[po.po_number for po in pos])}
    found = []
    for po in pos:
        po_link = links.get((SyncLink.Kind.PO, po.po_number))
        status_link = links.get((SyncLink.Kind.PO_STATUS, po.po_number))
        found.append(PoCandidate(po, classify(po, ctx.tenant, po_link, status_link), po_link, status_link))
    return found


def load_watermark(ctx: StepContext) -> Watermark:
    # Within a pipeline run the first PO step reads every PO step's watermark in
    # one query and leaves them on the run's heartbeat (one object per run, see
    # sync.pipeline.Heartbeat.shared) for the later ones. A step only moves its
    # own watermark, after reading it, so what a later step finds there is what
    # the database holds.
    shared = getattr(ctx.heartbeat, "shared", None)
    marks = shared.get("po_watermarks") if shared is not None else None
    if marks is None:
        marks = {row.step: (row.audit_date, row.audit_time, row.porhseq)
                 for row in PoWatermark.objects.filter(tenant_id=ctx.tenant_id)}
        if shared is not None:
            shared["po_watermarks"] = marks
    return marks.get(ctx.step, START)


def save_watermark(ctx: StepContext, mark: Watermark) -> None:
    date, time, porhseq = mark
    PoWatermark.objects.update_or_create(
        tenant_id=ctx.tenant_id, step=ctx.step,
        defaults={"audit_date": Decimal(date), "audit_time": Decimal(time), "porhseq": int(porhseq)},
    )
    marks = (getattr(ctx.heartbeat, "shared", None) or {}).get("po_watermarks")
    if marks is not None:
        marks[ctx.step] = mark  # the run's copy follows the row


def unconfirmed(ctx: StepContext, kind: str, *, on_portal: bool | None = None) -> list[str]:
    """PO numbers whose last write of `kind` may or may not have reached the portal."""
    links = SyncLink.objects.filter(tenant_id=ctx.tenant_id, kind=kind, state__in=UNCONFIRMED)
    if on_portal is True:
        links = links.exclude(portal_id="")
    elif on_portal is False:
        links = links.filter(portal_id="")
    return list(links.values_list("sage_key", flat=True))


def failed_before_a_vendor_link(ctx: StepContext) -> list[str]:
    """POs the portal refused before a vendor was last linked to it: most
    often refused for a provider it did not know yet, so worth one more try."""
    latest = (SyncLink.objects.filter(tenant_id=ctx.tenant_id, kind=SyncLink.Kind.VENDOR,
                                      state=SyncLink.State.CONFIRMED)
              .order_by("-updated").values_list("updated", flat=True).first())
    if latest is None:
        return []
    return list(SyncLink.objects.filter(
        tenant_id=ctx.tenant_id, kind=SyncLink.Kind.PO, state=SyncLink.State.FAILED, portal_id="", updated__lt=latest,
    ).values_list("sage_key", flat=True))


def waiting(ctx: StepContext, action: str) -> list[str]:
    return list(RecordOutcome.objects.filter(
        tenant_id=ctx.tenant_id, kind=SyncLink.Kind.PO_STATUS, action=action, status=RecordOutcome.Status.WAITING,
    ).values_list("sage_key", flat=True))
