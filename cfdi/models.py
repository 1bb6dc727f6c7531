"""Stored CFDI documents and what happened when we imported them."""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class CfdiStatus(models.TextChoices):
    DOWNLOADED = "downloaded", _("downloaded")
    INVALID = "invalid", _("invalid")
    VALID = "valid", _("valid")
    IMPORTED = "imported", _("imported")
    FAILED = "failed", _("failed")
    NEEDS_ATTENTION = "needs_attention", _("needs attention")


class Cfdi(models.Model):
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="cfdis")
    uuid = models.CharField(_("UUID"), max_length=36, help_text=_("The stamp UUID, upper case."))
    sha256 = models.CharField(max_length=64, help_text=_("Of the original bytes: its name in the CFDI storage."))
    size = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=CfdiStatus.choices, default=CfdiStatus.DOWNLOADED)
    problems = models.JSONField(default=list, blank=True, help_text=_("[{code, message}] of every check that failed."))
    portal_metadata = models.JSONField(default=dict, blank=True)

    version = models.CharField(max_length=3, blank=True)
    kind = models.CharField(_("type"), max_length=1, blank=True, help_text=_("TipoDeComprobante: I, E, P, T, N."))
    series = models.CharField(max_length=25, blank=True)
    folio = models.CharField(max_length=40, blank=True)
    issued = models.DateTimeField(null=True, blank=True)
    issuer_rfc = models.CharField(max_length=13, blank=True, db_index=True)
    issuer_name = models.CharField(max_length=300, blank=True)
    receptor_rfc = models.CharField(max_length=13, blank=True)
    receptor_name = models.CharField(max_length=300, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    exchange_rate = models.DecimalField(max_digits=19, decimal_places=6, null=True, blank=True)
    subtotal = models.DecimalField(max_digits=21, decimal_places=6, default=0)
    discount = models.DecimalField(max_digits=21, decimal_places=6, default=0)
    taxes_transferred = models.DecimalField(max_digits=21, decimal_places=6, default=0)
    taxes_withheld = models.DecimalField(max_digits=21, decimal_places=6, default=0)
    total = models.DecimalField(max_digits=21, decimal_places=6, default=0)
    payment_method = models.CharField(max_length=3, blank=True)
    stamped = models.DateTimeField(null=True, blank=True)
    related_uuids = models.JSONField(default=list, blank=True)
    addenda_po_number = models.CharField(
        max_length=60, blank=True, help_text=_("The PO an AddendaEmisor/OrdenCompra of the original names, read at download."))

    addenda_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the copy with our Addenda was made (tenants with addenda on)."))
    addenda_error = models.CharField(max_length=500, blank=True, help_text=_("Why the Addenda copy could not be made."))

    sage_batch = models.IntegerField(null=True, blank=True, help_text=_("AP invoice batch number in Sage."))
    sage_entry = models.IntegerField(null=True, blank=True, help_text=_("Entry number within that batch."))
    imported_at = models.DateTimeField(null=True, blank=True)

    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "CFDI"
        constraints = [models.UniqueConstraint(fields=["tenant", "uuid"], name="cfdi_unique_tenant_uuid")]
        indexes = [models.Index(fields=["tenant", "status"])]

    def __str__(self) -> str:
        return f"{self.uuid} ({self.kind})"

    @property
    def document_number(self) -> str:
        return f"{self.series}-{self.folio}" if self.series else self.folio


class PaidDocument(models.Model):
    """A pago20:DoctoRelacionado of a payment (P) CFDI: the invoice it settles."""

    payment = models.ForeignKey(Cfdi, on_delete=models.CASCADE, related_name="paid_documents")
    invoice_uuid = models.CharField(max_length=36, db_index=True)
    instalment = models.IntegerField(null=True, blank=True)
    previous_balance = models.DecimalField(max_digits=21, decimal_places=6, null=True, blank=True)
    amount_paid = models.DecimalField(max_digits=21, decimal_places=6, null=True, blank=True)
    remaining = models.DecimalField(max_digits=21, decimal_places=6, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)

    def __str__(self) -> str:
        return f"{self.payment.uuid} → {self.invoice_uuid}"


class ImportOutcome(models.TextChoices):
    IMPORTED = "imported", _("imported")
    FAILED = "failed", _("failed")
    RETRYABLE = "retryable", _("will retry")
    SKIPPED = "skipped", _("already in Sage")


class ImportAttempt(models.Model):
    cfdi = models.ForeignKey(Cfdi, on_delete=models.CASCADE, related_name="import_attempts")
    attempted_at = models.DateTimeField(auto_now_add=True)
    sage_batch = models.IntegerField(null=True, blank=True)
    sage_entry = models.IntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=ImportOutcome.choices)
    error_code = models.CharField(max_length=100, blank=True)
    message = models.TextField(blank=True)
    request_snapshot = models.JSONField(default=dict, blank=True, help_text=_("The payload sent, without credentials."))

    class Meta:
        ordering = ["-attempted_at"]

    def __str__(self) -> str:
        return f"{self.cfdi.uuid} {self.outcome} {self.attempted_at:%Y-%m-%d %H:%M}"


class CfdiDownloadWindow(models.Model):
    """What the CFDI download last finished listing, per tenant.

    `last_from`/`last_to` are days the CFDIs reached the portal (createdFrom /
    createdUntil): the next cycle asks from a few days before `last_to`, so one
    that arrived at the edge is not lost. `swept_on` is the day of the last
    sweep by issue date over the tenant's sweep window, which catches anything
    a window missed and refreshes the portal status of recent CFDIs.
    """

    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, related_name="cfdi_download_window")
    last_from = models.DateField()
    last_to = models.DateField(help_text=_("Last day of the last window whose CFDIs were all listed and stored."))
    swept_on = models.DateField(null=True, blank=True, help_text=_("Day of the last sweep by issue date."))
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.last_from} – {self.last_to}"
