"""SAT's word on a CFDI before money moves.

Two uses, both inside step 3 (cfdi import):

- `verdicts`: before the invoices are sent to Sage, each one's status at SAT
  is looked up (cached answer, else one Consulta). Vigente: imported.
  Cancelado: not imported, the reason set on the CFDI (problem `sat_cancelled`,
  which also keeps it out of later cycles). No Encontrado: the CFDI waits and
  is asked again after an hour — for at most NOT_FOUND_FOR (the PAC's 72 h to
  deliver it); after that it waits for a person, on the attention page. SAT not
  answering: the tenant's `sat_unreachable` decides — "wait" holds the CFDI
  (for at most `sat_wait_hours`, then imports it), "import" imports it; either
  way it is re-checked later.
- `recheck_imported_unpaid`: imported invoices that no Sage payment pays yet are
  asked again once their last answer is older than a day; a cancellation found
  then goes to `needs_a_person`: the CFDI's import record needs a person.

The re-check is part of the cycle rather than a django-q2 schedule of its own:
sites that run `manage.py sync` from Windows Task Scheduler have no cluster to
run a schedule, and inside the step it runs under the tenant's lease, in the
run log, with the step's on/off switch and alerts. "Daily" is per CFDI (its
last answer older than FRESH_FOR), so the calls spread over the day's cycles
and a cycle with nothing due costs one query.
"""
from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from django.db import connections, transaction
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext as _

from cfdi import storage
from cfdi.models import Cfdi, CfdiStatus, SatStatus
from cfdi.parsing import ParseError, parse_xml
from cfdi.validation import Problem
from sageconnect.per_thread import PerThread
from sync.engine.context import StepContext
from sync.engine.outbox import Needs, Waiting, raise_finding
from sync.models import Outbound, Payment, PaymentLine
from sync.sat.client import (
    Acuse,
    SatRateLimited,
    SatStatusClient,
    SatUnavailable,
    expression,
)
from tenants.models import SatUnreachable

SAT_CANCELLED = "sat_cancelled"
# A Vigente answer younger than this is used again, and an imported unpaid invoice is asked again after it.
FRESH_FOR = dt.timedelta(hours=24)
# SAT may not hold a CFDI yet (the PAC has up to 72 h to deliver it): "No Encontrado" is asked again after this,
# and waits for a person once it has lasted NOT_FOUND_FOR.
NOT_FOUND_AGAIN_AFTER = dt.timedelta(hours=1)
NOT_FOUND_FOR = dt.timedelta(hours=72)
NOT_FOUND = "sat_not_found"
UNREACHABLE = "sat_unreachable"
RATE_LIMITED = "sat_rate_limited"
IN_CHUNK = 500
# Consultas under way at once: SAT's service is one public endpoint, so a few, under the per-process limit
# (settings.SAT_CALLS_PER_MINUTE).
ASK_AT_ONCE = 4
STORED_FIELDS = ("code", "state", "cancelable", "cancellation_status", "efos", "checked_at", "unreachable_since",
                 "last_error")
RECHECKED_KINDS = ("I", "E")
Verdict = bool | Waiting


