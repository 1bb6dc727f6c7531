"""Fill the portal stand-in for one tenant from a sandbox Plan (sandbox/plan.py).

Providers for every plan vendor, CFDIs for every plan CFDI with their XML,
so that the portal agrees with the sandbox Sage company built from the same
plan: receptor = the company, issuers = the vendors' RFCs, some CFDIs already
in Sage, PPD invoices settled by payment CFDIs.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from sandbox.access import NotSandbox, require_sandbox_tenant
from sandbox.company import portal_provider_id
from sandbox.plan import Plan, PlanCfdi, PlanVendor
from sandbox.portal.models import SandboxCfdi, SandboxPortalTenant, SandboxProvider

CFDI_TYPES = {"I": "INVOICE", "E": "CREDIT_NOTE", "P": "PAYMENT_CFDI"}
ISSUER_TIME_ZONE = dt.timezone(dt.timedelta(hours=-6))
BANKS = ("BANORTE", "BBVA MEXICO", "SANTANDER", "BANAMEX")


class SeedError(Exception):
    """The stand-in cannot be filled; the message says what is missing."""


def seed_portal(tenant, plan: Plan) -> SandboxPortalTenant:
    """Replace the stand-in's state for `tenant`'s portal tenant id with what `plan` describes."""
    build_cfdi_xml = _cfdi_factory()
    with transaction.atomic():
        portal_tenant = _portal_tenant(tenant, plan)
        providers = {vendor.vendor_id: _provider(portal_tenant, vendor, plan, index)
                     for index, vendor in enumerate(plan.vendors)}
        for plan_cfdi in plan.cfdis:
            xml = build_cfdi_xml(plan_cfdi, receptor_rfc=plan.company_rfc, receptor_name=plan.company_name)
            add_cfdi(portal_tenant, plan_cfdi, providers[plan_cfdi.vendor_id], xml,
                     receptor=(plan.company_rfc, plan.company_name), uploaded=_uploaded(plan_cfdi))
    return portal_tenant


def _uploaded(plan_cfdi: PlanCfdi) -> dt.datetime:
    """Seeded CFDIs reached the portal two hours after they were issued (not later than now)."""
    issued = plan_cfdi.issued.replace(tzinfo=ISSUER_TIME_ZONE)
    return min(issued + dt.timedelta(hours=2), timezone.now())


def _cfdi_factory():
    try:
        from sandbox.cfdi_factory import build_cfdi_xml
    except ImportError as exc:
        raise SeedError("The portal stand-in cannot be seeded: sandbox.cfdi_factory.build_cfdi_xml "
                        f"is not available ({exc}); it builds the CFDI XML the portal serves.") from None
    return build_cfdi_xml


def _portal_tenant(tenant, plan: Plan) -> SandboxPortalTenant:
    try:
        require_sandbox_tenant(tenant)
    except NotSandbox as exc:
        raise SeedError(str(exc)) from None
    if not (tenant.portal_tenant_id and tenant.portal_key and tenant.portal_secret):
        raise SeedError(f"Tenant '{tenant.code}' needs a portal tenant id, key and secret before its portal "
                        "stand-in can be seeded.")
    portal_tenant, _ = SandboxPortalTenant.objects.update_or_create(
        tenant_id=tenant.portal_tenant_id,
        defaults={"key": tenant.portal_key, "secret": tenant.portal_secret,
                  "name": plan.company_name, "rfc": plan.company_rfc, "reads": 0, "writes": 0},
    )
    # A reseed starts from a clean tenant, like a fresh portal.
    for related in ("sandboxprovider_set", "sandboxcfdi_set", "sandboxpurchaseorder_set",
                    "sandboxpayment_set", "sandboxbatch_set"):
        getattr(portal_tenant, related).all().delete()
    return portal_tenant


def _provider(portal_tenant, vendor: PlanVendor, plan: Plan, index: int) -> SandboxProvider:
    accepted = vendor.portal_status == "ACCEPTED"
    if vendor.accepted_today:
        accepted_on = plan.today
    elif accepted:
        accepted_on = plan.today - dt.timedelta(days=30 + index)
    else:
        accepted_on = None
    currency = "USD" if vendor.currency == "USD" else "MXN"
    # The accepted bank account of the supplier's expedient (ExpedientResponse.bank_accounts).
    bank = [{"bank_name": BANKS[index % len(BANKS)], "account": f"{index + 1:010d}",
             "clabe": f"072580{index + 1:011d}{index % 10}", "currency": currency}] if accepted else []
    return SandboxProvider.objects.create(
        portal_tenant=portal_tenant,
        # The id the Sage company's APVENO PROVIDERID already names.
        portal_id=portal_provider_id(plan, vendor),
        external_id=vendor.vendor_id if vendor.external_id_on_portal else "",
        rfc=vendor.rfc, name=vendor.name, status="ENABLED",
        expedient_status="ACCEPTED" if accepted else "SENT", expedient_accepted=accepted_on,
        data={
            "name": vendor.name, "rfc": vendor.rfc, "country": "MX", "currency": currency, "credit_days": 30,
            "enabled": True, "type": "REGULAR", "allow_invoice_reception": True, "use_advance_invoices": False,
            "unlimited_payment_cfdi_pending": True, "use_tenant_credit_days": True,
            "require_consignment_note": "NOT_REQUIRED", "email": vendor.email, "bank_accounts": bank,
        },
    )


def _number(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def _stage_and_status(plan_cfdi: PlanCfdi) -> tuple[str, str]:
    if plan_cfdi.kind == "P":
        return "PENDING_TO_VALIDATE", "PENDING_APPLICATION"
    if plan_cfdi.in_sage:
        return "DELIVERED_ERP", "DELIVERED_ERP"
    return "PENDING_TO_PAY", "PENDING_PAYMENT"


def add_cfdi(portal_tenant, plan_cfdi: PlanCfdi, provider: SandboxProvider, xml: bytes, *,
             receptor: tuple[str, str], uploaded: dt.datetime, status: str | None = None, stage: str | None = None,
             cancelled_by_sat: bool = False, cancelled_in_tenant: bool = False) -> SandboxCfdi:
    """One CFDI on the stand-in, as the portal lists it (CfdiExternResponse), with its XML."""
    default_stage, default_status = _stage_and_status(plan_cfdi)
    stage, status = stage or default_stage, status or default_status
    issued = plan_cfdi.issued.replace(tzinfo=ISSUER_TIME_ZONE)
    stamped = (issued + dt.timedelta(minutes=2)).isoformat(timespec="milliseconds")
    raw = {
        "version": "4.0", "serie": plan_cfdi.series, "folio": plan_cfdi.folio,
        "serie_folio": plan_cfdi.document_number, "fecha_emision": issued.isoformat(timespec="milliseconds"),
        "moneda": plan_cfdi.currency, "tipo_cambio": _number(plan_cfdi.exchange_rate),
        "subtotal": _number(plan_cfdi.subtotal), "descuento": _number(plan_cfdi.discount),
        "total": _number(plan_cfdi.total), "tipo_comprobante": plan_cfdi.kind,
        "metodo_pago": plan_cfdi.payment_method or None,
        "emisor": {"rfc": plan_cfdi.issuer_rfc, "nombre": plan_cfdi.issuer_name},
        "receptor": {"rfc": receptor[0], "nombre": receptor[1]},
        "timbre": {"uuid": plan_cfdi.uuid, "fecha_timbrado": stamped, "version": "1.1"},
    }
    metadata = {
        "provider_id": provider.portal_id, "provider_rfc": plan_cfdi.issuer_rfc,
        "provider_name": plan_cfdi.issuer_name, "type": CFDI_TYPES[plan_cfdi.kind], "status": status,
        "purchase_orders": [{"purchase_order_external_id": plan_cfdi.po_number}] if plan_cfdi.po_number else [],
    }
    if provider.external_id:
        metadata["provider_external_id"] = provider.external_id
    if plan_cfdi.in_sage:
        metadata["erp_id"] = plan_cfdi.document_number
    item = {
        "cfdi": {key: value for key, value in raw.items() if value is not None}, "metadata": metadata,
        "issuer": {"rfc": plan_cfdi.issuer_rfc, "name": plan_cfdi.issuer_name},
        "currency": plan_cfdi.currency, "total": _number(plan_cfdi.total), "type": "CFDI",
        "date": issued.isoformat(timespec="milliseconds"), "identifier": plan_cfdi.document_number,
    }
    return SandboxCfdi.objects.create(
        portal_tenant=portal_tenant, uuid=plan_cfdi.uuid.upper(), cfdi_type=CFDI_TYPES[plan_cfdi.kind],
        status=status, stage=stage, issued=plan_cfdi.issued.date(), uploaded=uploaded,
        cancelled_by_sat=cancelled_by_sat, cancelled_in_tenant=cancelled_in_tenant,
        provider_external_id=provider.external_id, total=plan_cfdi.total, item=item, xml=xml,
    )
