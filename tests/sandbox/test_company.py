"""The sandbox company: deterministic from its seed, and every state EXTERNAL.md names."""
from __future__ import annotations

import datetime as dt
import io
import time
from collections import defaultdict
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connections

from sandbox.company import create_sage_tables, write_company
from sandbox.plan import build_plan
from sync.sage import models as sage
from sync.sage.models import SAGE_MODELS
from tenants.models import Tenant
from tenants.sage_db import sage_alias
from tests.support import needs_postgres

TODAY = "2026-11-01"


def _tables(alias: str) -> dict[str, list[tuple]]:
    connection = connections[alias]
    quote = connection.ops.quote_name
    contents = {}
    with connection.cursor() as cursor:
        for model in SAGE_MODELS:
            cursor.execute(f"SELECT * FROM {quote(model._meta.db_table)}")
            contents[model._meta.db_table] = sorted(tuple(str(value) for value in row) for row in cursor.fetchall())
    return contents


def _make_company(tenant_code: str, seed: int, engine: str = "sqlite", **sizes) -> tuple[Tenant, dict]:
    arguments = {"vendors": 15, "pos": 35, "lines_per_po": 3, "cfdis": 40, "payments": 12, **sizes}
    call_command(
        "sandbox", "company", "--tenant", tenant_code, "--seed", str(seed), "--today", TODAY, "--engine", engine,
        *[f"--{name.replace('_', '-')}={value}" for name, value in arguments.items()], stdout=io.StringIO(),
    )
    tenant = Tenant.objects.get(code=tenant_code)
    return tenant, _tables(sage_alias(tenant))


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


def test_it_gives_identical_tables_for_the_same_seed(sage_db_allowed, var_dir):
    _tenant, first = _make_company("demo", seed=11)
    _tenant, again = _make_company("demo", seed=11)
    assert first == again
    assert all(first[model._meta.db_table] for model in SAGE_MODELS)


def test_it_gives_different_tables_for_another_seed(sage_db_allowed, var_dir):
    _tenant, first = _make_company("demo", seed=11)
    _tenant, other = _make_company("demo", seed=12)
    assert first["APVEN"] != other["APVEN"] and first["POPORL"] != other["POPORL"]


def test_it_wires_the_tenant_to_the_stand_ins(sage_db_allowed, var_dir, settings):
    settings.SANDBOX_BASE_URL = "http://127.0.0.1:3030"
    tenant, _contents = _make_company("demo", seed=3)
    assert tenant.sage_db_engine == "sqlite"
    assert tenant.sage_db_name == str(var_dir / "sandbox" / "demo.sqlite3")
    assert tenant.portal_url == "http://127.0.0.1:3030/sandbox/portal"
    assert tenant.webapi_url == "http://127.0.0.1:3030/sandbox/sage"
    assert tenant.sat_status_url == "http://127.0.0.1:3030/sandbox/sat/ConsultaCFDIService.svc"
    assert (tenant.portal_tenant_id, tenant.webapi_company) == ("demo", "DEMO")
    assert tenant.portal_key and tenant.portal_secret and tenant.webapi_password
    assert (tenant.rfc, tenant.name) == ("DEM8801152E9", "Demostración Industrial SA de CV")
    assert Tenant.objects.filter(code="demo").count() == 1


@needs_postgres
@pytest.mark.postgres
def test_it_writes_the_company_to_postgresql_when_asked(sage_db_allowed, var_dir):
    tenant, contents = _make_company("pgdemo", seed=5, engine="postgresql")
    assert (tenant.sage_db_engine, tenant.sage_db_name) == ("postgresql", "sageconnect_sandbox_pgdemo")
    assert len(contents["POPORH1"]) == 35
    connections[sage_alias(tenant)].close()


@pytest.fixture
def company(sage_db_allowed, make_tenant, tmp_path):
    plan = build_plan(seed=21, vendors=14, pos=42, lines_per_po=4, cfdis=48, payments=15, today=dt.date(2026, 11, 1))
    tenant = make_tenant(code="states", sage_db_engine="sqlite", sage_db_name=str(tmp_path / "states.sqlite3"))
    alias = sage_alias(tenant)
    create_sage_tables(alias, drop=True)
    write_company(alias, plan)
    yield alias, plan
    connections[alias].close()


def _lines_by_po(alias: str) -> dict[int, list]:
    lines = defaultdict(list)
    for line in sage.POPORL.objects.using(alias).all():
        lines[int(line.PORHSEQ)].append(line)
    return lines


def test_it_holds_a_po_in_every_state(company):
    alias, plan = company
    lines = _lines_by_po(alias)
    headers = {int(h.PORHSEQ): h for h in sage.POPORH1.objects.using(alias).all()}
    seen = set()
    for porhseq, po_lines in lines.items():
        ordered = sum(ln.OQORDERED for ln in po_lines)
        cancelled = sum(ln.OQCANCELED for ln in po_lines)
        received = sum(ln.OQRECEIVED for ln in po_lines)
        header = headers[porhseq]
        if header.ISCOMPLETE == 1:
            seen.add("complete")
        elif cancelled == ordered > 0:
            seen.add("cancelled")
        elif 0 < cancelled < ordered:
            seen.add("partly_cancelled")
        elif 0 < received < ordered:
            seen.add("partly_received")
        elif header.ONHOLD == 1:
            seen.add("on_hold")
        elif header.PORTYPE == 2:
            seen.add("standing")
        else:
            seen.add("open")
    assert seen == {"complete", "cancelled", "partly_cancelled", "partly_received", "on_hold", "standing", "open"}


