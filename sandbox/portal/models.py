"""State of the portal stand-in, per portal tenant, in our own database."""
from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import F
from django.utils import timezone


def new_portal_id() -> str:
    """Portal object ids are 24 hex characters (MongoDB ObjectIds on the real one)."""
    return secrets.token_hex(12)


class BatchResultId(models.TextChoices):
    """What a batch answer's `results[].id` holds.

    The spec (BatchResponseCfdiResponse, BatchResponseExternalPaymentResponse)
    describes it as "Id externo" with a 24-hex example; the older system read
    it as the portal's own id. The stand-in answers either way so the client is
    tested against both readings.
    """

    EXTERNAL = "external", "the external id: the CFDI's UUID, the payment's external_id (the spec's words)"
    PORTAL = "portal", "the portal's own 24-hex id (the older system's reading)"


class SandboxPortalTenant(models.Model):
    tenant_id = models.CharField(max_length=64, unique=True)
    key = models.CharField(max_length=200)
    secret = models.CharField(max_length=200)
    name = models.CharField(max_length=200, blank=True)
    rfc = models.CharField(max_length=13, blank=True)
    file_url_seconds = models.PositiveIntegerField(default=300, help_text="how long a CFDI file link stays valid")
    page_size_max = models.PositiveIntegerField(
        default=100, help_text="most items a list answers with, whatever pageSize asks: the client must page")
    batch_result_id = models.CharField(max_length=10, choices=BatchResultId.choices, default=BatchResultId.EXTERNAL)
    reads = models.PositiveIntegerField(default=0, help_text="GET requests received")
    writes = models.PositiveIntegerField(default=0, help_text="POST/PUT/DELETE requests received")

    def __str__(self) -> str:
        return self.tenant_id

    def count_request(self, method: str) -> None:
        if not settings.SANDBOX_RECORD_REQUESTS:
            return
        field = "reads" if method in ("GET", "HEAD") else "writes"
        # Concurrent test clients hit the same row: count in the database, not in Python.
        type(self).objects.filter(pk=self.pk).update(**{field: F(field) + 1})

    def reset_counts(self) -> None:
        type(self).objects.filter(pk=self.pk).update(reads=0, writes=0)


class _PortalRecord(models.Model):
    portal_tenant = models.ForeignKey(SandboxPortalTenant, on_delete=models.CASCADE)
    portal_id = models.CharField(max_length=24, default=new_portal_id, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["-id"]  # the portal lists newest first


class SandboxProvider(_PortalRecord):
    external_id = models.CharField(max_length=100, blank=True, db_index=True)
    rfc = models.CharField(max_length=13, db_index=True)
    name = models.CharField(max_length=250)
    status = models.CharField(max_length=10, default="ENABLED")  # ENABLED / DISABLED
    expedient_status = models.CharField(max_length=20, default="NO_EXPEDIENT")
    expedient_accepted = models.DateField(null=True, blank=True)
    data = models.JSONField(default=dict, help_text="the rest of the ProviderRequest fields")

    class Meta(_PortalRecord.Meta):
        pass


class SandboxPurchaseOrder(_PortalRecord):
    external_id = models.CharField(max_length=100)
    status = models.CharField(max_length=12)
    request = models.JSONField(help_text="the last ExternPurchaseOrderRequest, as received")

    class Meta(_PortalRecord.Meta):
        constraints = [models.UniqueConstraint(fields=["portal_tenant", "external_id"],
                                               name="sandbox_po_external_id_unique")]


class SandboxCfdi(_PortalRecord):
    uuid = models.CharField(max_length=36, db_index=True)  # upper case
    cfdi_type = models.CharField(max_length=20)  # INVOICE / CREDIT_NOTE / PAYMENT_CFDI
    status = models.CharField(max_length=40, default="PENDING_PAYMENT")
    stage = models.CharField(max_length=40, default="PENDING_TO_PAY")
    erp_status = models.CharField(max_length=35, blank=True)
    issued = models.DateField()
    # When the CFDI reached the portal: metadata.created_at, what createdFrom/createdUntil filter on.
    uploaded = models.DateTimeField(default=timezone.now, db_index=True)
    cancelled_by_sat = models.BooleanField(default=False)  # CfdiMetadataResponse.cancelled_by_sat
    cancelled_in_tenant = models.BooleanField(default=False)  # CfdiMetadataResponse.cancelled_in_tenant
    provider_external_id = models.CharField(max_length=100, blank=True)
    total = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    paid = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    item = models.JSONField(help_text="the CfdiExternResponse the list answers with")
    xml = models.BinaryField()

    class Meta(_PortalRecord.Meta):
        constraints = [models.UniqueConstraint(fields=["portal_tenant", "uuid"], name="sandbox_cfdi_uuid_unique")]


class SandboxPayment(_PortalRecord):
    external_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=30, default="PENDING_PAYMENT_CFDI")
    request = models.JSONField(help_text="the OnePaymentRequest, as received")


class SandboxBatch(_PortalRecord):
    kind = models.CharField(max_length=20)  # purchase_orders / payments / cfdis
    response = models.JSONField()
