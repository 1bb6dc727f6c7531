"""One run of a tenant at a time, across processes and machines.

A tenant's lease is one TenantLease row. A free lease (holder "") is taken
with one conditional UPDATE; a held one only by compare-and-swap on the
(holder, expires) just read, so two workers racing for it cannot both win:
the database answers "1 row" to exactly one of them. A holder renews it
while its run goes on (a LeaseKeeper thread, every third of the lease;
`StepContext.heartbeat()` renews only when that is overdue), and releases it
at the end — also when stopped by SIGTERM or SIGINT (sync.engine.pipeline).

A holder that died without releasing never blocks a tenant for long: the
row names the holder's host, pid and the process's start time, so a taker on
the same host sees at once that the process is gone (a reused pid has another
start time) and takes over; a holder on another host is waited for until its
lease runs out (settings.SYNC_LEASE_SECONDS, ≤ 120 s by default). The run the
dead holder left "running" is then closed as interrupted, saying when and by
whom that was found.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from enum import Enum

import psutil
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sync.engine.crashpoints import crashpoint
from sync.local_time import local_text
from sync.models import SyncRun, TenantLease
from tenants.models import Tenant

logger = logging.getLogger("sync.engine.lease")

# Two readings of one process's start time differ by rounding only; a reused pid
# belongs to a process started at least this much later.
START_TIME_TOLERANCE = 0.5


class HolderState(str, Enum):
    ALIVE = "alive"      # a process of this host, still running
    GONE = "gone"        # a process of this host that has ended (or its pid now belongs to another)
    UNKNOWN = "unknown"  # a process of another host: only its lease's expiry tells


class LeaseHeld(Exception):
    """Another process runs this tenant now."""

    def __init__(self, tenant_id: int, holder: str, expires: dt.datetime,
                 state: HolderState = HolderState.UNKNOWN) -> None:
        self.tenant_id, self.holder, self.expires, self.state = tenant_id, holder, expires, state
        until = tenant_time(tenant_id, expires)
        if state == HolderState.ALIVE:
            text = _("The tenant is being synchronised by %(holder)s, a process that is still running on this "
                     "host (lease until %(expires)s).")
        else:
            text = _("The tenant is being synchronised by %(holder)s on another host, which cannot be checked from "
                     "here; its lease runs out at %(expires)s unless that process renews it.")
        super().__init__(text % {"holder": holder, "expires": until})


def tenant_time(tenant_id: int, moment: dt.datetime) -> str:
    """A time in a note about one tenant, as its staff read it: in its zone, marked ("2026-01-20 10:30:05 CST").
    One query, on the rare paths (a lease held, a run closed as interrupted) that write such a note."""
    zone = Tenant.objects.filter(pk=tenant_id).values_list("time_zone", flat=True).first() or ""
    return local_text(moment, zone, seconds=True)


@dataclass(frozen=True)
class Lease:
    tenant_id: int
    holder: str
    expires: dt.datetime


@dataclass(frozen=True)
class HolderProcess:
    host: str
    pid: int
    started: float  # the process's start time, seconds since the epoch


_this_process: HolderProcess | None = None


def this_process() -> HolderProcess:
    global _this_process
    # Re-read after a fork (django-q2 forks its workers): a cached value would name the parent.
    if _this_process is None or _this_process.pid != os.getpid():
        _this_process = HolderProcess(socket.gethostname(), os.getpid(), psutil.Process().create_time())
    return _this_process


def new_holder_name() -> str:
    """Host, process and a nonce: readable in messages, unique per run."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_seconds() -> int:
    return int(getattr(settings, "SYNC_LEASE_SECONDS", 120))


