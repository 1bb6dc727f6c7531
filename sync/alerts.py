"""Telling people a step failed: once per failure streak, not every cycle.

A streak starts when a step fails after a run where it did not fail (or had
never run). Later failures of the same streak stay quiet; the next success
ends it.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.utils.translation import gettext as _

from sync.models import StepRun, SyncRun

logger = logging.getLogger("sync.alerts")


def alert_failed_steps(run: SyncRun) -> list[StepRun]:
    """Mail the tenant's notice addresses about steps of `run` that start a streak."""
    starting = [s for s in run.steps.filter(status=StepRun.Status.FAILED) if _starts_streak(s)]
    addresses = run.tenant.notice_addresses
    if not starting or not addresses:
        return []
    try:
        send_mail(_subject(run, starting), _body(run, starting), settings.DEFAULT_FROM_EMAIL, addresses)
    except Exception:
        # A mail server down must not turn a recorded run into a crash; the
        # next failing cycle tries again because alert_sent stays False.
        logger.exception("Could not send the failure notice for run %s", run.pk)
        return []
    StepRun.objects.filter(pk__in=[s.pk for s in starting]).update(alert_sent=True)
    return starting


def run_url(run: SyncRun) -> str:
    return settings.SITE_URL.rstrip("/") + run.get_absolute_url()


def _starts_streak(step_run: StepRun) -> bool:
    earlier = (
        StepRun.objects.filter(run__tenant_id=step_run.run.tenant_id, step=step_run.step, run__dry_run=False,
                               id__lt=step_run.pk)
        .exclude(status__in=[StepRun.Status.SKIPPED, StepRun.Status.RUNNING])
        .order_by("-id")
    )
    streak_so_far = []
    for earlier_run in earlier[:200]:
        if earlier_run.status != StepRun.Status.FAILED:
            break
        streak_so_far.append(earlier_run)
    return not any(s.alert_sent for s in streak_so_far)


def _subject(run: SyncRun, steps: list[StepRun]) -> str:
    names = ", ".join(s.step for s in steps)
    return _("SageConnect %(tenant)s: failed step(s) %(names)s") % {"tenant": run.tenant.code, "names": names}


def _body(run: SyncRun, steps: list[StepRun]) -> str:
    lines = [_("Run %(id)s of %(tenant)s had failures:") % {"id": run.pk, "tenant": run.tenant}, ""]
    lines += [f"- {s.step}: {s.message}" for s in steps]
    lines += ["", _("Details: %(url)s") % {"url": run_url(run)},
              _("You will not hear again about these steps until they have succeeded once.")]
    return "\n".join(lines)
