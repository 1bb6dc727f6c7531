"""The outbound record's moves: one place writes them, for every kind.

A record (sync.models.Outbound, one per tenant × kind × key) moves like this:

    build says "not yet"            → WAITING, with the reason (another record first, a fact to appear)
    before the outside call         → PENDING, committed, with the hash of the payload (sent_hash)
    accepted, per-record answer due → SENT
    answered                        → CONFIRMED: content_hash = what landed, the outside ids kept
                                      FAILED:    refused (a person must act), or could not be built
                                      PENDING:   a passing failure after the call (it may have landed),
                                                 tried again after a backoff

A crash anywhere leaves PENDING or SENT: the exporter asks the outside system
by our own key before it writes again (sync.engine.exporter), so a rerun
creates no duplicate and loses nothing.

Bounded retries: a passing failure (network, 5xx, 429, a timeout) counts in
`attempts` and the record is not tried again before `not_before` (the backoff
doubles each time, settings.SYNC_RETRY_BACKOFF_SECONDS … _MAX_SECONDS); after
settings.SYNC_MAX_ATTEMPTS failures in a row it needs a person ("exceeded").
A refusal needs a person at once ("permanent"), as does a setting of the
tenant that must change ("config") or something only a person can do outside
SageConnect ("person"). A record that needs a person is not sent again as it
stands; a person's Retry, a change of its content, or Resolve sends it again;
Ignore leaves it until its content changes. Nothing is retried forever
silently: every such record is on the attention page with what to do.

Each move is one transaction with its history row (OutboundAttempt) and the
projections (sync.projections). A dry run counts and logs, and writes nothing.
"""
from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sageconnect.bulk import update_rows
from sync import projections
from sync.engine.context import StepContext
from sync.models import ATTEMPT_MESSAGE_MAX, Outbound, OutboundAttempt

ERROR_MAX = 500
KEYS_PER_QUERY = 500  # SQL Server takes at most 2,100 parameters a statement
State = Outbound.State
Attention = Outbound.Attention
Outcome = OutboundAttempt.Outcome
RECORD_FIELDS = ["state", "content_hash", "sent_hash", "attempts", "not_before", "attention", "reason_code", "reason",
                 "since", "last_error", "last_request", "outside_id", "outside_ids", "action", "step", "run",
                 "updated"]


# --- what an exporter answers for one record -------------------------------------------

@dataclass(frozen=True)
class Needs:
    """A person must act: which kind of attention, a code, and the sentence saying what to do."""
    attention: str
    code: str
    what_to_do: str


@dataclass(frozen=True)
class Confirmed:
    """The outside system holds it (`recovered`: an earlier run's write, found there)."""
    outside_id: str = ""
    ids: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    recovered: bool = False
    needs: Needs | None = None        # it landed, but a person must look (e.g. Sage's total is not the CFDI's)
    counted: str | None = None        # "created", "updated", "skipped" or "" (not counted); None: created/updated


@dataclass(frozen=True)
class Failed:
    """It did not land: refused (`permanent`), or a passing failure to try again after a backoff."""
    error: str
    code: str = ""
    permanent: bool = False
    needs: Needs | None = None        # a person must act: its kind and what to do (implies no retry as it stands)
    outside_id: str = ""              # part of the work landed (e.g. the vendor was made, its portal link not)


@dataclass(frozen=True)
class Waiting:
    """Not sent: it waits for another record or an outside fact; `person`: only a person ends the wait."""
    code: str
    reason: str
    person: bool = False


@dataclass(frozen=True)
class Unanswered:
    """The outside system accepted it and has not said yet what became of it: asked again next cycle."""
    note: str


Result = Confirmed | Failed | Waiting | Unanswered


@dataclass
class Write:
    """One result to record, with the payload it concerns (stored as the last request)."""
    key: str
    result: Result
    payload: dict[str, Any] | None = None
    content_hash: str = ""
    action: str = ""
    sent: bool = False                 # the outside system was called for it


