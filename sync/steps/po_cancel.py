"""DESIGN.md row 9: a fully cancelled PO (Σ cancelled = Σ ordered > 0) → CANCELLED, once.

Sage has no header "cancelled" flag: sync.po_state reads it from the lines.
The status change follows po_close's path (select → change → record, once).
"""
from __future__ import annotations

from sync.po_state import PoAction
from sync.steps.base import StepContext, StepResult
from sync.steps.po_close import run_status_step


def run(ctx: StepContext) -> StepResult:
    return run_status_step(ctx, PoAction.CANCEL, "CANCELLED")
