"""The page of invoices keyed by hand, on the demo company: proposals with their score and reasons,
Look again, Confirm and Reject — staff only, each a POST behind the CSRF check, in Spanish too."""
from __future__ import annotations

import re

import pytest
from django.test import Client

from cfdi.models import InvoiceMatch, MatchState, SageWrite
from sandbox.faults import clear_faults
from tests.sync.test_invoice_matching import HAND_KEYED, cycle, plan_cfdi, wire_demo
from tests.ui.conftest import SAGE_ALIAS
from tests.ui.test_spanish_pages import SPANISH, _english_phrases, _visible_text

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", SAGE_ALIAS])


@pytest.fixture
def demo(sage_test_alias, sage_tenant, live_server):
    tenant, plan = wire_demo(sage_tenant, live_server)
    cycle(tenant)
    yield tenant, plan
    clear_faults()


def rows(client, query: str = "") -> list[str]:
    html = client.get(f"/matches/{query}").content.decode()
    return re.findall(r'<tr id="match-(\d+)" data-document="([^"]+)"', html)


def test_staff_look_for_matches_and_see_each_with_its_score_and_reasons(staff_client, demo):
    tenant, plan = demo
    assert rows(staff_client) == []
    response = staff_client.post("/matches/find", {"tenant": tenant.code, "query": f"tenant={tenant.code}"})
    assert response.status_code == 302 and response["Location"] == f"/matches/?tenant={tenant.code}"
    page = staff_client.get(response["Location"]).content.decode()
    assert "sagetest: 2 proposal(s)." in page
    assert {document for _, document in rows(staff_client)} == {f"{v} {n}" for v, n in HAND_KEYED.values()}
    text = _visible_text(page)
    for vendor, number in HAND_KEYED.values():
        assert plan_cfdi(plan, number).uuid in text
    assert text.count("100 / 100") == 2
    assert "Number: Sage's FA-1010 is the CFDI's series-folio FA-1010." in text
    assert "the Sage 300 Web API cannot change a posted document's optional fields" in text
    assert re.search(r'<time datetime="[^"]+" title="America/Mexico_City">', page)


def test_confirm_ties_the_uuid_and_reject_keeps_the_pair_out_for_good(staff_client, demo):
    tenant, plan = demo
    staff_client.post("/matches/find", {"tenant": tenant.code})
    by_document = {document: int(pk) for pk, document in rows(staff_client)}
    confirm = by_document["P00011 FA-1010"]
    reject = by_document["P00006 FA-1022"]

    page = staff_client.post(f"/matches/{confirm}/confirm", follow=True).content.decode()
    assert "SageConnect keeps the match" in _visible_text(page)
    match = InvoiceMatch.objects.get(pk=confirm)
    assert (match.state, match.sage_write, match.decided_by) == (MatchState.CONFIRMED, SageWrite.KEPT, "staffer")
    staff_client.post(f"/matches/{reject}/reject")
    assert InvoiceMatch.objects.get(pk=reject).state == MatchState.REJECTED

    staff_client.post("/matches/find", {"tenant": tenant.code})
    assert rows(staff_client) == []
    assert [pk for pk, _ in rows(staff_client, "?state=confirmed")] == [str(confirm)]
    assert [pk for pk, _ in rows(staff_client, "?state=rejected")] == [str(reject)]
    confirmed = _visible_text(staff_client.get("/matches/?state=confirmed").content.decode())
    assert f"FOLIOCFD = {plan_cfdi(plan, 'FA-1010').uuid} on document FA-1010 of vendor P00011" in confirmed


def test_an_action_needs_the_csrf_token(staff_user, demo):
    tenant, _plan = demo
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    assert client.post("/matches/find", {"tenant": tenant.code}).status_code == 403
    assert not InvoiceMatch.objects.exists()


def test_the_page_with_proposals_is_in_spanish(staff_client, demo):
    tenant, _plan = demo
    staff_client.post("/matches/find", {"tenant": tenant.code})
    page = _visible_text(staff_client.get("/matches/", **SPANISH).content.decode())
    assert "Facturas capturadas a mano" in page
    leftovers = [phrase for phrase in _english_phrases()
                 if re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", f" {page} ")]
    assert leftovers == []


def test_a_cfdi_and_the_hand_keyed_document_it_may_be_link_each_other(staff_client, demo):
    from cfdi.models import Cfdi

    tenant, plan = demo
    staff_client.post("/matches/find", {"tenant": tenant.code})
    vendor, number = HAND_KEYED["PY0000005"]
    cfdi = Cfdi.objects.get(tenant=tenant, uuid=plan_cfdi(plan, number).uuid)
    match = InvoiceMatch.objects.get(cfdi=cfdi)

    listed = staff_client.get(f"/matches/?tenant={tenant.code}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'<a href="/cfdis/{cfdi.pk}/"><code>{cfdi.uuid}</code></a>' in listed
    page = staff_client.get(f"/cfdis/{cfdi.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    link = f"/matches/?tenant={tenant.code}&amp;state=proposed&amp;cfdi={cfdi.pk}#match-{match.pk}"
    assert f'<a href="{link}">{number} · vendor {vendor}</a>' in page
    assert rows(staff_client, f"?tenant={tenant.code}&cfdi={cfdi.pk}") == [(str(match.pk), f"{vendor} {number}")]
