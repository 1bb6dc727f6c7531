"""A CFDI carries exactly one TimbreFiscalDigital: a second one is refused with its reason,
by `cfdi check` and by the store; a stamp quoted inside the Addenda (outside the seal) is not counted."""
from __future__ import annotations

import re

import pytest

from cfdi.models import CfdiStatus
from cfdi.services import store_cfdi
from cfdi.validation import check_cfdi
from tests.cfdi.samples import sample
from tests.cfdi.test_check_command import run_check

GOOD = "satcfdi-invoice-pue-stamped.xml"
TENANT_RFC = "KIJ0906199R1"


def twice_stamped() -> bytes:
    good = sample(GOOD)
    stamp = re.search(rb"<tfd:TimbreFiscalDigital[^>]*/>", good)
    # The same stamp with another UUID beside it: which one SAT certified cannot be told.
    other = re.sub(rb'UUID="[^"]+"', b'UUID="0B8A8D1E-0000-4000-8000-00000000000A"', stamp.group(0))
    return good[:stamp.end()] + other + good[stamp.end():]


def test_it_refuses_a_second_stamp_with_its_reason():
    result = check_cfdi(twice_stamped(), tenant_rfc=TENANT_RFC)

    assert [p.code for p in result.problems] == ["stamp_multiple"]
    assert "2 TimbreFiscalDigital" in result.problems[0].message
    assert check_cfdi(sample(GOOD), tenant_rfc=TENANT_RFC).ok


def test_a_stamp_quoted_in_the_addenda_is_not_a_second_stamp():
    good = sample(GOOD)
    stamp = re.search(rb"<tfd:TimbreFiscalDigital[^>]*/>", good).group(0)
    quoted = good.replace(b"</cfdi:Comprobante>", b"<cfdi:Addenda><Copia>" + stamp + b"</Copia></cfdi:Addenda>"
                          b"</cfdi:Comprobante>")

    assert check_cfdi(quoted, tenant_rfc=TENANT_RFC).facts.stamp_count == 1
    assert "stamp_multiple" not in [p.code for p in check_cfdi(quoted, tenant_rfc=TENANT_RFC).problems]


@pytest.mark.django_db
def test_the_store_keeps_it_with_the_reason_and_it_is_never_valid(make_tenant, cfdi_storage_dir):
    cfdi = store_cfdi(make_tenant(rfc=TENANT_RFC), twice_stamped())

    assert cfdi.status == CfdiStatus.INVALID
    assert [p["code"] for p in cfdi.problems] == ["stamp_multiple"]


def test_cfdi_check_refuses_it(tmp_path):
    document = tmp_path / "two-stamps.xml"
    document.write_bytes(twice_stamped())

    result = run_check(str(document), tmp_path=tmp_path)

    assert result.returncode == 1
    assert "problem [stamp_multiple]" in result.stdout
