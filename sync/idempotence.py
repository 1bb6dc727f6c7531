"""Writes to outside systems that are safe to repeat: the SyncLink contract.

django-q2 delivers at least once and processes die, so every step that writes
to the portal or to Sage follows the same three moves for one record, keyed
by (tenant, kind, sage_key) — the unique key of SyncLink:

1. **Before** the outside call, `mark_pending(...)` commits the link in state
   PENDING with the hash of what is about to be sent (`sent_hash`).
2. The step makes the call. The outside system is addressed by our key (the
   portal's `external_id` = VENDORID / PONUMBER / DOCNBR, the CFDI UUID in
   Sage's FOLIOCFD), never by a number only it knows.
3. **After** it answers, `confirm(...)` writes, in one transaction, the link
   (CONFIRMED, portal id, `content_hash` = what was sent) and the
   RecordOutcome. `record_failure(...)` does the same for an error.

A crash between 2 and 3 leaves the link PENDING (or SENT, for a batch the
outside system accepted but whose per-item result we did not yet record).
Nothing is written again for such a link until the step has asked the
outside system, by its external id, whether the record is there:
`send_once()` runs `lookup()` first for every PENDING/SENT link and only
calls `send()` when the answer is "not there". So a rerun after a crash at
any point creates no duplicate and loses nothing.

A CONFIRMED link whose `content_hash` equals the new hash costs nothing: the
step skips it (an unchanged PO makes no portal call). In a dry run
`send_once()` builds the payload, records it with `ctx.would_send`, and
writes nothing anywhere.
"""
from __future__ import annotations

import enum
from typing import Any, Callable

from django.db import transaction
from django.utils import timezone

from sync.models import RecordOutcome, SyncLink
from sync.steps.base import StepContext

ERROR_MAX = 500


class Sent(enum.Enum):
    UNCHANGED = "unchanged"
    CREATED = "created"
    UPDATED = "updated"
    RECOVERED = "recovered"   # a crashed run's write was found on the outside system
    WOULD_SEND = "would_send"
    FAILED = "failed"


def get_link(ctx: StepContext, kind: str, sage_key: str) -> SyncLink | None:
    return SyncLink.objects.filter(tenant_id=ctx.tenant_id, kind=kind, sage_key=sage_key).first()


def needs_lookup(link: SyncLink | None) -> bool:
    """True when an earlier write may have reached the outside system unrecorded."""
    return link is not None and link.state in (SyncLink.State.PENDING, SyncLink.State.SENT)


def mark_pending(ctx: StepContext, kind: str, sage_key: str, content_hash: str) -> SyncLink:
    with transaction.atomic():
        link, _ = SyncLink.objects.select_for_update().get_or_create(
            tenant_id=ctx.tenant_id, kind=kind, sage_key=sage_key,
            defaults={"state": SyncLink.State.PENDING, "sent_hash": content_hash},
        )
        if link.state != SyncLink.State.PENDING or link.sent_hash != content_hash:
            link.state, link.sent_hash = SyncLink.State.PENDING, content_hash
            link.save(update_fields=["state", "sent_hash", "updated"])
    return link


def mark_sent(link: SyncLink, portal_id: str = "") -> None:
    """The outside system accepted the write; its per-record result is still to come."""
    link.state = SyncLink.State.SENT
    link.portal_id = portal_id or link.portal_id
    link.save(update_fields=["state", "portal_id", "updated"])


def confirm(
    ctx: StepContext, link: SyncLink, *, portal_id: str, action: str, snapshot: dict[str, Any] | None = None
) -> None:
    with transaction.atomic():
        link.state = SyncLink.State.CONFIRMED
        link.portal_id = portal_id or link.portal_id
        link.content_hash = link.sent_hash or link.content_hash
        link.save(update_fields=["state", "portal_id", "content_hash", "updated"])
        _outcome(ctx, link, action, RecordOutcome.Status.SUCCEEDED, "", False, snapshot)


def record_failure(
    ctx: StepContext, link: SyncLink, *, action: str, error: str, permanent: bool,
    snapshot: dict[str, Any] | None = None,
) -> None:
    """A write the outside system refused (or we could not deliver)."""
    with transaction.atomic():
        if permanent:
            link.state = SyncLink.State.FAILED
            link.save(update_fields=["state", "updated"])
        _outcome(ctx, link, action, RecordOutcome.Status.FAILED, error, permanent, snapshot)


def send_once(
    ctx: StepContext, *, kind: str, sage_key: str, content_hash: str, action: str,
    payload: dict[str, Any], lookup: Callable[[], str | None], send: Callable[[str], str],
    target: str = "portal",
) -> Sent:
    """One keyed write, following the contract above.

    `lookup()` returns the outside id of the record if the outside system has
    it (asked by our external id), else None. `send()` writes it and returns
    `send(portal_id)` writes it — a create when `portal_id` is "", a replace
    of that record otherwise — and returns the outside id. Exceptions from
    `send()` propagate with the link left PENDING, so the next run looks
    before it writes.
    """
    link = get_link(ctx, kind, sage_key)
    if needs_lookup(link):
        found = lookup()
        if found and link.sent_hash == content_hash:
            if not ctx.dry_run:
                confirm(ctx, link, portal_id=found, action=action, snapshot=payload)
            return Sent.RECOVERED
        if found:
            link.portal_id = found
    if link and link.state == SyncLink.State.CONFIRMED and link.content_hash == content_hash:
        return Sent.UNCHANGED
    if ctx.dry_run:
        ctx.would_send(target, sage_key, payload)
        return Sent.WOULD_SEND
    existing_id = link.portal_id if link else ""
    link = mark_pending(ctx, kind, sage_key, content_hash)
    portal_id = send(existing_id)
    confirm(ctx, link, portal_id=portal_id, action=action, snapshot=payload)
    return Sent.UPDATED if existing_id else Sent.CREATED


