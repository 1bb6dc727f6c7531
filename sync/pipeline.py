"""One cycle of one tenant: take the lease, run the enabled steps in DESIGN.md
order, each isolated from the others, and record everything.

A step that raises is recorded as failed with a short, secret-free message
and the next step still runs. A step whose module does not exist yet is
recorded as skipped, "not available yet" — never silently left out.
The writes steps make to outside systems follow sync.idempotence.
"""
from __future__ import annotations

import importlib
import logging
import time
import traceback
from collections.abc import Callable, Mapping
from types import ModuleType

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from sync import lease as leases
from sync.models import STEP_LOG_MAX_LINES, StepRun, SyncRun
from sync.steps.base import StepContext, StepResult
from tenants.models import STEP_NAMES, Tenant

logger = logging.getLogger("sync.pipeline")

# Step name → module, in DESIGN.md order.
STEP_MODULES: dict[str, str] = {name: f"sync.steps.{name}" for name in STEP_NAMES}


def step_modules() -> Mapping[str, str]:
    """The registry: settings.SYNC_STEP_MODULES when a site (or a test) sets one."""
    return getattr(settings, "SYNC_STEP_MODULES", None) or STEP_MODULES

Progress = Callable[[StepRun], None]


class StepNotAvailable(Exception):
    pass


def run_tenant(
    tenant_id: int,
    *,
    trigger: str = SyncRun.Trigger.MANUAL,
    dry_run: bool = False,
    only_step: str | None = None,
    registry: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    echo: Callable[[str], None] | None = None,
) -> SyncRun:
    """Run one cycle for the tenant; the returned SyncRun says what happened."""
    tenant = Tenant.objects.get(pk=tenant_id)
    registry = step_modules() if registry is None else registry
    run = SyncRun.objects.create(tenant=tenant, trigger=trigger, dry_run=dry_run, only_step=only_step or "")
    refusal = _refusal(tenant, trigger)
    if refusal:
        return _finish_skipped(run, *refusal)
    holder = leases.new_holder_name()
    try:
        leases.take_lease(tenant.pk, holder)
    except leases.LeaseHeld as held:
        run.lease_holder = held.holder
        return _finish_skipped(run, SyncRun.SkipReason.LEASE_HELD, str(held))
    run.lease_holder = holder
    run.save(update_fields=["lease_holder"])
    try:
        with leases.LeaseKeeper(tenant.pk, holder):
            _run_steps(run, tenant, holder, registry, only_step, progress, echo)
    finally:
        leases.release_lease(tenant.pk, holder)
    return _finish(run)


def step_names(registry: Mapping[str, str] | None = None) -> list[str]:
    return list((step_modules() if registry is None else registry).keys())


def _refusal(tenant: Tenant, trigger: str) -> tuple[str, str] | None:
    if not tenant.active:
        return SyncRun.SkipReason.INACTIVE, _("Tenant %(code)s is not active.") % {"code": tenant.code}
    if tenant.paused and trigger == SyncRun.Trigger.SCHEDULE:
        return SyncRun.SkipReason.PAUSED, _("Tenant %(code)s is paused.") % {"code": tenant.code}
    return None


def _run_steps(run, tenant, holder, registry, only_step, progress, echo) -> None:
    def heartbeat() -> None:
        if not leases.renew_lease(tenant.pk, holder):
            raise LeaseLost(_("The tenant's lease expired and was taken by another run."))

    for name in registry:
        if only_step and name != only_step:
            continue
        try:
            heartbeat()
        except LeaseLost as lost:
            run.note = str(lost)
            break
        step_run = _run_one(run, tenant, name, registry[name], heartbeat, echo)
        if progress:
            progress(step_run)


class LeaseLost(Exception):
    pass


