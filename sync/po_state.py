"""What a Sage PO is, and what the portal must hear about it.

EXTERNAL.md §1 "Things a PO in Sage can be":
- new and eligible → on the portal (the upsert step);
- changed (lines, quantities, dates, amounts) → replaced on the portal, only
  when the order built from it differs from the one the portal confirmed:
  the engine compares the hash of the payload actually built
  (sync.engine.exporter), so what the portal is not sent cannot move it and
  everything it is sent does;
- partly cancelled (0 < Σ cancelled < Σ ordered) → replaced with what is still
  on order (a change like any other: the quantities in the payload drop);
- fully cancelled (Σ cancelled = Σ ordered > 0) → status CANCELLED, once;
- complete (ISCOMPLETE = 1) with every receipt invoiced and complete → status
  CLOSED, once. Complete with a receipt not yet invoiced waits.

Reads Sage only (5 queries per page of headers); no portal calls. The PO
steps pair this with outbound records: kind "po" (the order) and kind
"po_status" (the final status sent, in its outside ids).
"""
from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _

from sync.models import Outbound
from sync.sage import queries
from sync.sage.values import currency, sage_date, trimmed

Watermark = tuple[Decimal, Decimal, int]
START: Watermark = (Decimal(0), Decimal(0), 0)


@dataclass(frozen=True)
class SagePoLine:
    line_number: int
    item_no: str
    description: str
    location: str
    unit: str
    ordered: Decimal
    received: Decimal
    cancelled: Decimal
    unit_cost: Decimal
    extended: Decimal

    @property
    def quantity(self) -> Decimal:
        """What is still on order once cancellations are taken off."""
        return max(self.ordered - self.cancelled, Decimal(0))

    @property
    def outstanding(self) -> Decimal:
        return max(self.ordered - self.received - self.cancelled, Decimal(0))


@dataclass(frozen=True)
class SageReceipt:
    receipt_number: str
    invoiced: bool
    complete: bool


@dataclass
class SagePo:
    porhseq: int
    po_number: str
    vendor_id: str
    vendor_name: str
    date: dt.date | None
    expected: dt.date | None
    portype: int
    is_complete: bool
    on_hold: bool
    currency: str
    rate: Decimal
    subtotal: Decimal
    total: Decimal
    description: str
    comment: str
    reference: str
    requisition: str
    terms: str
    watermark: Watermark
    lines: list[SagePoLine] = field(default_factory=list)
    optional_fields: dict[str, str] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)
    receipts: list[SageReceipt] = field(default_factory=list)


class PoCondition(enum.Enum):
    OPEN = "open"
    PARTLY_CANCELLED = "partly_cancelled"
    CANCELLED = "cancelled"
    COMPLETE_AWAITING_INVOICES = "complete_awaiting_invoices"
    CLOSED = "closed"


class PoAction(enum.Enum):
    UPSERT = "upsert"     # on the portal as Sage has it: made, or replaced when its payload changed
    CANCEL = "cancel"
    CLOSE = "close"
    NONE = "none"


@dataclass(frozen=True)
class PoDecision:
    action: PoAction
    condition: PoCondition
    reason: str


def read_pos(alias: str, tenant, *, after: Watermark = START, limit: int = 200) -> tuple[list[SagePo], Watermark]:
    """Eligible PO headers changed after `after`, with lines, optional fields,
    addresses and receipts; and the watermark to continue from."""
    pos = [_po(row) for row in queries.pos_changed_since(alias, tenant, watermark=after, limit=limit)]
    if not pos:
        return [], after
    _add_details(alias, tenant, pos)
    return pos, pos[-1].watermark


NUMBERS_PER_QUERY = 500


def read_pos_by_number(alias: str, tenant, po_numbers: list[str]) -> list[SagePo]:
    """The named POs, whatever their audit stamp: those a step must look at
    again (a write left unconfirmed, a PO waiting for its invoices). Five
    queries per chunk: SQL Server takes at most 2,100 parameters a statement."""
    pos: list[SagePo] = []
    for start in range(0, len(po_numbers), NUMBERS_PER_QUERY):
        chunk = [_po(row) for row in queries.pos_by_numbers(
            alias, tenant, po_numbers=po_numbers[start:start + NUMBERS_PER_QUERY])]
        if chunk:
            _add_details(alias, tenant, chunk)
        pos.extend(chunk)
    return pos


