"""Fault injection for the stand-ins, per target ("portal:<tenantId>", "sage:<COMPANY>", "sat").

Tests and the admin set a FaultRule; every stand-in view calls `inject()`
first and returns its answer when it gives one.
"""
from __future__ import annotations

import json
import random
import socket
import time

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

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


def _client_socket(request: HttpRequest) -> socket.socket | None:
    """The connection under the request, when served by Django's own server (runserver, live_server)."""
    stream = request.META.get("wsgi.input")
    reader = getattr(getattr(stream, "_read", None), "__self__", None)
    return getattr(getattr(reader, "raw", None), "_sock", None)


def _dropped_connection(request: HttpRequest) -> HttpResponse:
    """Start an answer that promises 4096 bytes, send a few, then cut the connection.

    A WSGI application may not set `Connection: close`, so the cut is made on
    the socket itself; under a server where it cannot be reached, raising
    mid-body makes the server abort the connection instead.
    """
    connection = _client_socket(request)

    def body():
        yield b'{"tru'
        if connection is not None:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        raise ConnectionAbortedError("sandbox fault: connection dropped mid-answer")

    response = StreamingHttpResponse(body(), content_type="application/json")
    response["Content-Length"] = "4096"
    return response


def inject(request: HttpRequest, target: str, *, error_body=None) -> HttpResponse | None:
    rule = rule_for(target)
    if rule is None:
        return None
    if rule.refuse_when_body_has and request.method != "GET" and rule.refuse_when_body_has.encode() in request.body:
        # A refusal that names no entry, as a business-layer error does ("General").
        body = error_body(400, rule.refuse_code or "General", "The request failed in the business layer.") \
            if error_body else {"code": 400, "description": "Refused"}
        return HttpResponse(json.dumps(body), status=400, content_type="application/json")
    if rule.latency_ms:
        time.sleep(rule.latency_ms / 1000)
    roll = _random.random()
    if roll < rule.drop_rate:
        return _dropped_connection(request)
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
