"""An invoice's page says what the portal says of it, and why it is not imported or needs a person."""
from __future__ import annotations

import pytest
from django.utils import timezone

from cfdi.models import Cfdi, CfdiStatus
from cfdi.portal_status import apply_portal_status
from sync.engine.context import StepContext
from sync.models import Outbound
from sync.steps.cfdi_download import note_portal_status

pytestmark = pytest.mark.django_db


def _with_portal(cfdi: Cfdi, **metadata) -> Cfdi:
    """What the download step does with the portal's metadata of a CFDI we hold."""
    cfdi.portal_metadata = {**cfdi.portal_metadata, **metadata}
    apply_portal_status(cfdi)
    cfdi.save()
    note_portal_status(StepContext(tenant_id=cfdi.tenant_id, run_id=None, step="cfdi_download"), cfdi)
    cfdi.refresh_from_db()
    return cfdi


def test_a_rejected_invoice_says_why_and_offers_no_retry(staff_client, world):
    world(1)
    cfdi = Cfdi.objects.get()
    cfdi.status, cfdi.problems = CfdiStatus.VALID, []
    _with_portal(cfdi, status="REJECTED_BY_CXP")

    html = staff_client.get(f"/cfdis/{cfdi.pk}/").content.decode()

    assert "REJECTED_BY_CXP" in html and "portal_rejected" in html
    assert 'id="retry"' not in html


def test_an_imported_invoice_cancelled_later_says_what_to_do_in_sage(staff_client, world):
    world(1)
    cfdi = Cfdi.objects.get()
    cfdi.status, cfdi.problems, cfdi.sage_batch, cfdi.sage_entry = CfdiStatus.IMPORTED, [], 58, 3
    cfdi.imported_at = timezone.now()
    _with_portal(cfdi, status="PENDING_PAYMENT", cancelled_by_sat=True)

    html = staff_client.get(f"/cfdis/{cfdi.pk}/").content.decode()

    assert cfdi.status == CfdiStatus.NEEDS_ATTENTION
    assert Outbound.objects.get(kind="cfdi_import", key=cfdi.uuid).attention == Outbound.Attention.PERSON
    assert "portal_refused_after_import" in html and "58" in html and 'id="retry"' not in html
    assert staff_client.post(f"/cfdis/{cfdi.pk}/retry").status_code in (302, 303)
    cfdi.refresh_from_db()
    assert cfdi.status == CfdiStatus.NEEDS_ATTENTION, "a Retry never re-imports a cancelled invoice"