def read_all_pos(alias: str, tenant) -> list[SagePo]:
    """Every eligible PO with its details, in five queries whatever their number (the reconcile report)."""
    # Only the columns read here: at ten thousand POs, building each row's other columns is most of the time.
    pos = [_po(row) for row in queries.all_eligible_pos(alias, tenant).only(*HEADER_COLUMNS)]
    _fill(pos, queries.all_eligible_po_lines(alias, tenant).only("PORHSEQ", "PORLREV", *LINE_COLUMNS),
          queries.all_eligible_po_optional_fields(alias, tenant),
          queries.all_eligible_po_headers2(alias, tenant).only("PORHSEQ", *ADDRESS_COLUMNS),
          queries.all_eligible_po_receipts(alias, tenant).only("PORHSEQ", "RCPNUMBER", "ISINVOICED", "ISCOMPLETE"))
    return pos


HEADER_COLUMNS = ("PORHSEQ", "PONUMBER", "VDCODE", "VDNAME", "DATE", "EXPARRIVAL", "PORTYPE", "ISCOMPLETE", "ONHOLD",
                  "CURRENCY", "RATE", "EXTENDED", "DOCTOTAL", "DESCRIPTIO", "COMMENT", "REFERENCE", "RQNNUMBER",
                  "TERMSCODE", "AUDTDATE", "AUDTTIME")
LINE_COLUMNS = ("ITEMNO", "ITEMDESC", "LOCATION", "ORDERUNIT", "OQORDERED", "OQRECEIVED", "OQCANCELED", "UNITCOST",
                "EXTENDED")
ADDRESS_COLUMNS = ("ENTEREDBY", "BTCODE", "BTDESC", "BTADDRESS1", "BTCITY", "BTSTATE", "BTZIP", "BTCOUNTRY",
                   "STCODE", "STDESC", "STADDRESS1", "STADDRESS2", "STCITY", "STSTATE", "STZIP", "STCOUNTRY")


def _add_details(alias: str, tenant, pos: list[SagePo]) -> None:
    seqs = [po.porhseq for po in pos]
    _fill(pos, queries.po_lines(alias, tenant, porhseqs=seqs), queries.po_optional_fields(alias, tenant, porhseqs=seqs),
          queries.po_headers2(alias, tenant, porhseqs=seqs), queries.po_receipts(alias, tenant, porhseqs=seqs))


def _fill(pos: list[SagePo], lines, optional_fields, headers2, receipts) -> None:
    by_seq = {po.porhseq: po for po in pos}
    for row in lines:
        by_seq[int(row.PORHSEQ)].lines.append(_line(row))
    for row in optional_fields:
        by_seq[int(row.PORHSEQ)].optional_fields[trimmed(row.OPTFIELD)] = trimmed(row.VALUE)
    for row in headers2:
        by_seq[int(row.PORHSEQ)].addresses = _addresses(row)
    for row in receipts:
        by_seq[int(row.PORHSEQ)].receipts.append(
            SageReceipt(trimmed(row.RCPNUMBER), row.ISINVOICED == 1, row.ISCOMPLETE == 1)
        )


def _po(row) -> SagePo:
    return SagePo(
        porhseq=int(row.PORHSEQ), po_number=trimmed(row.PONUMBER), vendor_id=trimmed(row.VDCODE),
        vendor_name=trimmed(row.VDNAME), date=sage_date(row.DATE), expected=sage_date(row.EXPARRIVAL),
        portype=row.PORTYPE, is_complete=row.ISCOMPLETE == 1, on_hold=row.ONHOLD == 1,
        currency=currency(row.CURRENCY), rate=row.RATE, subtotal=row.EXTENDED, total=row.DOCTOTAL,
        description=trimmed(row.DESCRIPTIO), comment=trimmed(row.COMMENT), reference=trimmed(row.REFERENCE),
        requisition=trimmed(row.RQNNUMBER), terms=trimmed(row.TERMSCODE),
        watermark=(row.AUDTDATE, row.AUDTTIME, int(row.PORHSEQ)),
    )