def payload_hash(payload: Any) -> str:
    """The hash of a built payload: one spelling per payload, whatever the key order."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


SECRET_KEYS = {"password", "secret", "pdptenantsecret", "pdptenantkey", "authorization", "key", "token"}


def strip_secrets(value: Any) -> Any:
    """A request fit to store: no credential-looking key survives."""
    if isinstance(value, dict):
        return {
            k: ("***" if str(k).lower().replace("-", "").replace("_", "") in SECRET_KEYS else strip_secrets(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [strip_secrets(v) for v in value]
    return value


def max_attempts() -> int:
    return int(getattr(settings, "SYNC_MAX_ATTEMPTS", 5))


def backoff(attempts: int) -> dt.timedelta:
    """How long after its `attempts`-th failure in a row a record waits: the base, doubled each time, capped."""
    base = int(getattr(settings, "SYNC_RETRY_BACKOFF_SECONDS", 300))
    cap = int(getattr(settings, "SYNC_RETRY_BACKOFF_MAX_SECONDS", 6 * 3600))
    return dt.timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def backing_off(record: Outbound | None, now: dt.datetime) -> bool:
    return record is not None and record.not_before is not None and record.not_before > now


def load(tenant_id: int, kind: str, keys: Iterable[str]) -> dict[str, Outbound]:
    keys = sorted(set(keys))
    found: dict[str, Outbound] = {}
    for start in range(0, len(keys), KEYS_PER_QUERY):
        chunk = keys[start:start + KEYS_PER_QUERY]
        for record in Outbound.objects.filter(tenant_id=tenant_id, kind=kind, key__in=chunk):
            found[record.key] = record
    return found


class Outbox:
    """The outbound records of one kind, as one step run moves them."""

    def __init__(self, ctx: StepContext, kind: str) -> None:
        self.ctx, self.kind = ctx, kind
        self.known: dict[str, Outbound] = {}

    def load(self, keys: Iterable[str]) -> dict[str, Outbound]:
        keys = set(keys)
        wanted = [key for key in keys if key not in self.known]
        if wanted:
            self.known.update(load(self.ctx.tenant_id, self.kind, wanted))
        return {key: self.known[key] for key in keys if key in self.known}

    # -- around the outside call ------------------------------------------------------

    def mark_pending(self, writes: list[tuple[str, str, str]]) -> None:
        """(key, hash of the payload, outside id meant) → PENDING, committed before the call is made."""
        if self.ctx.dry_run or not writes:
            return
        now = timezone.now()
        with transaction.atomic():
            current = {r.key: r for r in Outbound.objects.select_for_update().filter(
                tenant_id=self.ctx.tenant_id, kind=self.kind, key__in=[key for key, _h, _o in writes])}
            changed, new = [], []
            for key, content_hash, outside_id in writes:
                record = current.get(key)
                if record is None:
                    new.append(Outbound(tenant_id=self.ctx.tenant_id, kind=self.kind, key=key, state=State.PENDING,
                                        sent_hash=content_hash, outside_id=outside_id, step=self.ctx.step,
                                        run_id=self.ctx.run_id))
                    continue
                wanted = (State.PENDING, content_hash, outside_id or record.outside_id, "")
                if (record.state, record.sent_hash, record.outside_id, record.attention) != wanted:
                    # Being tried again: what a person was asked is tested anew by the answer.
                    record.state, record.sent_hash, record.outside_id, record.attention = wanted
                    record.reason_code, record.reason, record.since, record.updated = "", "", None, now
                    changed.append(record)
            update_rows(changed, ["state", "sent_hash", "outside_id", "attention", "reason_code",
                                                   "reason", "since", "updated"])
            created = Outbound.objects.bulk_create(new)
        self.known.update({r.key: r for r in changed})
        self._remember_created(created)

    def mark_sent(self, keys: list[str]) -> None:
        """The outside system accepted them; what became of each is still to come."""
        if self.ctx.dry_run or not keys:
            return
        now = timezone.now()
        Outbound.objects.filter(tenant_id=self.ctx.tenant_id, kind=self.kind, key__in=keys).update(
            state=State.SENT, updated=now)
        for key in keys:
            if key in self.known:
                self.known[key].state = State.SENT

    def forget(self, keys: list[str]) -> None:
        """Records of writes that never reached the outside system and are not to be made any more."""
        if self.ctx.dry_run or not keys:
            return
        Outbound.objects.filter(tenant_id=self.ctx.tenant_id, kind=self.kind, key__in=keys, outside_id="",
                                content_hash="").delete()
        for key in keys:
            self.known.pop(key, None)

    def _remember_created(self, created: list[Outbound]) -> None:
        if any(record.pk is None for record in created):
            # Backends that do not return ids from bulk_create: read them back.
            self.known.update(load(self.ctx.tenant_id, self.kind, [r.key for r in created]))
        else:
            self.known.update({r.key: r for r in created})

    # -- recording results ------------------------------------------------------------

    def record(self, writes: list[Write]) -> None:
        """Each write's result on its record, with its history row and the projections, in one transaction."""
        if not writes:
            return
        self.load([w.key for w in writes])
        now = timezone.now()
        changed: list[Outbound] = []
        new: list[Outbound] = []
        rows: list[tuple[Outbound, OutboundAttempt]] = []
        for write in writes:
            record = self.known.get(write.key)
            if record is None:
                record = Outbound(tenant_id=self.ctx.tenant_id, kind=self.kind, key=write.key,
                                  state=State.WAITING)
            elif self.ctx.dry_run:
                record = copy.copy(record)
            was_confirmed = bool(record.content_hash)
            row = self._apply(record, write, now)
            self._count(write, row is not None, was_confirmed)
            if row is None:
                continue
            (new if record.pk is None else changed).append(record)
            rows.append((record, row))
        if self.ctx.dry_run or not rows:
            return
        with transaction.atomic():
            update_rows(changed, RECORD_FIELDS)
            created = Outbound.objects.bulk_create(new)
            if any(record.pk is None for record in created):
                ids = {r.key: r.pk for r in load(self.ctx.tenant_id, self.kind, [r.key for r in created]).values()}
                for record in created:
                    record.pk = record.id = ids[record.key]
            for record, row in rows:
                row.record_id = record.pk
            OutboundAttempt.objects.bulk_create([row for _record, row in rows])
            projections.project(self.kind, changed + created)
        self.known.update({r.key: r for r in changed + created})

    def _apply(self, record: Outbound, write: Write, now: dt.datetime) -> OutboundAttempt | None:
        """Moves `record` in memory; the history row to write, or None when nothing changed."""
        result = write.result
        if isinstance(result, Confirmed):
            return self._confirmed(record, write, result, now)
        if isinstance(result, Failed):
            return self._failed(record, write, result, now)
        if isinstance(result, Waiting):
            return self._waiting(record, result, now)
        record.state, record.last_error = State.SENT, result.note[:ERROR_MAX]
        self._stamp(record, write, now)
        return self._row(record, Outcome.UNANSWERED, message=result.note)

    def _confirmed(self, record: Outbound, write: Write, result: Confirmed, now: dt.datetime) -> OutboundAttempt:
        record.state = State.CONFIRMED
        record.content_hash = write.content_hash or record.sent_hash or record.content_hash
        record.sent_hash = ""
        record.outside_id = (result.outside_id or record.outside_id)[:64]
        record.outside_ids = {**record.outside_ids, **result.ids}
        record.attempts, record.not_before, record.last_error = 0, None, ""
        set_needs(record, result.needs, now)
        if write.payload is not None:
            record.last_request = strip_secrets(write.payload)
        self._stamp(record, write, now)
        message = " ".join(part for part in (result.note, result.needs.what_to_do if result.needs else "") if part)
        return self._row(record, Outcome.RECOVERED if result.recovered else Outcome.CONFIRMED, message=message,
                         request=write.payload, ids=result.ids)

    def _failed(self, record: Outbound, write: Write, result: Failed, now: dt.datetime) -> OutboundAttempt | None:
        error = self.ctx.tenant.redact(result.error)[:ERROR_MAX]
        needs = result.needs or (Needs(Attention.PERMANENT, result.code or "refused", _(
            "Refused: %(error)s Correct the cause (in Sage, on the portal or in the tenant's settings), then "
            "press Retry.") % {"error": _sentence(error)}) if result.permanent else None)
        refused = needs is not None
        if (needs is not None and not write.sent and record.pk is not None and record.state == State.FAILED
                and (record.attention, record.reason_code, record.last_error) == (needs.attention, needs.code, error)):
            return None  # the same refusal of what could not be built, already recorded: nothing new to say
        record.attempts += 1
        record.last_error = error
        record.outside_id = (result.outside_id or record.outside_id)[:64]
        if write.payload is not None:
            record.last_request = strip_secrets(write.payload)
        if write.content_hash and write.sent:  # what went out; a read-only check is simply asked again
            record.sent_hash = write.content_hash
        if needs is not None:
            record.state, record.not_before = State.FAILED, None
            set_needs(record, needs, now)
            outcome = Outcome.REFUSED
        else:
            record.state = State.PENDING if write.sent else State.FAILED
            record.reason_code = result.code
            if record.attempts >= max_attempts():
                record.not_before = None
                set_needs(record, Needs(Attention.EXCEEDED, result.code or "exceeded", _(
                    "Failed %(n)s times in a row, the last time with: %(error)s Check that the outside system "
                    "answers and accepts it, then press Retry.") % {"n": record.attempts, "error": _sentence(error)}),
                    now)
                outcome = Outcome.NEEDS_PERSON
            else:
                record.not_before = now + backoff(record.attempts)
                set_needs(record, None, now)
                outcome = Outcome.FAILED
        self._stamp(record, write, now)
        return self._row(record, outcome, code=result.code, message=error if not refused else record.reason,
                         request=write.payload)

    def _waiting(self, record: Outbound, result: Waiting, now: dt.datetime) -> OutboundAttempt | None:
        closed = bool(record.closed) and record.closed_code == result.code
        attention = Attention.PERSON if result.person and not closed else Attention.NONE
        said = (record.reason_code, record.reason, record.attention)
        unchanged = record.pk is not None and record.state == State.WAITING and said == (result.code, result.reason,
                                                                                          attention)
        if unchanged:
            return None
        if not (record.state == State.WAITING and record.reason_code == result.code and record.since):
            record.since = now
        record.state, record.not_before = State.WAITING, None
        record.attention, record.reason_code, record.reason = attention, result.code, result.reason
        record.run_id, record.step, record.updated = self.ctx.run_id, self.ctx.step, now
        return self._row(record, Outcome.NEEDS_PERSON if attention else Outcome.WAITING, code=result.code,
                         message=result.reason)

    def _stamp(self, record: Outbound, write: Write, now: dt.datetime) -> None:
        record.action = write.action or record.action
        record.step, record.run_id, record.updated = self.ctx.step, self.ctx.run_id, now

    def _row(self, record: Outbound, outcome: str, *, code: str = "", message: str = "",
             request: dict[str, Any] | None = None, ids: dict[str, Any] | None = None) -> OutboundAttempt:
        return OutboundAttempt(run_id=self.ctx.run_id, step=self.ctx.step, action=record.action, outcome=outcome,
                               error_code=code[:100], message=message[:ATTEMPT_MESSAGE_MAX],
                               request=strip_secrets(request or {}), outside_ids=ids or {})

    def _count(self, write: Write, written: bool, was_confirmed: bool) -> None:
        result, counts = write.result, self.ctx.result
        if isinstance(result, Confirmed):
            counted = result.counted if result.counted is not None else ("updated" if was_confirmed else "created")
            if counted:
                setattr(counts, counted, getattr(counts, counted) + 1)
        elif isinstance(result, Waiting):
            counts.skipped += 1
            if written:
                self.ctx.log(_("%(kind)s %(key)s waits: %(reason)s") % {
                    "kind": kind_word(self.kind), "key": write.key, "reason": result.reason})
        elif isinstance(result, Failed) and not written:
            counts.skipped += 1  # the same refusal as last time: already waiting for a person
        else:
            counts.failed += 1
            error = result.error if isinstance(result, Failed) else result.note
            self.ctx.log(_("%(kind)s %(key)s failed: %(error)s") % {
                "kind": kind_word(self.kind), "key": write.key, "error": error})


