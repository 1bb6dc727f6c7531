"""A step that logs far more lines than a StepRun keeps."""
from sync.engine.context import StepContext


def run(ctx: StepContext):
    for number in range(2000):
        ctx.log(f"line {number}")
    return ctx.result
