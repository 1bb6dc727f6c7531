"""The hostile CFDI set served by the portal stand-in and run through the
whole pipeline (download, store, import): each hostile file ends with its
own visible reason, and every other invoice is imported into Sage."""
from __future__ import annotations

import re

import pytest

from cfdi.models import Cfdi, CfdiStatus
from sandbox.plan import build_plan
from sandbox.portal.models import SandboxCfdi
from sync.engine.pipeline import run_tenant
from tests.faults.support import COMPANY_RFC, TODAY
from tests.sync.conftest import SAGE_DB

pytestmark = SAGE_DB

MAX_BYTES = 200_000


def truncated(xml: bytes) -> bytes:
    return xml[: len(xml) // 2]


def xxe(xml: bytes) -> bytes:
    return (b'<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4" Version="&x;"/>')


def billion_laughs(xml: bytes) -> bytes:
    entities = '<!ENTITY a0 "lol">' + "".join(f'<!ENTITY a{i} "{"&a%d;" % (i - 1) * 10}">' for i in range(1, 10))
    return f'<?xml version="1.0"?><!DOCTYPE c [{entities}]><c>&a9;</c>'.encode()


def dtd(xml: bytes) -> bytes:
    return xml.replace(b"?>", b'?><!DOCTYPE cfdi:Comprobante SYSTEM "http://127.0.0.1:9/x.dtd">', 1)


def huge(xml: bytes) -> bytes:
    return xml.replace(b"</cfdi:Comprobante>", b"<!--" + b"x" * (MAX_BYTES + 1000) + b"--></cfdi:Comprobante>")


def no_stamp(xml: bytes) -> bytes:
    return re.sub(rb"<tfd:TimbreFiscalDigital[^>]*/>", b"", xml, count=1)


def wrong_receptor(xml: bytes) -> bytes:
    return re.sub(rb'(<cfdi:Receptor[^>]*?\sRfc=")[^"]+"', rb'\1XAXX010101000"', xml, count=1)


def bad_totals(xml: bytes) -> bytes:
    return re.sub(rb'(<cfdi:Comprobante[^>]*?\sTotal=")([0-9.]+)"',
                  lambda m: m.group(1) + f"{float(m.group(2)) + 100:.2f}".encode() + b'"', xml, count=1)


def empty_addenda(xml: bytes) -> bytes:
    return xml.replace(b"</cfdi:Comprobante>", b"<cfdi:Addenda/></cfdi:Comprobante>")


# case → (what the portal serves instead of the real file, the problem code that must show)
HOSTILE = {
    "truncated": (truncated, "not_well_formed"),
    "XXE": (xxe, "doctype"),
    "billion laughs": (billion_laughs, "doctype"),
    "DTD": (dtd, "doctype"),
    "huge": (huge, "too_large"),
    "no stamp": (no_stamp, "not_stamped"),
    "wrong receptor": (wrong_receptor, "receptor_mismatch"),
    "bad totals": (bad_totals, "totals_inconsistent"),
    "empty Addenda": (empty_addenda, "addenda_empty"),
}


@pytest.fixture
def plan():
    return build_plan(seed=3, vendors=10, pos=4, lines_per_po=2, cfdis=48, payments=0, company_rfc=COMPANY_RFC,
                      today=TODAY)


def importable(plan) -> list[str]:
    return [c.uuid for c in plan.cfdis if c.kind == "I" and not c.in_sage and plan.vendor(c.vendor_id).in_sage]


def problem_codes(uuid: str) -> list[str]:
    row = Cfdi.objects.filter(uuid=uuid).first()
    return [p.get("code") for p in row.problems] if row else []


def test_it_gives_each_hostile_file_its_reason_and_imports_everything_else(world, plan, settings):
    settings.CFDI_MAX_BYTES = MAX_BYTES
    candidates = importable(plan)
    assert len(candidates) >= len(HOSTILE) + 4, "the plan needs more invoices to import"
    hostile = dict(zip(HOSTILE, candidates))
    for case, uuid in hostile.items():
        row = SandboxCfdi.objects.get(uuid=uuid)
        row.xml = HOSTILE[case][0](bytes(row.xml))
        row.save(update_fields=["xml"])
    # Same UUID, different bytes: another listing serves a changed copy of a real invoice's file.
    claimed, impostor = candidates[len(HOSTILE)], candidates[len(HOSTILE) + 1]
    original = bytes(SandboxCfdi.objects.get(uuid=claimed).xml)
    SandboxCfdi.objects.filter(uuid=impostor).update(xml=re.sub(rb'Folio="(\d+)"', rb'Folio="9\1"', original, count=1))

    for _ in range(2):
        run_tenant(world.pk)

    for case, uuid in hostile.items():
        row = Cfdi.objects.get(uuid=uuid)
        assert row.status != CfdiStatus.IMPORTED, case
        assert HOSTILE[case][1] in problem_codes(uuid), (case, row.problems)
        assert all(p.get("message") for p in row.problems), case
        assert "root:" not in str(row.problems)  # the XXE entity was never read
    assert "uuid_different_bytes" in problem_codes(claimed)
    others = set(candidates) - set(hostile.values()) - {claimed, impostor}
    assert len(others) >= 2
    statuses = dict(Cfdi.objects.filter(uuid__in=others).values_list("uuid", "status"))
    assert statuses == {uuid: CfdiStatus.IMPORTED for uuid in others}