def _outcome(
    ctx: StepContext, link: SyncLink, action: str, status: str, error: str, permanent: bool,
    snapshot: dict[str, Any] | None,
) -> None:
    outcome, _ = RecordOutcome.objects.get_or_create(
        tenant_id=ctx.tenant_id, kind=link.kind, sage_key=link.sage_key, action=action,
        defaults={"step": ctx.step, "status": status},
    )
    outcome.run_id = ctx.run_id
    outcome.step = ctx.step
    outcome.status = status
    outcome.portal_id = link.portal_id
    outcome.attempts += 1
    outcome.permanent = permanent
    outcome.last_error = ctx.tenant.redact(error)[:ERROR_MAX]
    outcome.request_snapshot = strip_secrets(snapshot or {})
    outcome.save()


SECRET_KEYS = {"password", "secret", "pdptenantsecret", "pdptenantkey", "authorization", "key", "token"}


def strip_secrets(value: Any) -> Any:
    """A request snapshot fit to store: no credential-looking key survives."""
    if isinstance(value, dict):
        return {
            k: ("***" if str(k).lower().replace("-", "").replace("_", "") in SECRET_KEYS else strip_secrets(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [strip_secrets(v) for v in value]
    return value


# -- the same moves for many records at once ----------------------------------
# A batch endpoint sends many records in one call; these keep the contract
# above (PENDING committed before the call, CONFIRMED with its outcome after)
# in a few queries for the whole batch instead of a few per record.

def get_links(ctx: StepContext, kind: str, sage_keys: list[str]) -> dict[str, SyncLink]:
    links = SyncLink.objects.filter(tenant_id=ctx.tenant_id, kind=kind, sage_key__in=sage_keys)
    return {link.sage_key: link for link in links}


def mark_pending_many(ctx: StepContext, kind: str, hashes: dict[str, str]) -> dict[str, SyncLink]:
    """mark_pending for every sage_key → content_hash of `hashes`, committed together."""
    now = timezone.now()
    with transaction.atomic():
        links = {link.sage_key: link for link in SyncLink.objects.select_for_update().filter(
            tenant_id=ctx.tenant_id, kind=kind, sage_key__in=list(hashes))}
        changed = []
        for sage_key, link in links.items():
            if link.state != SyncLink.State.PENDING or link.sent_hash != hashes[sage_key]:
                link.state, link.sent_hash, link.updated = SyncLink.State.PENDING, hashes[sage_key], now
                changed.append(link)
        SyncLink.objects.bulk_update(changed, ["state", "sent_hash", "updated"])
        new = [SyncLink(tenant_id=ctx.tenant_id, kind=kind, sage_key=sage_key, state=SyncLink.State.PENDING,
                        sent_hash=content_hash) for sage_key, content_hash in hashes.items() if sage_key not in links]
        SyncLink.objects.bulk_create(new)
    if new and any(link.pk is None for link in new):
        # Backends that do not return ids from bulk_create: read them back.
        links.update(get_links(ctx, kind, [link.sage_key for link in new]))
    else:
        links.update({link.sage_key: link for link in new})
    return links


def confirm_many(
    ctx: StepContext, confirmed: list[tuple[SyncLink, str, dict[str, Any] | None]], *, action: str
) -> None:
    """confirm for every (link, portal_id, snapshot), in one transaction."""
    if not confirmed:
        return
    now = timezone.now()
    with transaction.atomic():
        for link, portal_id, _snapshot in confirmed:
            link.state = SyncLink.State.CONFIRMED
            link.portal_id = portal_id or link.portal_id
            link.content_hash = link.sent_hash or link.content_hash
            link.updated = now
        SyncLink.objects.bulk_update([link for link, _p, _s in confirmed],
                                     ["state", "portal_id", "content_hash", "updated"])
        _outcomes(ctx, [(link, snapshot) for link, _p, snapshot in confirmed], action, now)


def _outcomes(ctx: StepContext, succeeded: list[tuple[SyncLink, dict[str, Any] | None]], action: str, now) -> None:
    kinds = {link.kind for link, _snapshot in succeeded}
    existing = {(o.kind, o.sage_key): o for o in RecordOutcome.objects.filter(
        tenant_id=ctx.tenant_id, kind__in=kinds, action=action,
        sage_key__in=[link.sage_key for link, _snapshot in succeeded])}
    changed, new = [], []
    for link, snapshot in succeeded:
        outcome = existing.get((link.kind, link.sage_key))
        if outcome is None:
            outcome = RecordOutcome(tenant_id=ctx.tenant_id, kind=link.kind, sage_key=link.sage_key, action=action)
            new.append(outcome)
        else:
            changed.append(outcome)
        outcome.run_id, outcome.step, outcome.status = ctx.run_id, ctx.step, RecordOutcome.Status.SUCCEEDED
        outcome.portal_id, outcome.attempts, outcome.permanent = link.portal_id, outcome.attempts + 1, False
        outcome.last_error, outcome.request_snapshot, outcome.updated = "", strip_secrets(snapshot or {}), now
    RecordOutcome.objects.bulk_update(changed, ["run_id", "step", "status", "portal_id", "attempts", "permanent",
                                                "last_error", "request_snapshot", "updated"])
    RecordOutcome.objects.bulk_create(new)
