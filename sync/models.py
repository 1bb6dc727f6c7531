"""The engine's own records: runs, steps, per-record outcomes, the control
table, tenant leases, and the Sage payments the payment steps move."""
from __future__ import annotations

from django.db import models
from django.db.models.signals import post_delete, post_save
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


class RecordOutcome(models.Model):
    """What happened to one record (a vendor, a PO, a payment) in its step."""

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        WAITING = "waiting", _("waiting")

    tenant = models.ForeignKey(
        "tenants.Tenant", verbose_name=_("tenant"), on_delete=models.CASCADE, related_name="record_outcomes",
    )
    run = models.ForeignKey(
        SyncRun, verbose_name=_("run"), null=True, blank=True, on_delete=models.SET_NULL, related_name="outcomes",
    )
    step = models.CharField(_("step"), max_length=40)
    kind = models.CharField(_("kind"), max_length=20)
    sage_key = models.CharField(_("Sage key"), max_length=80)
    portal_id = models.CharField(_("portal id"), max_length=64, blank=True)
    action = models.CharField(_("action"), max_length=20)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    permanent = models.BooleanField(
        _("needs a person"), default=False, help_text=_("A person must act before a retry helps."),
    )
    request_snapshot = models.JSONField(_("request sent"), default=dict, blank=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("record outcome")
        verbose_name_plural = _("record outcomes")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "kind", "sage_key", "action"], name="one_outcome_per_record_action")
        ]
        indexes = [models.Index(fields=["tenant", "status"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.sage_key} {self.action}: {self.status}"


class SyncLink(models.Model):
    """The control table: what the outside system holds for one Sage record.

    See sync.idempotence for the state machine and the contract steps follow.
    """

    class Kind(models.TextChoices):
        VENDOR = "vendor", _("vendor")
        PO = "po", _("purchase order")
        PO_STATUS = "po_status", _("purchase order status")
        PAYMENT = "payment", _("payment")
        CFDI_STATUS = "cfdi_status", _("CFDI status")
        CFDI_IMPORT = "cfdi_import", _("CFDI import")
        COMPLEMENT = "complement", _("payment complement")

    class State(models.TextChoices):
        PENDING = "pending", _("pending (a write may or may not have reached the outside system)")
        SENT = "sent", _("sent (accepted, not yet confirmed)")
        CONFIRMED = "confirmed", _("confirmed")
        FAILED = "failed", _("failed")

    tenant = models.ForeignKey(
        "tenants.Tenant", verbose_name=_("tenant"), on_delete=models.CASCADE, related_name="sync_links",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    sage_key = models.CharField(_("Sage key"), max_length=80)
    portal_id = models.CharField(_("portal id"), max_length=64, blank=True)
    content_hash = models.CharField(_("content hash"), max_length=64, blank=True)
    sent_hash = models.CharField(
        _("hash sent"),
        max_length=64, blank=True, help_text=_("The content hash of the write in flight (pending/sent).")
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("sync link")
        verbose_name_plural = _("sync links")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "kind", "sage_key"], name="one_link_per_sage_record")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.sage_key} → {self.portal_id or '?'} ({self.state})"


class TenantLease(models.Model):
    """One row per tenant; see sync.lease."""

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
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.WAITING)
    wait_reason = models.CharField(_("why it waits"), max_length=500, blank=True)
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


def _tenant_saved(sender, instance, **kwargs) -> None:
    from sync.scheduling import sync_schedule

    sync_schedule(instance)


def _tenant_deleted(sender, instance, **kwargs) -> None:
    from sync.scheduling import delete_schedule

    delete_schedule(instance)


# Connected here rather than in apps.py: this module is always imported at
# start-up, and the lazy sender avoids importing tenants from sync's models.
post_save.connect(_tenant_saved, sender="tenants.Tenant", dispatch_uid="sync_schedule_on_tenant_save")
post_delete.connect(_tenant_deleted, sender="tenants.Tenant", dispatch_uid="sync_schedule_on_tenant_delete")


class PoWatermark(models.Model):
    """How far one PO step has read Sage's POPORH1 for a tenant: the (AUDTDATE,
    AUDTTIME, PORHSEQ) of the last header it finished with (see sync.po_reads)."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="po_watermarks")
    step = models.CharField(max_length=40)
    audit_date = models.DecimalField(max_digits=9, decimal_places=0, default=0)
    audit_time = models.DecimalField(max_digits=9, decimal_places=0, default=0)
    porhseq = models.BigIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "step"], name="one_po_watermark_per_step")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.step}: {self.audit_date}/{self.audit_time}/{self.porhseq}"
