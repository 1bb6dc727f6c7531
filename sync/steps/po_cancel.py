"""DESIGN.md row 9: a fully cancelled PO (Σ cancelled = Σ ordered > 0) → CANCELLED, once.

Sage has no header "cancelled" flag: sync.po_state reads it from the lines.
The same exporter as po_close (select → change → record, once).
"""
from __future__ import annotations

from sync.engine.context import StepContext, StepResult
from sync.engine.exporter import export
from sync.models import Outbound
from sync.po_state import PoAction
from sync.steps.po_close import PoStatus

KINDS = (Outbound.Kind.PO_STATUS,)


def run(ctx: StepContext) -> StepResult:
    return export(PoStatus(ctx, PoAction.CANCEL, "CANCELLED"))
