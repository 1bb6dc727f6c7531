"""store_cfdi: the original once, unaltered; one row per (tenant, UUID)."""
import hashlib
from decimal import Decimal

import pytest

from cfdi.models import Cfdi, CfdiStatus
from cfdi.services import store_cfdi
from cfdi.storage import original_path, read_original
from tests.cfdi.samples import sample

PPD = "satcfdi-invoice-ppd-stamped.xml"
PAYMENT = "satcfdi-payment-for-ppd.xml"
RECEPTOR = "KIJ0906199R1"


@pytest.fixture
def tenant(make_tenant):
    return make_tenant(rfc=RECEPTOR)


def test_it_stores_the_original_bytes_by_sha256(tenant, cfdi_storage_dir):
    cfdi = store_cfdi(tenant, sample(PPD), {"portal_id": "abc", "provider_ids": ["P1"]})
    digest = hashlib.sha256(sample(PPD)).hexdigest()
    assert cfdi.sha256 == digest
    assert read_original(digest) == sample(PPD)
    assert original_path(digest).is_relative_to(cfdi_storage_dir)
    assert (cfdi.uuid, cfdi.kind, cfdi.status) == ("6D7434A6-E3F2-47AD-9E4C-08849946AFA0", "I", CfdiStatus.VALID)
    assert cfdi.portal_metadata == {"portal_id": "abc", "provider_ids": ["P1"]}
    cfdi.refresh_from_db()
    assert cfdi.total == Decimal("17852.75") and cfdi.issuer_rfc == "H&E951128469"


def test_it_does_nothing_when_the_same_bytes_come_again(tenant, cfdi_storage_dir):
    first = store_cfdi(tenant, sample(PPD), {})
    mtime = original_path(first.sha256).stat().st_mtime_ns
    again = store_cfdi(tenant, sample(PPD), {})
    assert again.pk == first.pk and again.problems == [] and again.status == CfdiStatus.VALID
    assert original_path(first.sha256).stat().st_mtime_ns == mtime
    assert Cfdi.objects.count() == 1


def test_it_keeps_the_first_original_when_other_bytes_claim_its_uuid(tenant, cfdi_storage_dir):
    first = store_cfdi(tenant, sample(PPD), {})
    altered = sample(PPD).replace(b'Folio="123456"', b'Folio="999999"')
    again = store_cfdi(tenant, altered, {})
    assert again.pk == first.pk and again.sha256 == first.sha256
    assert read_original(first.sha256) == sample(PPD)
    [problem] = again.problems
    assert problem["code"] == "uuid_different_bytes"
    assert problem["sha256"] == hashlib.sha256(altered).hexdigest()
    assert again.status == CfdiStatus.NEEDS_ATTENTION
    assert store_cfdi(tenant, altered, {}).problems == again.problems  # reported once


def test_it_records_the_invoices_a_payment_pays(tenant, cfdi_storage_dir):
    payment = store_cfdi(tenant, sample(PAYMENT), {})
    [paid] = payment.paid_documents.all()
    assert paid.invoice_uuid == "6D7434A6-E3F2-47AD-9E4C-08849946AFA0"
    assert paid.amount_paid == Decimal("17852.75")


def test_it_keeps_a_row_with_the_reason_for_an_unreadable_file(tenant, cfdi_storage_dir):
    cfdi = store_cfdi(tenant, sample(PPD)[:2000], {"uuid": "0a0a0a0a-0000-4000-8000-000000000001"})
    assert cfdi.uuid == "0A0A0A0A-0000-4000-8000-000000000001"
    assert cfdi.status == CfdiStatus.INVALID
    assert [p["code"] for p in cfdi.problems] == ["not_well_formed"]


def test_it_marks_an_invoice_for_another_company_invalid(make_tenant, cfdi_storage_dir):
    tenant = make_tenant(rfc="AIN8001011A1")
    cfdi = store_cfdi(tenant, sample(PPD), {})
    assert cfdi.status == CfdiStatus.INVALID
    assert [p["code"] for p in cfdi.problems] == ["receptor_mismatch"]


def test_it_records_a_file_over_the_size_cap_without_storing_it(tenant, cfdi_storage_dir, settings):
    settings.CFDI_MAX_BYTES = 4000
    cfdi = store_cfdi(tenant, sample(PPD), {"uuid": "6d7434a6-e3f2-47ad-9e4c-08849946afa0"})
    assert cfdi.uuid == "6D7434A6-E3F2-47AD-9E4C-08849946AFA0"
    assert [p["code"] for p in cfdi.problems] == ["too_large"]
    assert not any(cfdi_storage_dir.rglob("*.xml"))
