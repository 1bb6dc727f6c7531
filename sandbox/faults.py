"""Fault injection for the stand-ins, per target ("portal:<tenantId>", "sage:<COMPANY>").

Tests and the admin set a FaultRule; every stand-in view calls `inject()`
first and returns its answer when it gives one.
"""
from __future__ import annotations

import json
import random
import time

from django.http import HttpRequest, HttpResponse

from sandbox.models import FaultRule

_random = random.Random()


def rule_for(target: str) -> FaultRule | None:
    return FaultRule.objects.filter(target=target, enabled=True).first()


def set_faults(target: str, **values) -> FaultRule:
    rule, _ = FaultRule.objects.update_or_create(target=target, defaults={"enabled": True, **values})
    return rule


def clear_faults(target: str | None = None) -> None:
    rules = FaultRule.objects.all()
    if target:
        rules = rules.filter(target=target)
    rules.delete()


class _TruncatedBody(HttpResponse):
    """Claims more bytes than it sends: the client sees the connection drop."""


def inject(request: HttpRequest, target: str, *, error_body=None) -> HttpResponse | None:
    rule = rule_for(target)
    if rule is None:
        return None
    if rule.latency_ms:
        time.sleep(rule.latency_ms / 1000)
    roll = _random.random()
    if roll < rule.drop_rate:
        response = HttpResponse(b'{"tru', content_type="application/json")
        response["Content-Length"] = "4096"
        response["Connection"] = "close"
        return response
    roll -= rule.drop_rate
    if roll < rule.error_rate:
        status = _random.choice(rule.error_statuses or [503])
        body = error_body(status) if error_body else {"code": status, "description": "Injected fault"}
        response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
        if status == 429 and rule.retry_after_seconds is not None:
            response["Retry-After"] = str(rule.retry_after_seconds)
        return response
    roll -= rule.error_rate
    if roll < rule.malformed_rate:
        return HttpResponse(b'{"total": 3, "items": [', content_type="application/json")
    return None