def kind_word(kind: str) -> str:
    try:
        return str(Outbound.Kind(kind).label)
    except ValueError:
        return kind


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def set_needs(record: Outbound, needs: Needs | None, now: dt.datetime) -> None:
    if needs is None:
        record.attention = Attention.NONE
        if record.state != State.WAITING:  # a wait keeps its reason: only the person's part of it ends
            record.reason, record.since = "", None
        return
    if not (record.attention and record.reason_code == needs.code and record.since):
        record.since = now
    record.attention, record.reason_code, record.reason = needs.attention, needs.code, needs.what_to_do


# --- what is found about a record after it landed, and what people do ---------------------

def raise_finding(tenant_id: int, kind: str, key: str, needs: Needs, *, run_id: int | None = None,
                  step: str = "") -> bool:
    """A person must act on a record for a reason found later (SAT cancelled an imported CFDI, …).

    Raised once: again only when its code changes, or never again once a person
    resolved or ignored that code. True when the record changed.
    """
    now = timezone.now()
    with transaction.atomic():
        record, created = Outbound.objects.select_for_update().get_or_create(
            tenant_id=tenant_id, kind=kind, key=key,
            defaults={"state": State.WAITING, "since": now, "run_id": run_id, "step": step})
        if not created and record.closed and record.closed_code == needs.code:
            return False
        if (record.attention, record.reason_code, record.reason) == (needs.attention, needs.code, needs.what_to_do):
            return False
        set_needs(record, needs, now)
        record.run_id, record.step = run_id or record.run_id, step or record.step
        record.save()
        OutboundAttempt.objects.create(record=record, run_id=run_id, step=step, outcome=Outcome.NEEDS_PERSON,
                                       error_code=needs.code[:100], message=needs.what_to_do[:ATTEMPT_MESSAGE_MAX])
        projections.project(kind, [record])
    return True


