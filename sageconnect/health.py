"""/healthz for load balancers and monitoring: open to anyone, says nothing secret.

Healthy means: our database answers, the django-q2 broker answers (the ORM
broker is our database; Redis is pinged), and the last sync cycle finished
recently enough for the tenants' schedules. Paused-slot runs count as cycles:
they prove the scheduler is alive.
"""
from __future__ import annotations

import datetime as dt

from django.db import connection
from django.db.models import Max, Min
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

# A cycle may run late by a slot or two (a long previous run, a restart).
SLOTS_OF_GRACE = 3
EXTRA_GRACE = dt.timedelta(minutes=5)


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # a health check reports, it does not raise
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _broker() -> str:
    from django_q.conf import Conf

    try:
        if Conf.ORM:
            from django_q.models import OrmQ

            OrmQ.objects.using(Conf.ORM).exists()
            return "ok"
        from django_q.brokers import get_broker

        return "ok" if get_broker().ping() else "error: no answer"
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"


def _cycle(now: dt.datetime) -> tuple[str, float | None]:
    from sync.models import SyncRun
    from tenants.models import Tenant

    scheduled = Tenant.objects.filter(active=True, paused=False)
    facts = scheduled.aggregate(longest=Max("sync_every_minutes"), first=Min("created"))
    if facts["longest"] is None:
        return "ok", None  # nothing is scheduled: no cycle is due
    allowed = dt.timedelta(minutes=facts["longest"] * SLOTS_OF_GRACE) + EXTRA_GRACE
    last = SyncRun.objects.filter(finished__isnull=False).aggregate(last=Max("finished"))["last"]
    if last is None:
        # A fresh install gets one allowance to run its first cycle.
        return ("ok" if now - facts["first"] <= allowed else "error: no cycle has finished yet"), None
    age = (now - last).total_seconds()
    return ("ok" if age <= allowed.total_seconds() else "error: the last cycle is too old"), round(age, 1)


def healthz(request: HttpRequest) -> JsonResponse:
    database = _database()
    broker = _broker() if database == "ok" or not _uses_orm() else "unknown: the database is down"
    if database == "ok":
        cycle, age = _cycle(timezone.now())
    else:
        cycle, age = "unknown: the database is down", None
    healthy = database == "ok" and broker == "ok" and cycle == "ok"
    body = {"status": "ok" if healthy else "error", "database": database, "broker": broker,
            "last_cycle": cycle, "last_cycle_age_seconds": age}
    return JsonResponse(body, status=200 if healthy else 503)


def _uses_orm() -> bool:
    from django_q.conf import Conf

    return bool(Conf.ORM)