class SatSession:
    """One step's conversation with SAT: the client, the cache, and whether SAT is answering at all."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.save = not ctx.dry_run
        self.client = SatStatusClient(ctx.tenant.sat_status_url)
        self.down: SatUnavailable | None = None   # once SAT fails in a run, the rest do not knock again
        self.limited: SatRateLimited | None = None
        self.cache: dict[str, SatStatus] = {}
        self.pending: dict[str, SatStatus] = {}   # answers not written yet: written together by flush()

    def close(self) -> None:
        # Writes what SAT said and frees the connections; the session stays usable for the step's next use of it.
        try:
            self.flush()
        finally:
            self.client.close()

    def flush(self) -> None:
        """The answers recorded since the last flush, in one statement where the database can upsert: one
        query per CFDI asked would be most of a first cycle's SQL. A crash before it loses only answers,
        asked again next time."""
        if not self.pending:
            return
        rows = [SatStatus(uuid=row.uuid, **{name: getattr(row, name) for name in STORED_FIELDS})
                for row in self.pending.values()]
        self.pending = {}
        if connections[SatStatus.objects.db].features.supports_update_conflicts_with_target:
            SatStatus.objects.bulk_create(rows, batch_size=IN_CHUNK, update_conflicts=True, unique_fields=["uuid"],
                                          update_fields=[*STORED_FIELDS, "updated"])
            return
        for row in rows:
            # By UUID, not by the row read: another tenant's run may have written the same CFDI's answer since.
            SatStatus.objects.update_or_create(uuid=row.uuid, defaults={name: getattr(row, name)
                                                                        for name in STORED_FIELDS})

    def load(self, uuids: Iterable[str]) -> None:
        wanted = sorted({uuid.upper() for uuid in uuids} - self.cache.keys())
        for start in range(0, len(wanted), IN_CHUNK):
            for row in SatStatus.objects.filter(uuid__in=wanted[start:start + IN_CHUNK]):
                self.cache[row.uuid] = row

    def ask_all(self, cfdis: list[Cfdi]) -> None:
        """SAT asked about each of `cfdis`, ASK_AT_ONCE at a time, the answers recorded as ask() records
        them: one Consulta after another was most of a first import's time. Each thread has its own client
        (SatStatusClient is not shared between threads); the per-process call limit holds across them. Once
        SAT fails or the limit is spent no more are asked: decide() then treats the rest as ask() would."""
        if len(cfdis) < 2:
            return  # decide() asks the one
        lock = threading.Lock()
        clients = PerThread(lambda: SatStatusClient(self.client.url))

        def consult(cfdi: Cfdi) -> Acuse | None:
            if self.down is not None or self.limited is not None:
                return None
            try:
                return clients.get().consult(expression_of(cfdi))
            except SatRateLimited as limited:
                with lock:
                    self.limited = self.limited or limited
            except SatUnavailable as error:
                with lock:
                    self.down = self.down or error
            return None

        pool = ThreadPoolExecutor(max_workers=ASK_AT_ONCE, thread_name_prefix="sat")
        answers = []
        try:
            # The first alone: a SAT that is down costs one Consulta (and its retries), not one per thread.
            answers.append((cfdis[0], consult(cfdis[0])))
            for cfdi, acuse in zip(cfdis[1:], pool.map(consult, cfdis[1:]), strict=True):
                self.ctx.heartbeat()  # the lease kept, and a stop asked for heard, while SAT answers
                answers.append((cfdi, acuse))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            clients.close()
        for cfdi, acuse in answers:  # recorded here: the cache and the pending writes are this thread's
            if acuse is not None:
                self.record_answer(cfdi, acuse)

    def cached(self, cfdi: Cfdi) -> SatStatus | None:
        return self.cache.get(cfdi.uuid.upper())

    def ask(self, cfdi: Cfdi) -> SatStatus:
        """SAT's answer now, recorded. Raises SatUnavailable (recorded too) or SatRateLimited."""
        if self.down is not None:
            self.record_unreachable(cfdi, str(self.down))
            raise self.down
        if self.limited is not None:
            raise self.limited
        try:
            acuse = self.client.consult(expression_of(cfdi))
        except SatRateLimited as limited:
            self.limited = limited
            raise
        except SatUnavailable as error:
            self.down = error
            self.record_unreachable(cfdi, str(error))
            raise
        return self.record_answer(cfdi, acuse)

    def _row(self, cfdi: Cfdi) -> SatStatus:
        uuid = cfdi.uuid.upper()
        return self.cache.get(uuid) or SatStatus(uuid=uuid)

    def record_answer(self, cfdi: Cfdi, acuse: Acuse) -> SatStatus:
        row = self._row(cfdi)
        row.code, row.state, row.cancelable = acuse.code, acuse.state, acuse.cancelable
        row.cancellation_status, row.efos = acuse.cancellation_status, acuse.efos
        row.checked_at, row.unreachable_since, row.last_error = timezone.now(), None, ""
        return self._store(row)

    def record_unreachable(self, cfdi: Cfdi, error: str) -> SatStatus:
        row = self._row(cfdi)
        row.unreachable_since = row.unreachable_since or timezone.now()
        row.last_error = error[:500]
        return self._store(row)

    def _store(self, row: SatStatus) -> SatStatus:
        if self.save:
            self.pending[row.uuid] = row
        self.cache[row.uuid] = row
        return row


def session_for(ctx: StepContext) -> SatSession:
    """The step run's one SatSession: what SAT said (or that it is down) is remembered across both uses."""
    session = ctx.__dict__.get("_sat_session")
    if session is None:
        session = ctx.__dict__["_sat_session"] = SatSession(ctx)
    return session


def expression_of(cfdi: Cfdi) -> str:
    return expression(uuid=cfdi.uuid, issuer_rfc=cfdi.issuer_rfc, receptor_rfc=cfdi.receptor_rfc,
                      total=cfdi.total, seal=seal_of(cfdi))


def seal_of(cfdi: Cfdi) -> str:
    """The Comprobante's Sello from the stored original; empty when it cannot be read (fe= is then left out)."""
    try:
        return parse_xml(storage.read_original(cfdi.sha256)).get("Sello") or ""
    except (OSError, ParseError):
        return ""


# ---------------------------------------------------------------------------
# Before the import