def clear_finding(tenant_id: int, kind: str, key: str, code: str, *, note: str = "") -> bool:
    """The reason found later no longer holds (the portal lifted its refusal): no person is needed for it."""
    with transaction.atomic():
        record = Outbound.objects.select_for_update().filter(tenant_id=tenant_id, kind=kind, key=key,
                                                             reason_code=code).exclude(attention="").first()
        if record is None:
            return False
        set_needs(record, None, timezone.now())
        record.save()
        OutboundAttempt.objects.create(record=record, outcome=Outcome.RESOLVED, error_code=code[:100],
                                       message=note[:ATTEMPT_MESSAGE_MAX])
        projections.project(kind, [record])
    return True


def close(records: list[Outbound], how: str, *, by: str, note: str) -> int:
    """A person resolved (fixed the cause: try again) or ignored (leave it until its content changes) them."""
    now = timezone.now()
    with transaction.atomic():
        rows = []
        for record in records:
            record.closed, record.closed_code, record.closed_by, record.closed_at = how, record.reason_code, by, now
            record.closed_note = note
            record.closed_hash = record.sent_hash or record.content_hash
            record.attempts, record.not_before = 0, None
            set_needs(record, None, now)
            record.updated = now
            rows.append(OutboundAttempt(record=record, outcome=how, by=by[:150], error_code=record.closed_code[:100],
                                        message=note[:ATTEMPT_MESSAGE_MAX]))
        update_rows(records, ["closed", "closed_code", "closed_by", "closed_at", "closed_note", "closed_hash",
                              "attempts", "not_before", "attention", "reason", "since", "updated"])
        OutboundAttempt.objects.bulk_create(rows)
        for kind in {r.kind for r in records}:
            projections.project(kind, [r for r in records if r.kind == kind])
    return len(records)
