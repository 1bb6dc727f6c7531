"""The Addenda copies of a tenant's stored invoices, for tenants with addenda on.

What goes in (cfdi.addenda.AddendaData, what the older importer read from
AddendaEmisor): the PO number — the portal's purchase order of the CFDI, else
the one the supplier's own Addenda named (parsed at download) —, the provider
— VENDORID (the portal's provider external_id), name and RFC of the issuer —
and the bank account the buyer accepted in the provider's portal expedient
(ProviderResponse.expedient.bank_accounts, one read per provider).

Which rows: invoices and credit notes whose original parsed, with no copy yet
and no earlier refusal of the file. The copy is written atomically beside the
original (cfdi.addenda.add_addenda), so two workers making it at once leave
one whole file; the original's bytes and sha256 never change. A provider the
portal cannot be asked about now is tried again next cycle.
"""
from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from cfdi.addenda import AddendaData, AddendaError, add_addenda
from cfdi.models import Cfdi
from sync.engine.context import StepContext
from sync.portal.client import PortalClient
from sync.portal.errors import PortalError, PortalNotFoundError
from sync.portal.schemas import ProviderResponse

ADDENDA_KINDS = ("I", "E")
ERROR_MAX = 500


def make_addenda_copies(ctx: StepContext) -> None:
    rows = list(Cfdi.objects.filter(tenant_id=ctx.tenant_id, kind__in=ADDENDA_KINDS, addenda_at__isnull=True,
                                    addenda_error="").exclude(sha256=""))
    if not rows:
        return
    providers: dict[str, ProviderResponse | None] = {}
    made = 0
    with PortalClient(ctx.tenant) as portal:
        for cfdi in rows:
            ctx.heartbeat()
            try:
                data = addenda_data(cfdi, provider_of(portal, providers, cfdi))
                add_addenda(cfdi.sha256, data)
            except PortalError as error:
                ctx.result.failed += 1
                ctx.log(_("CFDI %(uuid)s: its Addenda copy waits for the portal (%(error)s); tried again next cycle.")
                        % {"uuid": cfdi.uuid, "error": error})
                continue
            except (AddendaError, OSError) as error:
                refused(ctx, cfdi, str(error))
                continue
            Cfdi.objects.filter(pk=cfdi.pk).update(addenda_at=timezone.now(), addenda_error="")
            made += 1
    ctx.log(_("%(n)s Addenda cop(ies) made") % {"n": made})


def provider_of(portal: PortalClient, cache: dict[str, ProviderResponse | None], cfdi: Cfdi) -> ProviderResponse | None:
    provider_id = str(cfdi.portal_metadata.get("provider_id") or "")
    if not provider_id:
        return None
    if provider_id not in cache:
        try:
            cache[provider_id] = portal.get_provider(provider_id)
        except PortalNotFoundError:
            cache[provider_id] = None
    return cache[provider_id]


def addenda_data(cfdi: Cfdi, provider: ProviderResponse | None) -> AddendaData:
    bank = provider.accepted_bank_account() if provider is not None else None
    vendor_id = cfdi.portal_metadata.get("provider_external_id") or (provider.external_id if provider else "") or ""
    return AddendaData(
        po_number=purchase_order_number(cfdi), provider_id=str(vendor_id),
        provider_name=cfdi.issuer_name, provider_rfc=cfdi.issuer_rfc,
        bank_name=(bank.bank_name or "") if bank else "", bank_account=(bank.account or "") if bank else "",
        clabe=(bank.clabe or "") if bank else "",
    )


def purchase_order_number(cfdi: Cfdi) -> str:
    """The portal's PO of the CFDI (PurchaseOrderRelationInvoice.purchase_order_external_id), else its own Addenda's."""
    for order in cfdi.portal_metadata.get("purchase_orders") or []:
        if isinstance(order, dict) and str(order.get("purchase_order_external_id") or "").strip():
            return str(order["purchase_order_external_id"]).strip()
    return cfdi.addenda_po_number


def refused(ctx: StepContext, cfdi: Cfdi, reason: str) -> None:
    message = (_("The Addenda copy could not be made: %(reason)s") % {"reason": reason})[:ERROR_MAX]
    Cfdi.objects.filter(pk=cfdi.pk).update(addenda_error=message)
    ctx.result.failed += 1
    ctx.log(_("CFDI %(uuid)s: %(message)s") % {"uuid": cfdi.uuid, "message": message})
