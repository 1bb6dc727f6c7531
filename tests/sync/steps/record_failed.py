"""A step that finishes but reports one failed record."""
from sync.engine.context import StepContext


def run(ctx: StepContext):
    ctx.result.created += 2
    ctx.result.failed += 1
    return ctx.result
