"""One CFDI at a time on the portal stand-in, for training, tests and checking by hand.

`add_one_cfdi` issues a new invoice from an existing provider of the tenant's
sandbox portal to the tenant, dated some days ago but reaching the portal now
(a late upload), optionally rejected or cancelled there. `change_portal_status`
rejects or cancels a CFDI the portal already has (e.g. one already imported).
"""
from __future__ import annotations

import datetime as dt
import random
import uuid as uuidlib
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sandbox.cfdi_factory import build_cfdi_xml
from sandbox.plan import CENT, IVA, PlanCfdi
from sandbox.portal.models import SandboxCfdi, SandboxPortalTenant, SandboxProvider
from sandbox.portal.query import PROSE_ENUMS
from sandbox.portal.seed import add_cfdi
from sandbox.sat.register import mark_cancelled_at_sat

# The statuses the spec's list_5 `status` parameter names; `rejected` is short for REJECTED.
PORTAL_STATUSES = PROSE_ENUMS[("list_5", "status")]
# Stage (CfdiStage) a status belongs to; FINISHED "incluyen los pagados y cancelados".
FINISHED_STATUSES = {"REJECTED", "REJECTED_BY_ADMIN", "REJECTED_BY_CXP", "PAYMENT_CFDI_REJECTED", "PAID"}


class CaseError(Exception):
    """The CFDI cannot be made; the message says what is missing."""


def portal_status_name(value: str) -> str:
    name = value.strip().upper().replace("-", "_")
    if name not in PORTAL_STATUSES:
        raise CaseError(_("Unknown portal status %(status)r; use one of: %(statuses)s.")
                        % {"status": value, "statuses": ", ".join(PORTAL_STATUSES)})
    return name


def portal_tenant_of(tenant) -> SandboxPortalTenant:
    found = SandboxPortalTenant.objects.filter(tenant_id=tenant.portal_tenant_id).first()
    if found is None:
        raise CaseError(_("Tenant %(code)s has no sandbox portal: run `manage.py sandbox company --tenant %(code)s` "
                          "first.") % {"code": tenant.code})
    return found


def pick_provider(portal: SandboxPortalTenant, external_id: str | None) -> SandboxProvider:
    providers = SandboxProvider.objects.filter(portal_tenant=portal,
                                               expedient_status="ACCEPTED").exclude(external_id="")
    if external_id:
        providers = providers.filter(external_id=external_id)
    provider = providers.order_by("external_id").first()
    if provider is None:
        if external_id:
            raise CaseError(_("The sandbox portal of %(portal)s has no accepted provider with external id %(id)s.")
                            % {"portal": portal.tenant_id, "id": external_id})
        raise CaseError(_("The sandbox portal of %(portal)s has no accepted provider known to Sage (with an "
                          "external id).") % {"portal": portal.tenant_id})
    return provider


def add_one_cfdi(tenant, *, issued_days_ago: int = 0, portal_status: str | None = None,
                 cancelled_by_sat: bool = False, cancelled_in_tenant: bool = False,
                 provider_external_id: str | None = None, kind: str = "I") -> SandboxCfdi:
    portal = portal_tenant_of(tenant)
    provider = pick_provider(portal, provider_external_id)
    status = portal_status_name(portal_status) if portal_status else None
    plan_cfdi = _plan_cfdi(portal, provider, issued_days_ago, kind)
    xml = build_cfdi_xml(plan_cfdi, receptor_rfc=tenant.rfc, receptor_name=tenant.name)
    cancelled = cancelled_by_sat or cancelled_in_tenant
    with transaction.atomic():
        added = add_cfdi(portal, plan_cfdi, provider, xml, receptor=(tenant.rfc, tenant.name), uploaded=timezone.now(),
                         status=status, stage="FINISHED" if cancelled or status in FINISHED_STATUSES else None,
                         cancelled_by_sat=cancelled_by_sat, cancelled_in_tenant=cancelled_in_tenant)
        if cancelled_by_sat:
            _cancel_at_sat(added.uuid)
    return added


def change_portal_status(tenant, cfdi_uuid: str, *, portal_status: str | None = None,
                         cancelled_by_sat: bool = False, cancelled_in_tenant: bool = False) -> SandboxCfdi:
    portal = portal_tenant_of(tenant)
    found = SandboxCfdi.objects.filter(portal_tenant=portal, uuid=cfdi_uuid.strip().upper()).first()
    if found is None:
        raise CaseError(_("The sandbox portal of %(portal)s has no CFDI %(uuid)s.")
                        % {"portal": portal.tenant_id, "uuid": cfdi_uuid})
    if portal_status:
        found.status = portal_status_name(portal_status)
    found.cancelled_by_sat = found.cancelled_by_sat or cancelled_by_sat
    found.cancelled_in_tenant = found.cancelled_in_tenant or cancelled_in_tenant
    if found.cancelled_by_sat or found.cancelled_in_tenant or found.status in FINISHED_STATUSES:
        found.stage = "FINISHED"
    found.save()
    if cancelled_by_sat:
        _cancel_at_sat(found.uuid)
    return found


def _cancel_at_sat(cfdi_uuid: str) -> None:
    # The portal's cancelled_by_sat mirrors SAT: SAT's status service (the
    # /sandbox/sat/ stand-in) must then answer "Cancelado" for it too.
    mark_cancelled_at_sat(cfdi_uuid)


def _plan_cfdi(portal: SandboxPortalTenant, provider: SandboxProvider, issued_days_ago: int, kind: str) -> PlanCfdi:
    rng = random.Random()
    number = SandboxCfdi.objects.filter(portal_tenant=portal).count() + 9001
    subtotal = Decimal(rng.randint(50_000, 5_000_000)) / 100
    tax = (subtotal * IVA).quantize(CENT, ROUND_HALF_UP)
    usd = provider.data.get("currency") == "USD"
    issued = timezone.localtime().replace(tzinfo=None, microsecond=0) - dt.timedelta(days=issued_days_ago)
    return PlanCfdi(
        uuid=str(uuidlib.uuid4()).upper(), kind=kind, vendor_id=provider.external_id, issuer_rfc=provider.rfc,
        issuer_name=provider.name, issued=issued, series="FA" if kind == "I" else "NC", folio=str(number),
        currency="USD" if usd else "MXN", exchange_rate=Decimal("17.2500") if usd else None,
        subtotal=subtotal, discount=Decimal(0), tax=tax, total=subtotal + tax, payment_method="PUE",
        po_number="", in_sage=False,
    )