def _run_one(run, tenant, name, module_path, heartbeat, echo) -> StepRun:
    step_run = StepRun.objects.create(run=run, step=name)
    if not _enabled(tenant, name):
        return _close(step_run, StepRun.Status.SKIPPED, _("switched off for this tenant"), StepResult(), [], 0.0)
    ctx = StepContext(tenant_id=tenant.pk, run_id=run.pk, step=name, dry_run=run.dry_run,
                      heartbeat=heartbeat, echo=echo)
    started = time.monotonic()
    try:
        module = load_step(module_path)
        result = module.run(ctx) or ctx.result
    except StepNotAvailable:
        return _close(step_run, StepRun.Status.SKIPPED, _("not available yet"), ctx.result, ctx.lines, 0.0)
    except Exception as exc:  # one failing step must not stop the next
        message = tenant.redact(short_error(exc))
        # The frames, not the exception text: that may carry a secret (an
        # outside system echoing a credential) and logs are not redacted.
        logger.error("Tenant %s step %s failed: %s\n%s", tenant.code, name, message,
                     "".join(traceback.format_tb(exc.__traceback__)))
        ctx.lines.append(message)
        return _close(step_run, StepRun.Status.FAILED, message, ctx.result, ctx.lines, time.monotonic() - started)
    status = StepRun.Status.FAILED if result.failed else StepRun.Status.SUCCEEDED
    message = _("%(n)s record(s) failed") % {"n": result.failed} if result.failed else ""
    return _close(step_run, status, message, result, ctx.lines, time.monotonic() - started)


def _enabled(tenant: Tenant, name: str) -> bool:
    return tenant.step_enabled(name) if name in STEP_NAMES else True


def load_step(module_path: str) -> ModuleType:
    try:
        module = importlib.import_module(module_path)
    except ModuleNotFoundError as exc:
        # Only the step's own module missing means "not built yet"; a missing
        # import inside it is a real failure and must say so.
        if exc.name == module_path:
            raise StepNotAvailable(module_path) from exc
        raise
    if not callable(getattr(module, "run", None)):
        raise StepNotAvailable(module_path)
    return module


def short_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{exc.__class__.__name__}: {text}"[:500] if text else exc.__class__.__name__


def bounded_log(lines: list[str]) -> list[str]:
    if len(lines) <= STEP_LOG_MAX_LINES:
        return list(lines)
    head, tail = STEP_LOG_MAX_LINES // 2, STEP_LOG_MAX_LINES // 2 - 1
    dropped = len(lines) - head - tail
    return lines[:head] + [f"… {dropped} lines left out …"] + lines[-tail:]


def _close(step_run, status, message, result, lines, seconds) -> StepRun:
    step_run.status = status
    step_run.message = str(message)[:500]
    step_run.created_count, step_run.updated_count = result.created, result.updated
    step_run.skipped_count, step_run.failed_count = result.skipped, result.failed
    step_run.duration = round(seconds, 3)
    step_run.log = bounded_log(lines)
    step_run.save()
    return step_run


def _finish_skipped(run: SyncRun, reason: str, note: str) -> SyncRun:
    run.status, run.skip_reason, run.note, run.finished = SyncRun.Status.SKIPPED, reason, note, timezone.now()
    run.save()
    return run


def _finish(run: SyncRun) -> SyncRun:
    steps = list(run.steps.all())
    for field in ("created_count", "updated_count", "skipped_count", "failed_count"):
        setattr(run, field, sum(getattr(s, field) for s in steps))
    ran = [s for s in steps if s.status != StepRun.Status.SKIPPED]
    failed = [s for s in ran if s.status == StepRun.Status.FAILED]
    if not ran:
        run.status = SyncRun.Status.SKIPPED if not run.note else SyncRun.Status.FAILED
    elif not failed and not run.note:
        run.status = SyncRun.Status.SUCCEEDED
    elif len(failed) == len(ran):
        run.status = SyncRun.Status.FAILED
    else:
        run.status = SyncRun.Status.PARTIAL
    run.finished = timezone.now()
    run.save()
    if not run.dry_run:
        from sync.alerts import alert_failed_steps

        alert_failed_steps(run)
    return run
