"""Stored CFDI documents and their facts.

What happened when a CFDI was imported into Sage is the sync engine's
outbound record of it; `Cfdi.status` IMPORTED / FAILED / NEEDS_ATTENTION (and
the batch, entry and import time) are that record's projection, written by
the engine only (sync.projections). DOWNLOADED, VALID and INVALID are the
intake's own."""
from __future__ import annotations

from django.db import models
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _


class CfdiStatus(models.TextChoices):
    DOWNLOADED = "downloaded", _("downloaded")
    INVALID = "invalid", _("invalid")
    VALID = "valid", _("valid")
    IMPORTED = "imported", _("imported")
    FAILED = "failed", _("failed")
    NEEDS_ATTENTION = "needs_attention", _("needs attention")


class Cfdi(models.Model):
    tenant = models.ForeignKey(
        "tenants.Tenant", verbose_name=_("tenant"), on_delete=models.PROTECT, related_name="cfdis",
    )
    uuid = models.CharField(_("UUID"), max_length=36, help_text=_("The stamp UUID, upper case."))
    sha256 = models.CharField(
        _("SHA-256"), max_length=64, help_text=_("Of the original bytes: its name in the CFDI storage."),
    )
    size = models.PositiveIntegerField(_("size"), default=0)
    status = models.CharField(_("status"), max_length=20, choices=CfdiStatus.choices, default=CfdiStatus.DOWNLOADED)
    problems = models.JSONField(
        _("problems"), default=list, blank=True, help_text=_("[{code, message}] of every check that failed."),
    )
    portal_metadata = models.JSONField(_("portal metadata"), default=dict, blank=True)

    version = models.CharField(_("version"), max_length=3, blank=True)
    kind = models.CharField(_("type"), max_length=1, blank=True, help_text=_("TipoDeComprobante: I, E, P, T, N."))
    series = models.CharField(_("series"), max_length=25, blank=True)
    folio = models.CharField(_("folio"), max_length=40, blank=True)
    issued = models.DateTimeField(_("issued"), null=True, blank=True)
    issuer_rfc = models.CharField(_("issuer RFC"), max_length=13, blank=True, db_index=True)
    issuer_name = models.CharField(_("issuer name"), max_length=300, blank=True)
    receptor_rfc = models.CharField(_("receptor RFC"), max_length=13, blank=True)
    receptor_name = models.CharField(_("receptor name"), max_length=300, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    exchange_rate = models.DecimalField(_("exchange rate"), max_digits=19, decimal_places=6, null=True, blank=True)
    subtotal = models.DecimalField(_("subtotal"), max_digits=21, decimal_places=6, default=0)
    discount = models.DecimalField(_("discount"), max_digits=21, decimal_places=6, default=0)
    taxes_transferred = models.DecimalField(_("taxes transferred"), max_digits=21, decimal_places=6, default=0)
    taxes_withheld = models.DecimalField(_("taxes withheld"), max_digits=21, decimal_places=6, default=0)
    total = models.DecimalField(_("total"), max_digits=21, decimal_places=6, default=0)
    payment_method = models.CharField(_("payment method"), max_length=3, blank=True)
    stamped = models.DateTimeField(_("stamped"), null=True, blank=True)
    related_uuids = models.JSONField(_("related UUIDs"), default=list, blank=True)
    addenda_po_number = models.CharField(
        _("PO number in the Addenda"), max_length=60, blank=True,
        help_text=_("The PO an AddendaEmisor/OrdenCompra of the original names, read at download."))

    tax_lines = models.JSONField(
        _("tax lines"), null=True, blank=True,
        help_text=_("Each tax of the CFDI's summary, read at download (empty: stored before they were kept)."))
    addenda_at = models.DateTimeField(
        _("Addenda copy made"), null=True, blank=True,
        help_text=_("When the copy with our Addenda was made (tenants with addenda on)."))
    addenda_error = models.CharField(_("Addenda problem"), max_length=500, blank=True,
                                     help_text=_("Why the Addenda copy could not be made."))

    sage_batch = models.IntegerField(
        _("Sage batch"), null=True, blank=True, help_text=_("AP invoice batch number in Sage."),
    )
    sage_entry = models.IntegerField(
        _("Sage entry"), null=True, blank=True, help_text=_("Entry number within that batch."),
    )
    imported_at = models.DateTimeField(_("imported at"), null=True, blank=True)

    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("CFDI")
        verbose_name_plural = _("CFDIs")
        constraints = [models.UniqueConstraint(fields=["tenant", "uuid"], name="cfdi_unique_tenant_uuid")]
        indexes = [models.Index(fields=["tenant", "status"])]

    def __str__(self) -> str:
        return f"{self.uuid} ({self.kind})"

    @property
    def document_number(self) -> str:
        return f"{self.series}-{self.folio}" if self.series else self.folio

    @cached_property
    def sat_status(self) -> SatStatus | None:
        """What SAT last said about this CFDI (sync.sat), for the CFDI page."""
        return SatStatus.objects.filter(uuid=self.uuid.upper()).first()


class PaidDocument(models.Model):
    """A pago20:DoctoRelacionado of a payment (P) CFDI: the invoice it settles."""

    payment = models.ForeignKey(
        Cfdi, verbose_name=_("payment CFDI"), on_delete=models.CASCADE, related_name="paid_documents",
    )
    invoice_uuid = models.CharField(_("invoice UUID"), max_length=36, db_index=True)
    instalment = models.IntegerField(_("instalment"), null=True, blank=True)
    previous_balance = models.DecimalField(
        _("previous balance"), max_digits=21, decimal_places=6, null=True, blank=True,
    )
    amount_paid = models.DecimalField(_("amount paid"), max_digits=21, decimal_places=6, null=True, blank=True)
    remaining = models.DecimalField(_("remaining"), max_digits=21, decimal_places=6, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)

    class Meta:
        verbose_name = _("paid document")
        verbose_name_plural = _("paid documents")

    def __str__(self) -> str:
        return f"{self.payment.uuid} → {self.invoice_uuid}"


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


class SatStatus(models.Model):
    """SAT's last answer about one CFDI, with its date: the cache of sync.sat.

    The values are SAT's own words, kept as SAT sent them (Acuse in SAT's
    WSDL: CodigoEstatus, Estado, EsCancelable, EstatusCancelacion,
    ValidacionEFOS). A row whose SAT never answered has no `checked_at` and
    says since when SAT has not answered.
    """

    uuid = models.CharField(_("UUID"), max_length=36, unique=True)
    code = models.CharField(_("SAT status code"), max_length=200, blank=True, help_text=_("CodigoEstatus."))
    state = models.CharField(_("SAT state"), max_length=40, blank=True,
                             help_text=_("Estado: Vigente, Cancelado, No Encontrado."))
    cancelable = models.CharField(_("cancelable"), max_length=60, blank=True, help_text=_("EsCancelable."))
    cancellation_status = models.CharField(_("cancellation status"), max_length=60, blank=True,
                                           help_text=_("EstatusCancelacion."))
    efos = models.CharField(_("EFOS validation"), max_length=60, blank=True, help_text=_("ValidacionEFOS."))
    checked_at = models.DateTimeField(_("checked at"), null=True, blank=True, help_text=_("When SAT last answered."))
    unreachable_since = models.DateTimeField(null=True, blank=True,
                                             help_text=_("SAT has not answered about this CFDI since then."))
    last_error = models.CharField(max_length=500, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("SAT status")
        verbose_name_plural = _("SAT statuses")

    def __str__(self) -> str:
        return f"{self.uuid}: {self.state or '?'}"

    @property
    def cancelled(self) -> bool:
        return self.state == "Cancelado"

    @property
    def active(self) -> bool:
        return self.state == "Vigente"


class MatchState(models.TextChoices):
    PROPOSED = "proposed", _("proposed")
    CONFIRMED = "confirmed", _("confirmed")
    REJECTED = "rejected", _("rejected")
    SUPERSEDED = "superseded", _("superseded")


class SageWrite(models.TextChoices):
    """What confirming a match did in Sage (sync.folio_write)."""

    NONE = "", _("nothing yet")
    PENDING = "pending", _("being written")
    WRITTEN = "written", _("UUID written in Sage")
    KEPT = "kept", _("kept by SageConnect (Sage cannot take it)")
    FAILED = "failed", _("Sage refused it")


class InvoiceMatch(models.Model):
    """A Sage AP document keyed by hand without its CFDI UUID, and a stored CFDI that may be it.

    One row per (CFDI, Sage document) pair, found and scored by sync.matching;
    a person confirms or rejects it. The row is also the decision: a rejected
    pair is never proposed again, a confirmed one says what was done in Sage.
    """

    tenant = models.ForeignKey("tenants.Tenant", verbose_name=_("tenant"), on_delete=models.CASCADE,
                               related_name="invoice_matches")
    cfdi = models.ForeignKey(Cfdi, verbose_name=_("CFDI"), on_delete=models.CASCADE, related_name="matches")
    vendor = models.CharField(_("Sage vendor"), max_length=12, help_text=_("IDVEND of the Sage document."))
    document_number = models.CharField(_("Sage document number"), max_length=22, help_text=_("IDINVC."))
    sage_batch = models.IntegerField(_("Sage batch"), null=True, blank=True)
    sage_entry = models.IntegerField(_("Sage entry"), null=True, blank=True)
    posted = models.BooleanField(_("posted"), default=False, help_text=_("The Sage document was posted."))
    document_date = models.DateField(_("document date"), null=True, blank=True)
    document_total = models.DecimalField(_("document total"), max_digits=21, decimal_places=3, null=True, blank=True)
    document_currency = models.CharField(_("document currency"), max_length=3, blank=True)
    score = models.PositiveSmallIntegerField(_("score"), default=0)
    reasons = models.JSONField(_("reasons"), default=list, blank=True,
                               help_text=_("Each criterion: code, points and the values compared."))
    state = models.CharField(_("state"), max_length=12, choices=MatchState.choices, default=MatchState.PROPOSED)
    decided_by = models.CharField(_("decided by"), max_length=150, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    sage_write = models.CharField(_("Sage write"), max_length=10, choices=SageWrite.choices, blank=True,
                                  default=SageWrite.NONE)
    sage_error = models.CharField(_("Sage error"), max_length=500, blank=True)
    sage_request = models.JSONField(_("request sent"), default=dict, blank=True)
    found_at = models.DateTimeField(_("found"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("invoice match")
        verbose_name_plural = _("invoice matches")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "cfdi", "vendor", "document_number"],
                                    name="invoice_match_unique_pair"),
            # Two people confirming two proposals of one document (or of one CFDI) at once: one wins.
            models.UniqueConstraint(fields=["tenant", "vendor", "document_number"],
                                    condition=models.Q(state="confirmed"), name="invoice_match_one_per_document"),
            models.UniqueConstraint(fields=["cfdi"], condition=models.Q(state="confirmed"),
                                    name="invoice_match_one_per_cfdi"),
        ]
        indexes = [models.Index(fields=["tenant", "state"])]

    def __str__(self) -> str:
        return f"{self.vendor} {self.document_number} ↔ {self.cfdi_id} ({self.state})"