def verdicts(ctx: StepContext, cfdis: list[Cfdi]) -> dict[str, Verdict]:
    """SAT's word on each CFDI before the import, by UUID: True (import it), False (not to be imported: its
    problem and its log line say why), or a Waiting (held: asked again later)."""
    if not cfdis:
        return {}
    session = session_for(ctx)
    session.load(cfdi.uuid for cfdi in cfdis)
    found: dict[str, Verdict] = {}
    try:
        now = timezone.now()
        session.ask_all([cfdi for cfdi in cfdis if not _answer_usable_or_none(session.cached(cfdi), now)])
        for cfdi in cfdis:
            ctx.heartbeat()
            found[cfdi.uuid] = decide(session, cfdi)
    finally:
        session.close()
    log_waiting(ctx, session, [v.reason for v in found.values() if isinstance(v, Waiting) and v.code != NOT_FOUND])
    return found


def decide(session: SatSession, cfdi: Cfdi) -> Verdict:
    now = timezone.now()
    status = session.cached(cfdi)
    if status is None or not _answer_usable(status, now):
        try:
            status = session.ask(cfdi)
        except SatRateLimited as limited:
            return Waiting(RATE_LIMITED, str(limited))
        except SatUnavailable:
            return unreachable_verdict(session, cfdi)
    if status.cancelled:
        refuse_cancelled(session, cfdi, status)
        return False
    if status.active:
        return True
    session.ctx.log(_("CFDI %(uuid)s: SAT does not know it (%(code)s); not imported yet, asked again later.")
                    % {"uuid": cfdi.uuid, "code": status.code or status.state})
    return Waiting(NOT_FOUND, _("SAT does not know this CFDI yet (%(code)s): it is not imported until SAT does, and "
                                "SAT is asked again every hour.") % {"code": status.code or status.state})


