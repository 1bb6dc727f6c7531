"""A step that holds the tenant's lease for a while (concurrency tests)."""
import os
import time

from sync.engine.context import StepContext


def run(ctx: StepContext):
    time.sleep(float(os.environ.get("SYNC_TEST_SLOW_SECONDS", "4")))
    ctx.result.created += 1
    return ctx.result