def _line(row) -> SagePoLine:
    return SagePoLine(
        line_number=int(row.PORLREV), item_no=trimmed(row.ITEMNO), description=trimmed(row.ITEMDESC),
        location=trimmed(row.LOCATION), unit=trimmed(row.ORDERUNIT), ordered=row.OQORDERED,
        received=row.OQRECEIVED, cancelled=row.OQCANCELED, unit_cost=row.UNITCOST, extended=row.EXTENDED,
    )


def _addresses(row) -> dict[str, str]:
    return {name: trimmed(getattr(row, name)) for name in ADDRESS_COLUMNS}


def ineligibility(po: SagePo, tenant) -> str:
    """Why the tenant's rule keeps this PO off the portal; '' when eligible."""
    if tenant.po_types and po.portype not in tenant.po_types:
        return _("PO type %(type)s is not one of %(types)s") % {"type": po.portype, "types": tenant.po_types}
    if tenant.po_min_date and (po.date is None or po.date < tenant.po_min_date):
        return _("dated %(date)s, before %(min)s") % {"date": po.date, "min": tenant.po_min_date}
    if tenant.po_required_optfield:
        value = po.optional_fields.get(tenant.po_required_optfield.upper())
        if (value or "").upper() != tenant.po_required_value.strip().upper():
            return _("optional field %(field)s is not %(value)r") % {"field": tenant.po_required_optfield,
                                                                  "value": tenant.po_required_value}
    skipped = {code.strip().upper() for code in tenant.skip_location_codes or []}
    if not [line for line in po.lines if line.location.upper() not in skipped]:
        return _("no line outside the skipped locations")
    return ""


def condition(po: SagePo) -> PoCondition:
    ordered = sum((line.ordered for line in po.lines), Decimal(0))
    cancelled = sum((line.cancelled for line in po.lines), Decimal(0))
    if ordered > 0 and cancelled >= ordered:
        return PoCondition.CANCELLED
    if po.is_complete:
        if all(r.invoiced and r.complete for r in po.receipts):
            return PoCondition.CLOSED
        return PoCondition.COMPLETE_AWAITING_INVOICES
    if cancelled > 0:
        return PoCondition.PARTLY_CANCELLED
    return PoCondition.OPEN


FINAL_STATUS = {PoCondition.CANCELLED: "CANCELLED", PoCondition.CLOSED: "CLOSED"}


def on_the_portal(po_record: Outbound | None) -> bool:
    return po_record is not None and (po_record.state == Outbound.State.CONFIRMED or bool(po_record.outside_id))


def classify(po: SagePo, tenant, po_record: Outbound | None, status_record: Outbound | None) -> PoDecision:
    state = condition(po)
    why_not = ineligibility(po, tenant)
    if why_not:
        return PoDecision(PoAction.NONE, state, why_not)
    on_portal = on_the_portal(po_record)
    final_status = FINAL_STATUS.get(state)
    if final_status:
        if not on_portal and po_record is None:
            return PoDecision(PoAction.NONE, state,
                              _("%(status)s before it reached the portal") % {"status": final_status})
        if (status_record is not None and status_record.state == Outbound.State.CONFIRMED
                and status_record.outside_ids.get("status") == final_status):
            return PoDecision(PoAction.NONE, state,
                              _("the portal already has it %(status)s") % {"status": final_status})
        action = PoAction.CANCEL if state is PoCondition.CANCELLED else PoAction.CLOSE
        return PoDecision(action, state, final_status)
    if not on_portal:
        return PoDecision(PoAction.UPSERT, state, _("new"))
    reason = (_("partly cancelled: outstanding quantities") if state is PoCondition.PARTLY_CANCELLED
              else _("changed"))
    return PoDecision(PoAction.UPSERT, state, reason)