def not_found_for_long(record: Outbound | None, now: dt.datetime | None = None) -> Waiting | None:
    """A CFDI SAT has not known for NOT_FOUND_FOR: past what a PAC may take, so a person asks the supplier."""
    if record is None or record.reason_code != NOT_FOUND or record.since is None:
        return None
    if (now or timezone.now()) - record.since < NOT_FOUND_FOR:
        return None
    return Waiting(NOT_FOUND, _(
        "SAT has not known this CFDI for %(hours)s hours, longer than a PAC may take to deliver it: ask the "
        "supplier whether it was stamped and sent to SAT. It is imported as soon as SAT knows it.")
        % {"hours": int(NOT_FOUND_FOR.total_seconds() // 3600)}, person=True)


def _answer_usable_or_none(status: SatStatus | None, now: dt.datetime) -> bool:
    return status is not None and _answer_usable(status, now)


def _answer_usable(status: SatStatus, now: dt.datetime) -> bool:
    if status.checked_at is None:
        return False
    if status.cancelled:
        return True  # a cancellation at SAT is final
    age = now - status.checked_at
    return age < (FRESH_FOR if status.active else NOT_FOUND_AGAIN_AFTER)


def unreachable_verdict(session: SatSession, cfdi: Cfdi) -> Verdict:
    tenant = session.ctx.tenant
    if tenant.sat_unreachable == SatUnreachable.IMPORT:
        session.ctx.log(_("CFDI %(uuid)s: SAT did not answer; imported as the tenant's setting says, "
                          "and checked with SAT again later.") % {"uuid": cfdi.uuid})
        return True
    status = session.cached(cfdi)
    since = status.unreachable_since if status is not None and status.unreachable_since else timezone.now()
    if timezone.now() - since >= dt.timedelta(hours=tenant.sat_wait_hours):
        session.ctx.log(_("CFDI %(uuid)s: SAT has not answered for %(hours)s hours; imported, and checked with "
                          "SAT again later.") % {"uuid": cfdi.uuid, "hours": tenant.sat_wait_hours})
        return True
    return Waiting(UNREACHABLE, _("SAT did not answer (%(error)s)") % {"error": session.down})


def log_waiting(ctx: StepContext, session: SatSession, reasons: list[str]) -> None:
    if not reasons:
        return
    if session.down is not None:
        ctx.log(_("%(n)s CFDI(s) wait for SAT's status: %(error)s The tenant's setting is to wait "
                  "(at most %(hours)s hours).") % {"n": len(reasons), "error": session.down,
                                                  "hours": ctx.tenant.sat_wait_hours})
    else:
        ctx.log(_("%(n)s CFDI(s) wait for SAT's status: %(reason)s They are checked next cycle.")
                % {"n": len(reasons), "reason": reasons[0]})


def refuse_cancelled(session: SatSession, cfdi: Cfdi, status: SatStatus) -> None:
    message = _("SAT reports this CFDI cancelled (%(state)s%(how)s, checked %(when)s): it is not imported into Sage.") % {  # noqa: E501 (one msgid)
        "state": status.state, "how": f", {status.cancellation_status}" if status.cancellation_status else "",
        "when": _when(status.checked_at)}
    session.ctx.log(_("CFDI %(uuid)s: %(message)s") % {"uuid": cfdi.uuid, "message": message})
    if session.save:
        _set_problem(cfdi, Problem(SAT_CANCELLED, message), CfdiStatus.INVALID)


def _when(moment: dt.datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "—"


def _set_problem(cfdi: Cfdi, problem: Problem, status: str) -> None:
    cfdi.problems = [p for p in cfdi.problems if p.get("code") != problem.code] + [problem.as_dict()]
    cfdi.status = status
    cfdi.save(update_fields=["problems", "status", "updated"])


# ---------------------------------------------------------------------------
# After the import: imported, not paid yet

def due_for_recheck(tenant, now: dt.datetime | None = None):
    """Imported invoices and credit notes no posted Sage payment pays, whose SAT answer is a day old or missing."""
    now = now or timezone.now()
    paid = (PaymentLine.objects.filter(payment__tenant=tenant).exclude(payment__state=Payment.State.REVERSED)
            .exclude(cfdi_uuid="").annotate(upper_uuid=Upper("cfdi_uuid")).values("upper_uuid"))
    fresh = SatStatus.objects.filter(checked_at__gte=now - FRESH_FOR).exclude(state="Cancelado").values("uuid")
    return (Cfdi.objects.filter(tenant=tenant, status=CfdiStatus.IMPORTED, kind__in=RECHECKED_KINDS)
            .exclude(uuid__in=paid).exclude(uuid__in=fresh).order_by("imported_at", "uuid"))


def recheck_imported_unpaid(ctx: StepContext) -> None:
    due = list(due_for_recheck(ctx.tenant))
    if not due:
        return
    session = session_for(ctx)
    session.load(cfdi.uuid for cfdi in due)
    checked = 0
    try:
        asked_from = timezone.now()
        session.ask_all(due)
        for cfdi in due:
            ctx.heartbeat()
            try:
                # Answered by ask_all just now; else asked here, where a SAT that stopped answering is said.
                answer = session.cached(cfdi)
                fresh = answer is not None and answer.checked_at is not None and answer.checked_at >= asked_from
                status = answer if fresh and answer is not None else session.ask(cfdi)
            except (SatUnavailable, SatRateLimited) as stopped:
                ctx.log(_("SAT re-check of imported unpaid invoices stopped after %(done)s of %(n)s: %(why)s "
                          "The rest are checked next cycle.") % {"done": checked, "n": len(due), "why": stopped})
                break
            checked += 1
            if status.cancelled:
                cancelled_after_import(session, cfdi, status)
    finally:
        session.close()
    if checked:
        ctx.log(_("SAT re-checked %(n)s imported unpaid invoice(s).") % {"n": checked})


def cancelled_after_import(session: SatSession, cfdi: Cfdi, status: SatStatus) -> None:
    message = _("SAT reports this CFDI cancelled (%(state)s%(how)s, checked %(when)s) after it was imported into "
                "Sage as batch %(batch)s, entry %(entry)s, and no Sage payment pays it yet: hold or reverse "
                "that invoice in Sage before it is paid.") % {
        "state": status.state, "how": f", {status.cancellation_status}" if status.cancellation_status else "",
        "when": _when(status.checked_at), "batch": cfdi.sage_batch, "entry": cfdi.sage_entry}
    session.ctx.result.failed += 1
    if session.save:
        needs_a_person(session.ctx, cfdi, Problem(SAT_CANCELLED, message))
    else:
        session.ctx.log(_("CFDI %(uuid)s: %(message)s") % {"uuid": cfdi.uuid, "message": message})


def needs_a_person(ctx: StepContext, cfdi: Cfdi, problem: Problem) -> None:
    """The one place a SAT finding is handed to people: the reason among the CFDI's problems (its page),
    and its import record needing a person with what to do (the attention page; Cfdi.status follows)."""
    with transaction.atomic():
        cfdi.problems = [p for p in cfdi.problems if p.get("code") != problem.code] + [problem.as_dict()]
        cfdi.save(update_fields=["problems", "updated"])
        raise_finding(ctx.tenant_id, Outbound.Kind.CFDI_IMPORT, cfdi.uuid,
                      Needs(Outbound.Attention.PERSON, problem.code, problem.message), run_id=ctx.run_id, step=ctx.step)
    ctx.log(_("CFDI %(uuid)s needs a person: %(message)s") % {"uuid": cfdi.uuid, "message": problem.message})
