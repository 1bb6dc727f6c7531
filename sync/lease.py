"""One run of a tenant at a time, across processes and machines.

A tenant's lease is one TenantLease row. It is taken with a conditional
UPDATE — "expired, or already mine" — so two workers racing for it cannot
both win: the database answers "1 row" to exactly one of them. A holder
renews it while its run goes on (a LeaseKeeper thread, every third of the
lease; `StepContext.heartbeat()` renews only when that is overdue), and
releases it at the end. A crashed holder
never releases: its lease simply expires (settings.SYNC_LEASE_SECONDS) and
the next run takes it over.
"""
from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from sync.crashpoints import crashpoint
from sync.models import TenantLease


class LeaseHeld(Exception):
    """Another process runs this tenant now."""

    def __init__(self, tenant_id: int, holder: str, expires: dt.datetime) -> None:
        self.tenant_id, self.holder, self.expires = tenant_id, holder, expires
        super().__init__(
            _("The tenant is being synchronised by %(holder)s (lease until %(expires)s UTC).")
            % {"holder": holder, "expires": expires.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")}
        )


@dataclass(frozen=True)
class Lease:
    tenant_id: int
    holder: str
    expires: dt.datetime


def new_holder_name() -> str:
    """Host, process and a nonce: readable in messages, unique per run."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_seconds() -> int:
    return int(getattr(settings, "SYNC_LEASE_SECONDS", 900))


def take_lease(tenant_id: int, holder: str, seconds: int | None = None) -> Lease:
    """Take (or extend) the tenant's lease for `holder`, or raise LeaseHeld."""
    now = timezone.now()
    expires = now + dt.timedelta(seconds=seconds or lease_seconds())
    # The row exists after a tenant's first run: try the update first, make the row only when it found none.
    taken = _conditional_take(tenant_id, holder, now, expires) or (
        _ensure_row(tenant_id, now) and _conditional_take(tenant_id, holder, now, expires))
    if taken:
        crashpoint("lease:taken")
        return Lease(tenant_id, holder, expires)
    current = TenantLease.objects.get(tenant_id=tenant_id)
    raise LeaseHeld(tenant_id, current.holder, current.expires)


def _conditional_take(tenant_id: int, holder: str, now: dt.datetime, expires: dt.datetime) -> bool:
    return bool(
        TenantLease.objects.filter(tenant_id=tenant_id)
        .filter(Q(expires__lt=now) | Q(holder=holder))
        .update(holder=holder, expires=expires)
    )


def renew_interval() -> float:
    """Seconds between renewals: a third of the lease, so two renewals can fail before it runs out."""
    return lease_seconds() / 3


def renew_lease(tenant_id: int, holder: str, seconds: int | None = None) -> bool:
    """Push the expiry on; False means the lease was lost (it expired and was taken)."""
    expires = timezone.now() + dt.timedelta(seconds=seconds or lease_seconds())
    return bool(TenantLease.objects.filter(tenant_id=tenant_id, holder=holder).update(expires=expires))


def release_lease(tenant_id: int, holder: str) -> bool:
    return bool(
        TenantLease.objects.filter(tenant_id=tenant_id, holder=holder).update(holder="", expires=timezone.now())
    )


def current_lease(tenant_id: int) -> TenantLease | None:
    return TenantLease.objects.filter(tenant_id=tenant_id, expires__gte=timezone.now()).exclude(holder="").first()


def _ensure_row(tenant_id: int, now: dt.datetime) -> bool:
    """True when the tenant's lease row had to be made (or another process just made it)."""
    if TenantLease.objects.filter(tenant_id=tenant_id).exists():
        return False
    try:
        # Born expired, so whoever updates it first owns it.
        with transaction.atomic():
            TenantLease.objects.create(tenant_id=tenant_id, holder="", expires=now - dt.timedelta(seconds=1))
    except IntegrityError:
        pass  # another process created it between our check and our insert
    return True


class LeaseKeeper:
    """Renews a held lease from a background thread while a long step runs.

    Steps may block for minutes (a slow Sage query, a portal back-off); without
    renewal the lease would expire under a live holder and a second run would
    start. `lost` turns True if a renewal finds the lease gone.
    """

    def __init__(self, tenant_id: int, holder: str, seconds: int | None = None) -> None:
        self.tenant_id, self.holder = tenant_id, holder
        self.seconds = seconds or lease_seconds()
        self.lost = False
        self.renewed = time.monotonic()  # last successful renewal (taking counts as one)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_until_stopped, name=f"lease-{tenant_id}", daemon=True)

    def __enter__(self) -> "LeaseKeeper":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _renew_until_stopped(self) -> None:
        try:
            while not self._stop.wait(self.seconds / 3):
                if not renew_lease(self.tenant_id, self.holder, self.seconds):
                    self.lost = True
                    return
                self.renewed = time.monotonic()
        finally:
            connections.close_all()
