"""The registered Sage queries run on the sandbox company and find what the plan put there."""
from sync.sage import queries
from sync.sage.queries import REGISTRY


def test_it_runs_every_registered_query(sandbox_company):
    tenant, alias, _plan = sandbox_company
    for name, registered in REGISTRY.items():
        list(registered.build(alias, tenant))


def test_it_finds_imported_invoices_by_uuid_in_either_case(sandbox_company):
    tenant, alias, plan = sandbox_company
    imported = [c for c in plan.cfdis if c.in_sage][:3]
    found = queries.invoices_by_folio(alias, tenant, uuids=[imported[0].uuid.lower(), imported[1].uuid, "NOT-A-UUID"])
    assert sorted(row.VALUE for row in found) == sorted([imported[0].uuid, imported[1].uuid])


def test_it_lists_posted_payments_with_their_applied_lines(sandbox_company):
    tenant, alias, plan = sandbox_company
    payments = list(queries.posted_payments(alias, tenant, since=None, after=(0, 0), limit=500))
    assert [p.DOCNBR for p in payments] == [p.docnbr for p in sorted(plan.payments, key=lambda p: (p.batch, p.entry))]
    lines = queries.applied_payment_lines(alias, tenant, entries=[(p.CNTBTCH, p.CNTENTR) for p in payments[:2]])
    assert [line.IDINVC for line in lines] == [ln.invoice_number for p in plan.payments[:2] for ln in p.lines]
    assert list(queries.applied_payment_lines(alias, tenant, entries=[])) == []


def test_it_pages_pos_after_the_watermark(sandbox_company):
    tenant, alias, plan = sandbox_company
    first = list(queries.pos_changed_since(alias, tenant, watermark=(0, 0, 0), limit=10))
    assert len(first) == 10
    last = first[-1]
    rest = list(queries.pos_changed_since(alias, tenant, watermark=(last.AUDTDATE, last.AUDTTIME, last.PORHSEQ),
                                          limit=1000))
    assert len(first) + len(rest) == len(plan.pos)
    assert not {p.PORHSEQ for p in first} & {p.PORHSEQ for p in rest}


def test_it_finds_vendors_by_rfc(sandbox_company):
    tenant, alias, plan = sandbox_company
    wanted = [v for v in plan.vendors if v.in_sage][:2]
    found = queries.vendors_by_rfc(alias, tenant, rfcs=[v.rfc.lower() for v in wanted])
    assert [v.VENDORID for v in found] == sorted(v.vendor_id for v in wanted)
