"""Every Sage model reads the sandbox company with Sage's real column types."""
from django.db import connections

from sync.sage.fields import SageCharField
from sync.sage.models import APVEN, POPORL, SAGE_MODELS


def _char_columns(model) -> list[SageCharField]:
    return [field for field in model._meta.concrete_fields if isinstance(field, SageCharField)]


# One company per engine serves every model: building it is the slow part.

def test_it_reads_every_sage_model_trimmed(sandbox_company):
    _tenant, alias, _plan = sandbox_company
    for model in SAGE_MODELS:
        rows = list(model.objects.using(alias).all())
        assert rows, f"the sandbox company has no {model._meta.db_table} rows"
        for row in rows:
            for field in _char_columns(model):
                value = getattr(row, field.attname)
                assert value == value.rstrip(), (model._meta.db_table, field.column, value)


def test_it_stores_char_columns_padded_like_sage(sandbox_company):
    _tenant, alias, _plan = sandbox_company
    connection = connections[alias]
    quote = connection.ops.quote_name
    for model in SAGE_MODELS:
        columns = _char_columns(model)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(quote(f.column) for f in columns)} FROM {quote(model._meta.db_table)}")
            raw_rows = cursor.fetchall()
        assert raw_rows, model._meta.db_table
        for raw in raw_rows:
            for field, value in zip(columns, raw):
                assert len(value) == field.max_length, (model._meta.db_table, field.column, value)


def test_it_finds_a_vendor_by_its_trimmed_key(sandbox_company):
    _tenant, alias, plan = sandbox_company
    vendor = next(v for v in plan.vendors if v.in_sage)
    found = APVEN.objects.using(alias).get(VENDORID=vendor.vendor_id)
    assert (found.VENDORID, found.IDTAXREGI1, found.CURNCODE) == (vendor.vendor_id, vendor.rfc, vendor.currency)


def test_it_reads_quantities_as_decimals(sandbox_company):
    _tenant, alias, plan = sandbox_company
    po = plan.pos[0]
    lines = POPORL.objects.using(alias).filter(PORHSEQ=po.porhseq).order_by("PORLREV")
    assert [(ln.OQORDERED, ln.OQRECEIVED, ln.OQCANCELED, ln.OQOUTSTAND) for ln in lines] == [
        (line.ordered, line.received, line.cancelled, line.outstanding) for line in po.lines
    ]
