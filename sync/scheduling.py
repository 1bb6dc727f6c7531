"""One django-q2 Schedule per tenant, kept in step with the tenant's settings.

Schedules are written when a tenant is saved (a post_save signal, see
sync.models) and by `manage.py sync_schedules` — never at import time. A
paused tenant keeps its schedule: the task sees `Tenant.paused` and records a
skipped run, so the overview still shows that the slot came and went. Two
slots that overlap (a missed one run late, two clusters) cannot run a tenant
twice at once: the pipeline's lease refuses the second.
"""
from __future__ import annotations

from django.utils import timezone
from django_q.models import Schedule

from tenants.models import Tenant

TASK = "sync.tasks.run_scheduled_cycle"


def schedule_name(tenant: Tenant) -> str:
    # By id, not code: renaming a tenant's code must not orphan its schedule.
    return f"sync tenant {tenant.pk}"


def sync_schedule(tenant: Tenant) -> Schedule | None:
    """Create or update the tenant's schedule; an inactive tenant has none."""
    if not tenant.active:
        delete_schedule(tenant)
        return None
    existing = Schedule.objects.filter(name=schedule_name(tenant)).first()
    defaults = {
        "func": TASK,
        "args": repr(tenant.pk),
        "schedule_type": Schedule.MINUTES,
        "minutes": tenant.sync_every_minutes,
        "repeats": -1,
    }
    if existing is None or existing.minutes != tenant.sync_every_minutes:
        defaults["next_run"] = timezone.now()
    schedule, _ = Schedule.objects.update_or_create(name=schedule_name(tenant), defaults=defaults)
    return schedule


def delete_schedule(tenant: Tenant) -> None:
    Schedule.objects.filter(name=schedule_name(tenant)).delete()


def sync_all_schedules() -> list[Schedule]:
    schedules = [sync_schedule(tenant) for tenant in Tenant.objects.all()]
    return [s for s in schedules if s is not None]


def set_paused(paused: bool, tenant_code: str | None = None) -> int:
    """Pause or resume one tenant or all; returns how many tenants changed."""
    tenants = Tenant.objects.all()
    if tenant_code:
        tenants = tenants.filter(code=tenant_code)
    # update() skips post_save on purpose: pausing changes no schedule.
    return tenants.exclude(paused=paused).update(paused=paused)


def tenant_saved(sender, instance: Tenant, **kwargs) -> None:
    """post_save of Tenant (connected in SyncConfig.ready): its schedule follows its settings."""
    sync_schedule(instance)


def tenant_deleted(sender, instance: Tenant, **kwargs) -> None:
    delete_schedule(instance)