def holder_state(lease: TenantLease) -> HolderState:
    """Whether the process that holds `lease` still runs, as far as this host can tell."""
    if not lease.host or lease.host != socket.gethostname() or lease.pid is None:
        return HolderState.UNKNOWN
    try:
        process = psutil.Process(lease.pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return HolderState.GONE
        started = process.create_time()
    except psutil.NoSuchProcess:
        return HolderState.GONE
    except psutil.AccessDenied:
        return HolderState.ALIVE  # another user's process that exists: do not guess it dead
    if lease.process_started is not None and abs(started - lease.process_started) > START_TIME_TOLERANCE:
        return HolderState.GONE  # the pid was reused by a later process
    return HolderState.ALIVE


def holder_gone(lease: TenantLease, now: dt.datetime | None = None) -> bool:
    """The holder will never release it: its process ended, or it stopped renewing and the lease ran out."""
    if not lease.holder:
        return False
    return lease.expires < (now or timezone.now()) or holder_state(lease) == HolderState.GONE


def take_lease(tenant_id: int, holder: str, seconds: int | None = None) -> Lease:
    """Take (or extend) the tenant's lease for `holder`, or raise LeaseHeld."""
    now = timezone.now()
    expires = now + dt.timedelta(seconds=seconds or lease_seconds())
    process = this_process()
    claim = {"holder": holder, "expires": expires, "host": process.host, "pid": process.pid,
             "process_started": process.started, "taken": now}
    # The common case, one UPDATE: the last holder released it. The row exists after a tenant's first run.
    if _take_free(tenant_id, claim) or (_ensure_row(tenant_id, now) and _take_free(tenant_id, claim)):
        crashpoint("lease:taken")
        return Lease(tenant_id, holder, expires)
    current = TenantLease.objects.get(tenant_id=tenant_id)
    if current.holder == holder:
        TenantLease.objects.filter(tenant_id=tenant_id, holder=holder).update(expires=expires)
        return Lease(tenant_id, holder, expires)
    state = holder_state(current)
    if current.expires < now or state == HolderState.GONE:
        # Compare-and-swap on what was read: a holder that renewed meanwhile keeps its lease.
        swapped = TenantLease.objects.filter(tenant_id=tenant_id, holder=current.holder,
                                             expires=current.expires).update(**claim)
        if swapped:
            why = _("its process has ended") if state == HolderState.GONE else _("its lease ran out")
            close_orphaned_runs(tenant_id, keep=holder, why=why, found_by=holder)
            crashpoint("lease:taken")
            return Lease(tenant_id, holder, expires)
        current = TenantLease.objects.get(tenant_id=tenant_id)
        state = holder_state(current)
    raise LeaseHeld(tenant_id, current.holder, current.expires, state)


def _take_free(tenant_id: int, claim: dict) -> bool:
    return bool(TenantLease.objects.filter(tenant_id=tenant_id, holder="").update(**claim))


def close_orphaned_runs(tenant_id: int, *, keep: str, why: str, found_by: str) -> int:
    """Close as interrupted the tenant's runs still marked running by holders that no longer hold its lease.

    Called by whoever now owns (or has just freed) the lease, so no other run of
    the tenant can be going on legitimately.
    """
    now = timezone.now()
    note = _("Interrupted: the run stopped without finishing (%(why)s); found at %(when)s by %(finder)s.") % {
        "why": why, "when": tenant_time(tenant_id, now), "finder": found_by}
    return (SyncRun.objects.filter(tenant_id=tenant_id, status=SyncRun.Status.RUNNING).exclude(lease_holder=keep)
            .update(status=SyncRun.Status.INTERRUPTED, finished=now, note=note))


def release_gone_holder(tenant_id: int, released_by: str) -> bool:
    """An admin's release of a lease whose holder is gone; False (nothing changed) while the holder may run."""
    lease = TenantLease.objects.filter(tenant_id=tenant_id).first()
    if lease is None or not holder_gone(lease):
        return False
    freed = TenantLease.objects.filter(tenant_id=tenant_id, holder=lease.holder, expires=lease.expires).update(
        holder="", expires=timezone.now())
    if freed:
        close_orphaned_runs(tenant_id, keep="", why=_("its holder was gone; the lease was released"),
                            found_by=released_by)
    return bool(freed)


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
        # Born free, so whoever updates it first owns it.
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
                try:
                    renewed = renew_lease(self.tenant_id, self.holder, self.seconds)
                except DatabaseError as error:
                    # A busy database (SQLite's write lock): the lease has two more renewals of slack.
                    logger.warning("Tenant %s: could not renew the lease: %s", self.tenant_id, error)
                    continue
                if not renewed:
                    self.lost = True
                    return
                self.renewed = time.monotonic()
        finally:
            connections.close_all()