def test_it_keeps_outstanding_quantities_consistent(company):
    alias, _plan = company
    for line in sage.POPORL.objects.using(alias).all():
        assert line.OQOUTSTAND == max(line.OQORDERED - line.OQRECEIVED - line.OQCANCELED, Decimal(0))


def test_it_closes_complete_pos_with_invoiced_complete_receipts(company):
    alias, plan = company
    complete = sage.POPORH1.objects.using(alias).filter(ISCOMPLETE=1)
    assert complete.exists()
    for header in complete:
        assert header.DTCOMPLETE > 0
        receipts = sage.PORCPH1.objects.using(alias).filter(PORHSEQ=header.PORHSEQ)
        assert receipts.exists()
        assert all(r.ISINVOICED == 1 and r.ISCOMPLETE == 1 for r in receipts)
        received = sum(ln.RQRECEIVED for ln in sage.PORCPL.objects.using(alias).filter(PORHSEQ=header.PORHSEQ))
        ordered = sum(ln.OQORDERED for ln in sage.POPORL.objects.using(alias).filter(PORHSEQ=header.PORHSEQ))
        assert received == ordered


def test_it_posts_the_imported_invoices_with_their_uuid(company):
    alias, plan = company
    hand_captured = {line.invoice_number for p in plan.payments for line in p.lines if not line.cfdi_uuid}
    assert hand_captured, "the plan should hold a payment of an invoice Sage has without its UUID"
    folios = {(int(o.CNTBTCH), int(o.CNTITEM)): o.VALUE
              for o in sage.APIBHO.objects.using(alias).filter(OPTFIELD="FOLIOCFD")}
    entries = {h.IDINVC: h for h in sage.APIBH.objects.using(alias).all()}
    posted = set(sage.APIBC.objects.using(alias).filter(BTCHSTTS=3).values_list("CNTBTCH", flat=True))
    for cfdi in (c for c in plan.cfdis if c.in_sage):
        entry = entries[cfdi.document_number]
        assert entry.CNTBTCH in posted
        assert sage.APOBL.objects.using(alias).filter(IDVEND=cfdi.vendor_id, IDINVC=cfdi.document_number).exists()
        key = (int(entry.CNTBTCH), int(entry.CNTITEM))
        if cfdi.document_number in hand_captured:
            assert key not in folios
        else:
            assert folios[key] == cfdi.uuid
    assert not any(c.kind == "P" and c.document_number in entries for c in plan.cfdis)


def test_it_posts_payments_applied_to_invoices(company):
    alias, plan = company
    posted_batches = set(sage.APBTA.objects.using(alias).filter(PAYMTYPE="PY", BATCHSTAT=3)
                         .values_list("CNTBTCH", flat=True))
    entries = list(sage.APTCR.objects.using(alias).all())
    assert len(entries) == len(plan.payments)
    for entry in entries:
        assert (entry.BTCHTYPE, entry.RMITTYPE, entry.ERRENTRY) == ("PY", 1, 0)
        assert entry.CNTBTCH in posted_batches
        applied = sage.APTCP.objects.using(alias).filter(CNTBTCH=entry.CNTBTCH, CNTRMIT=entry.CNTENTR)
        assert sum(a.AMTPAYM for a in applied) == entry.AMTRMIT
        for line in applied:
            assert sage.APIBH.objects.using(alias).filter(IDVEND=line.IDVEND, IDINVC=line.IDINVC).exists()
    reversed_ids = set(sage.APPYM.objects.using(alias).filter(SWCHKCLRD=2).values_list("IDRMIT", flat=True))
    assert reversed_ids == {p.check_number for p in plan.payments if p.reversed}
    assert reversed_ids


def test_it_pads_char_keys_with_the_rfc_in_a_tax_id_column(company):
    alias, plan = company
    vendor = next(v for v in plan.vendors if v.in_sage)
    with connections[alias].cursor() as cursor:
        cursor.execute('SELECT "VENDORID", "IDTAXREGI1", "CURNCODE" FROM "APVEN" WHERE "VENDORID" = %s',
                       [vendor.vendor_id.ljust(12)])
        raw_id, raw_rfc, currency = cursor.fetchone()
    assert raw_id == vendor.vendor_id.ljust(12) and raw_rfc == vendor.rfc.ljust(20)
    assert currency == vendor.currency
    assert "MXP" in set(sage.APVEN.objects.using(alias).values_list("CURNCODE", flat=True))
    with_provider_id = set(sage.APVENO.objects.using(alias).filter(OPTFIELD="PROVIDERID")
                           .values_list("VENDORID", flat=True))
    assert with_provider_id == {v.vendor_id for v in plan.vendors if v.in_sage and v.external_id_on_portal}


def test_it_writes_ten_thousand_pos_well_under_a_minute(sage_db_allowed, make_tenant, tmp_path):
    plan = build_plan(seed=2, vendors=200, pos=10_000, lines_per_po=5, cfdis=1000, payments=300,
                      today=dt.date(2026, 11, 1))
    tenant = make_tenant(code="big", sage_db_engine="sqlite", sage_db_name=str(tmp_path / "big.sqlite3"))
    alias = sage_alias(tenant)
    create_sage_tables(alias, drop=True)
    started = time.monotonic()
    counts = write_company(alias, plan)
    elapsed = time.monotonic() - started
    connections[alias].close()
    assert (counts["POPORH1"], counts["POPORL"]) == (10_000, 50_000)
    assert elapsed < 40, f"writing the company took {elapsed:.1f} s"
