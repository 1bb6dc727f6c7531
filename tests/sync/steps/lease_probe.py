"""Outlives the lease, then asks whether another run could take the tenant now."""
import time

from sync.engine.context import StepContext
from sync.engine.lease import LeaseHeld, take_lease


def run(ctx: StepContext):
    time.sleep(2.5)
    try:
        take_lease(ctx.tenant_id, "intruder")
    except LeaseHeld as held:
        ctx.log(f"still held by {held.holder}")
    else:
        ctx.log("lease was free")
    return ctx.result
