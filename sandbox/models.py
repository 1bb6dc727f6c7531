from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

_rate = [MinValueValidator(0.0), MaxValueValidator(1.0)]


class FaultRule(models.Model):
    """What a stand-in does wrong on purpose, for tests and demonstrations."""

    target = models.CharField(max_length=80, unique=True, help_text="portal:<tenantId> or sage:<COMPANY>")
    enabled = models.BooleanField(default=True)
    error_rate = models.FloatField(default=0.0, validators=_rate,
                                   help_text="share of requests answered with an error status")
    error_statuses = models.JSONField(default=list, blank=True, help_text="e.g. [500, 503, 429]")
    retry_after_seconds = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    drop_rate = models.FloatField(default=0.0, validators=_rate, help_text="share of connections dropped mid-answer")
    malformed_rate = models.FloatField(default=0.0, validators=_rate, help_text="share answered with malformed JSON")
    refuse_when_body_has = models.CharField(
        max_length=120, blank=True,
        help_text="a write whose body contains this text is refused, with refuse_code and a message naming no entry "
                  "(a poison invoice, e.g. its document number)")
    refuse_code = models.CharField(max_length=40, default="General", blank=True,
                                   help_text="the Sage error code of that refusal")
    recalculate_taxes = models.BooleanField(
        default=False, help_text="Sage stand-in: work every invoice's tax out from the vendor's tax group, "
                                 "ignoring entered tax amounts (a Sage that does not honour TaxAmountControl)")

    def __str__(self) -> str:
        return self.target


# The portal stand-in's state lives beside its views; Django finds models through this module.
from sandbox.portal.models import (  # noqa: E402,F401
    SandboxBatch,
    SandboxCfdi,
    SandboxPayment,
    SandboxPortalTenant,
    SandboxProvider,
    SandboxPurchaseOrder,
)
from sandbox.sat.models import SandboxSatCfdi, SandboxSatQuery  # noqa: E402,F401
