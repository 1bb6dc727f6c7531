"""A step that fails the way a client might: with the tenant's secret in its message."""
from sync.engine.context import StepContext


def run(ctx: StepContext):
    ctx.log("about to fail")
    raise ConnectionError(f"portal refused key {ctx.tenant.portal_secret}\nsecond line")
