"""seed_portal fills the stand-in so it agrees with the sandbox Sage company built from the same plan."""
import datetime as dt

from sandbox.plan import build_plan
from sandbox.portal.models import SandboxCfdi, SandboxProvider
from sandbox.portal.seed import CFDI_TYPES, seed_portal

TODAY = dt.date(2026, 11, 27)


def test_it_seeds_providers_as_the_plan_says(make_tenant):
    tenant = make_tenant()
    plan = build_plan(seed=3, vendors=12, cfdis=18, today=TODAY)

    seed_portal(tenant, plan)

    providers = {p.rfc: p for p in SandboxProvider.objects.filter(portal_tenant__tenant_id=tenant.portal_tenant_id)}
    assert len(providers) == len(plan.vendors)
    for vendor in plan.vendors:
        provider = providers[vendor.rfc]
        assert provider.external_id == (vendor.vendor_id if vendor.external_id_on_portal else "")
        assert provider.expedient_status == ("ACCEPTED" if vendor.portal_status == "ACCEPTED" else "SENT")
        assert (provider.expedient_accepted == TODAY) == vendor.accepted_today
        assert len(provider.portal_id) == 24
    assert any(v.accepted_today for v in plan.vendors), "the plan must give the providers step something to do"


def test_it_seeds_every_cfdi_with_its_xml_and_metadata(make_tenant):
    tenant = make_tenant()
    plan = build_plan(seed=3, vendors=12, cfdis=18, today=TODAY)

    seed_portal(tenant, plan)
    seed_portal(tenant, plan)  # a reseed replaces, never doubles

    stored = {c.uuid: c for c in SandboxCfdi.objects.filter(portal_tenant__tenant_id=tenant.portal_tenant_id)}
    assert set(stored) == {c.uuid for c in plan.cfdis}
    for plan_cfdi in plan.cfdis:
        row = stored[plan_cfdi.uuid]
        xml = bytes(row.xml)
        assert plan_cfdi.uuid.encode() in xml.upper() and plan.company_rfc.encode() in xml
        assert plan_cfdi.issuer_rfc.encode("utf-8") in xml or plan_cfdi.issuer_rfc.replace("&", "&amp;").encode() in xml
        metadata = row.item["metadata"]
        assert metadata["type"] == CFDI_TYPES[plan_cfdi.kind]
        assert metadata["provider_rfc"] == plan_cfdi.issuer_rfc
        assert row.item["cfdi"]["receptor"]["rfc"] == plan.company_rfc
        assert row.item["cfdi"]["timbre"]["uuid"] == plan_cfdi.uuid
        assert ("erp_id" in metadata) == plan_cfdi.in_sage
        orders = [po["purchase_order_external_id"] for po in metadata["purchase_orders"]]
        assert orders == ([plan_cfdi.po_number] if plan_cfdi.po_number else [])
    assert {c.kind for c in plan.cfdis} >= {"I", "P"}


def test_it_serves_the_seeded_portal_through_the_client(portal_tenant, contract_violations):
    from sync.portal import PortalClient

    plan = build_plan(seed=5, vendors=8, cfdis=12, today=TODAY)
    seed_portal(portal_tenant, plan)

    with PortalClient(portal_tenant) as client:
        accepted_today = list(client.iter_providers(status_expedient="ACCEPTED", expedient_accepted_from=TODAY,
                                                    expedient_accepted_to=TODAY))
        invoices = list(client.iter_cfdis(cfdi_type="INVOICE", page_size=5))
        first = invoices[0]
        xml = client.download_cfdi_xml(first.id)

    assert sorted(p.rfc for p in accepted_today) == sorted(v.rfc for v in plan.vendors if v.accepted_today)
    assert len(invoices) == sum(1 for c in plan.cfdis if c.kind == "I")
    assert first.cfdi_uuid.encode() in xml.upper()
