"""The engine's own records: runs, steps, the outbound records (one per object
written to an outside system, with their history and people's retry requests),
tenant leases, and the Sage payments the payment steps move."""
from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sync.sage.models import *  # noqa: F401,F403  (Sage tables are models of this app)

# A StepRun keeps at most this many log lines: a runaway step must not grow a
# row without bound (the head says what started, the tail how it ended).
STEP_LOG_MAX_LINES = 500


class SyncRun(models.Model):
    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("schedule")
        MANUAL = "manual", _("manual")
        RETRY = "retry", _("retry")

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        PARTIAL = "partial", _("partial")
        SKIPPED = "skipped", _("skipped")
        # Its process stopped before the end (a signal, a kill, a crash); see the note for when and who found it.
        INTERRUPTED = "interrupted", _("interrupted")

    class SkipReason(models.TextChoices):
        NONE = "", "—"
        PAUSED = "paused", _("tenant paused")
        INACTIVE = "inactive", _("tenant inactive")
        LEASE_HELD = "lease_held", _("another run holds the tenant's lease")

    tenant = models.ForeignKey(
        "tenants.Tenant", verbose_name=_("tenant"), on_delete=models.CASCADE, related_name="sync_runs",
    )
    trigger = models.CharField(_("trigger"), max_length=10, choices=Trigger.choices, default=Trigger.MANUAL)
    started = models.DateTimeField(_("started"), default=timezone.now, db_index=True)
    finished = models.DateTimeField(_("finished"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.RUNNING)
    skip_reason = models.CharField(_("why skipped"), max_length=12, choices=SkipReason.choices, blank=True, default="")
    note = models.TextField(_("note"), blank=True, help_text=_("Why the run was skipped or stopped."))
    dry_run = models.BooleanField(_("dry run"), default=False)
    only_step = models.CharField(_("only step"), max_length=40, blank=True)
    lease_holder = models.CharField(_("lease holder"), max_length=200, blank=True)
    created_count = models.PositiveIntegerField(_("created"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    skipped_count = models.PositiveIntegerField(_("skipped"), default=0)
    failed_count = models.PositiveIntegerField(_("failed"), default=0)

    class Meta:
        verbose_name = _("run")
        verbose_name_plural = _("runs")
        ordering = ["-started", "-id"]
        indexes = [models.Index(fields=["tenant", "-started"])]

    def __str__(self) -> str:
        return f"{self.tenant_id} run {self.pk} ({self.status})"

    def get_absolute_url(self) -> str:
        return f"/runs/{self.pk}/"

    @property
    def seconds(self) -> float | None:
        """How long the run took (None while it runs)."""
        return (self.finished - self.started).total_seconds() if self.finished else None


class StepRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        SKIPPED = "skipped", _("skipped")

    run = models.ForeignKey(SyncRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="steps")
    step = models.CharField(_("step"), max_length=40)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RUNNING)
    message = models.CharField(_("message"), max_length=500, blank=True, help_text=_("Why it failed or was skipped."))
    created_count = models.PositiveIntegerField(_("created"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    skipped_count = models.PositiveIntegerField(_("skipped"), default=0)
    failed_count = models.PositiveIntegerField(_("failed"), default=0)
    started = models.DateTimeField(_("started"), default=timezone.now)
    duration = models.FloatField(_("duration"), null=True, blank=True, help_text=_("Seconds."))
    log = models.JSONField(_("log"), default=list, blank=True)
    alert_sent = models.BooleanField(_("alert sent"), default=False)

    class Meta:
        verbose_name = _("step run")
        verbose_name_plural = _("step runs")
        ordering = ["run_id", "id"]
        indexes = [models.Index(fields=["step", "-started"])]

    def __str__(self) -> str:
        return f"{self.step}: {self.status}"


class Outbound(models.Model):
    """One object SageConnect writes to an outside system (a vendor, a PO, a payment, a CFDI import, …).

    The single answer to "what did we send, did it land, what went wrong, what
    now": the hash of the payload last built and sent, its state, the
    failures in a row and when the next try may be made, why a person must
    act and what they are to do, the last request sent (without credentials),
    and the ids the outside systems gave it. sync.engine.outbox moves it;
    its attempts (OutboundAttempt) are the history, kept within bounds.
    """

    class Kind(models.TextChoices):
        VENDOR = "vendor", _("vendor")
        PO = "po", _("purchase order")
        PO_STATUS = "po_status", _("purchase order status")
        PAYMENT = "payment", _("payment")
        CFDI_IMPORT = "cfdi_import", _("CFDI import")
        CFDI_STATUS = "cfdi_status", _("CFDI status")
        COMPLEMENT = "complement", _("payment complement")

    class State(models.TextChoices):
        PENDING = "pending", _("pending (a write may or may not have reached the outside system)")
        SENT = "sent", _("sent (accepted, not yet confirmed)")
        CONFIRMED = "confirmed", _("confirmed")
        FAILED = "failed", _("failed")
        WAITING = "waiting", _("waiting")

    class Attention(models.TextChoices):
        NONE = "", "—"
        PERMANENT = "permanent", _("refused as it stands")
        EXCEEDED = "exceeded", _("failed too many times")
        CONFIG = "config", _("a setting must change")
        PERSON = "person", _("waiting for a person")

    class Closed(models.TextChoices):
        NONE = "", "—"
        RESOLVED = "resolved", _("resolved")
        IGNORED = "ignored", _("ignored")

    tenant = models.ForeignKey(
        "tenants.Tenant", verbose_name=_("tenant"), on_delete=models.CASCADE, related_name="outbound_records",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    key = models.CharField(_("key"), max_length=80, help_text=_(
        "Our own key of the object: VENDORID's provider, PONUMBER, DOCNBR, the CFDI UUID."))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    content_hash = models.CharField(_("content hash"), max_length=64, blank=True,
                                    help_text=_("Hash of the payload the outside system confirmed last."))
    sent_hash = models.CharField(_("hash sent"), max_length=64, blank=True,
                                 help_text=_("Hash of the payload last sent or in flight."))
    attempts = models.PositiveIntegerField(_("failures in a row"), default=0)
    not_before = models.DateTimeField(_("not before"), null=True, blank=True,
                                      help_text=_("A failed record is not tried again before then."))
    attention = models.CharField(_("needs a person"), max_length=10, choices=Attention.choices, blank=True,
                                 default="")
    reason_code = models.CharField(_("reason code"), max_length=100, blank=True)
    reason = models.TextField(_("what to do"), blank=True, help_text=_(
        "Why it waits, or what a person is to do about it."))
    since = models.DateTimeField(_("since"), null=True, blank=True,
                                 help_text=_("When the wait or the need for a person began."))
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    last_request = models.JSONField(_("last request sent"), default=dict, blank=True,
                                    help_text=_("Without credentials."))
    outside_id = models.CharField(_("outside id"), max_length=64, blank=True, help_text=_(
        "The outside system's id: portal id, Sage vendor, 'batch-entry' of a Sage invoice."))
    outside_ids = models.JSONField(_("outside ids"), default=dict, blank=True)
    action = models.CharField(_("action"), max_length=20, blank=True)
    step = models.CharField(_("step"), max_length=40, blank=True)
    run = models.ForeignKey(SyncRun, verbose_name=_("last run"), null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="outbound_records")
    closed = models.CharField(_("closed as"), max_length=10, choices=Closed.choices, blank=True, default="")
    closed_code = models.CharField(_("closed reason code"), max_length=100, blank=True)
    closed_hash = models.CharField(_("closed content hash"), max_length=64, blank=True)
    closed_by = models.CharField(_("closed by"), max_length=150, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_note = models.TextField(_("note"), blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("outbound record")
        verbose_name_plural = _("outbound records")
        constraints = [models.UniqueConstraint(fields=["tenant", "kind", "key"], name="one_outbound_record_per_object")]
        indexes = [models.Index(fields=["tenant", "kind", "state"]), models.Index(fields=["attention", "tenant"]),
                   models.Index(fields=["state", "tenant"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} ({self.state}{', ' + self.attention if self.attention else ''})"

    @property
    def needs_a_person(self) -> bool:
        return bool(self.attention)

    @property
    def unconfirmed(self) -> bool:
        """An earlier write may have reached the outside system unrecorded: ask it before writing again."""
        return self.state in (self.State.PENDING, self.State.SENT)


# An OutboundAttempt's text fields are bounded: the history must not grow a row without bound.
ATTEMPT_MESSAGE_MAX = 2000


class OutboundAttempt(models.Model):
    """One thing that happened to an outbound record: a write and its answer, a wait, a person's action.

    Append-only history; housekeeping keeps the newest of each record
    (sync.housekeeping.ATTEMPTS_KEPT) and prunes the old ones.
    """

    class Outcome(models.TextChoices):
        CONFIRMED = "confirmed", _("confirmed")
        RECOVERED = "recovered", _("found already there")
        FAILED = "failed", _("failed, will retry")
        REFUSED = "refused", _("refused")
        WAITING = "waiting", _("waiting")
        UNANSWERED = "unanswered", _("not answered yet")
        NEEDS_PERSON = "needs_person", _("needs a person")
        RESOLVED = "resolved", _("resolved")
        IGNORED = "ignored", _("ignored")
        RETRY = "retry", _("retry asked")

    record = models.ForeignKey(Outbound, verbose_name=_("record"), on_delete=models.CASCADE, related_name="history")
    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    run = models.ForeignKey(SyncRun, verbose_name=_("run"), null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="attempts")
    step = models.CharField(_("step"), max_length=40, blank=True)
    action = models.CharField(_("action"), max_length=20, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    error_code = models.CharField(_("error code"), max_length=100, blank=True)
    message = models.TextField(_("message"), blank=True)
    request = models.JSONField(_("request sent"), default=dict, blank=True, help_text=_("Without credentials."))
    outside_ids = models.JSONField(_("outside ids"), default=dict, blank=True)
    by = models.CharField(_("by"), max_length=150, blank=True, help_text=_("The person, for a person's action."))

    class Meta:
        verbose_name = _("outbound attempt")
        verbose_name_plural = _("outbound attempts")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["record", "-at"]), models.Index(fields=["run", "outcome"])]

    def __str__(self) -> str:
        return f"{self.record_id} {self.outcome} {self.at:%Y-%m-%d %H:%M}"


class RetryRequest(models.Model):
    """A person asked for some records of one tenant to be tried again now (the attention page's Retry).

    One per tenant and click: a task runs just those records' exporters under
    the tenant's lease (sync.tasks.run_retry_request) and writes here what
    became of the request, so the page says queued / running / done / skipped
    because the tenant was busy, as it happened.
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        BUSY = "busy", _("skipped: the tenant was busy")
        SKIPPED = "skipped", _("skipped")
        FAILED = "failed", _("failed")

    tenant = models.ForeignKey("tenants.Tenant", verbose_name=_("tenant"), on_delete=models.CASCADE,
                               related_name="retry_requests")
    records = models.JSONField(_("records"), default=list, help_text=_("[[kind, key], …]"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    requested_by = models.CharField(_("asked by"), max_length=150, blank=True)
    requested_at = models.DateTimeField(_("asked at"), default=timezone.now, db_index=True)
    started = models.DateTimeField(_("started"), null=True, blank=True)
    finished = models.DateTimeField(_("finished"), null=True, blank=True)
    run = models.ForeignKey(SyncRun, verbose_name=_("run"), null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="retry_requests")
    note = models.TextField(_("note"), blank=True, help_text=_("What became of it."))

    class Meta:
        verbose_name = _("retry request")
        verbose_name_plural = _("retry requests")
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"{self.tenant_id} retry of {len(self.records)} ({self.state})"

    def by_kind(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for kind, key in self.records:
            found.setdefault(kind, []).append(key)
        return found


class TenantLease(models.Model):
    """One row per tenant; see sync.engine.lease."""

    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, primary_key=True, related_name="lease")
    holder = models.CharField(max_length=200, blank=True)
    expires = models.DateTimeField()
    # Who the holder is, so a taker on the same host can tell a dead holder from a live one.
    host = models.CharField(max_length=200, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    process_started = models.FloatField(null=True, blank=True, help_text=_("The holder process's start time "
                                                                          "(epoch seconds): a reused pid differs."))
    taken = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.holder or '—'} until {self.expires:%Y-%m-%d %H:%M:%S}"


class Payment(models.Model):
    """A posted Sage payment (APTCR), on its way to the portal."""

    class State(models.TextChoices):
        WAITING = "waiting", _("waiting")
        READY = "ready", _("ready")
        UPLOADED = "uploaded", _("uploaded")
        FAILED = "failed", _("failed")
        REVERSED = "reversed", _("reversed in Sage")

    tenant = models.ForeignKey(
        "tenants.Tenant", verbose_name=_("tenant"), on_delete=models.CASCADE, related_name="payments",
    )
    docnbr = models.CharField(_("document number"), max_length=22)
    vendor = models.CharField(_("vendor"), max_length=12)
    date = models.DateField(_("date"))
    amount = models.DecimalField(_("amount"), max_digits=19, decimal_places=3)
    currency = models.CharField(_("currency"), max_length=3)
    bank = models.CharField(_("bank"), max_length=8, blank=True)
    remit_id = models.CharField(_("remittance id"), max_length=24, blank=True)
    reference = models.CharField(_("reference"), max_length=60, blank=True)
    batch = models.PositiveIntegerField(_("batch"))
    entry = models.PositiveIntegerField(_("entry"))
    # A projection of the payment's outbound record, written by the engine (sync.projections); REVERSED is
    # Sage's own fact (payment check). Why it waits is the record's reason.
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.WAITING)
    sage_hash = models.CharField(_("Sage hash"), max_length=64, help_text=_("Hash of the Sage facts last read."))
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-date", "docnbr"]
        constraints = [models.UniqueConstraint(fields=["tenant", "docnbr"], name="one_payment_per_docnbr")]

    def __str__(self) -> str:
        return f"{self.docnbr} {self.vendor} {self.amount} {self.currency}"


class PaymentLine(models.Model):
    payment = models.ForeignKey(Payment, verbose_name=_("payment"), on_delete=models.CASCADE, related_name="lines")
    line = models.PositiveIntegerField(_("line"))
    invoice_number = models.CharField(_("invoice number"), max_length=22)
    cfdi_uuid = models.CharField(_("CFDI UUID"), max_length=36, blank=True, help_text=_("Empty when Sage has none."))
    amount = models.DecimalField(_("amount"), max_digits=19, decimal_places=3)

    class Meta:
        verbose_name = _("payment line")
        verbose_name_plural = _("payment lines")
        ordering = ["payment_id", "line"]
        constraints = [models.UniqueConstraint(fields=["payment", "line"], name="one_payment_line_per_number")]

    def __str__(self) -> str:
        return f"{self.invoice_number} {self.amount}"


class PoWatermark(models.Model):
    """How far one PO step has read Sage's POPORH1 for a tenant: the (AUDTDATE,
    AUDTTIME, PORHSEQ) of the last header it finished with (see sync.po_reads)."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="po_watermarks")
    step = models.CharField(max_length=40)
    audit_date = models.DecimalField(max_digits=9, decimal_places=0, default=0)
    audit_time = models.DecimalField(max_digits=9, decimal_places=0, default=0)
    porhseq = models.BigIntegerField(default=0)
    settings_hash = models.CharField(max_length=64, blank=True, help_text=_(
        "The tenant's PO settings it was read with (sync.po_reads.PO_SETTINGS): other settings start it over."))
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "step"], name="one_po_watermark_per_step")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.step}: {self.audit_date}/{self.audit_time}/{self.porhseq}"


class ReconcileAck(models.Model):
    """A person marked one difference of the reconcile report resolved (sync.reconcile): it is not shown
    again while Sage's and the portal's facts about it stay as they were (`fingerprint`)."""

    tenant = models.ForeignKey("tenants.Tenant", verbose_name=_("tenant"), on_delete=models.CASCADE,
                               related_name="reconcile_acks")
    kind = models.CharField(_("kind"), max_length=40)
    key = models.CharField(_("key"), max_length=80)
    fingerprint = models.CharField(_("fingerprint"), max_length=64, help_text=_("Hash of the facts acknowledged."))
    by = models.CharField(_("by"), max_length=150, blank=True)
    at = models.DateTimeField(_("when"), default=timezone.now)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("reconcile acknowledgement")
        verbose_name_plural = _("reconcile acknowledgements")
        constraints = [models.UniqueConstraint(fields=["tenant", "kind", "key"], name="one_reconcile_ack_per_object")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.kind} {self.key}"
