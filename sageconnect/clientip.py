"""Who is asking: the client's address (behind SAGECONNECT_PROXY_COUNT proxies), and the
answer to a login that django-axes refuses."""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or, behind N trusted proxies, the address the outermost of them saw.

    Each proxy appends the address it was reached from to X-Forwarded-For, so
    the N-th entry from the right is the one our own outermost proxy wrote;
    anything left of it is whatever the client chose to send.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    count = int(getattr(settings, "PROXY_COUNT", 0))
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    return forwarded[-count] if len(forwarded) >= count else remote


def locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' refusal, in the site's look and the reader's language (AXES_LOCKOUT_CALLABLE)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "registration/locked_out.html",
                  {"minutes": minutes, "failures": settings.AXES_FAILURE_LIMIT}, status=429)
