"""What the SAT status stand-in knows: its register of stamped CFDIs, and every Consulta it received."""
from __future__ import annotations

from django.db import models


class SandboxSatCfdi(models.Model):
    """SAT's record of one stamped CFDI, as the status service reports it.

    Values are SAT's own words (Estado, EsCancelable, EstatusCancelacion,
    ValidacionEFOS). Rows are made from the CFDIs the sandbox holds (the portal
    stand-in's files) when first asked about, or by `register.register_stamped`.
    """

    uuid = models.CharField(max_length=36, unique=True)  # upper case
    issuer_rfc = models.CharField(max_length=13)
    receptor_rfc = models.CharField(max_length=13)
    total = models.DecimalField(max_digits=24, decimal_places=6)
    seal_tail = models.CharField(max_length=8, blank=True, help_text="last 8 characters of the Comprobante's Sello")
    state = models.CharField(max_length=20, default="Vigente")
    cancelable = models.CharField(max_length=40, default="Cancelable con aceptación")
    cancellation_status = models.CharField(max_length=40, blank=True)
    efos = models.CharField(max_length=10, default="200")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.uuid}: {self.state}"


class SandboxSatQuery(models.Model):
    """One request the stand-in received, and what it answered: tests count these."""

    received = models.DateTimeField(auto_now_add=True)
    expression = models.TextField(blank=True)
    uuid = models.CharField(max_length=36, blank=True, db_index=True)
    answer = models.CharField(max_length=120)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.uuid or '?'}: {self.answer}"
