"""A step that records what it did: one created and one updated per call."""
from sync.engine.context import StepContext


def run(ctx: StepContext):
    ctx.result.created += 1
    ctx.result.updated += 1
    if ctx.dry_run:
        ctx.would_send("portal", "PO-1", {"external_id": "PO-1", "password": "x"})
    ctx.log(f"counted for {ctx.tenant.code}")
    return ctx.result
