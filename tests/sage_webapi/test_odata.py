"""OData query text: what the client writes and what the stand-in reads back."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sandbox.sage_webapi.odata import Column, ODataError, parse_filter, parse_key
from sync.sage.webapi import key_segment, odata_compare, odata_eq, odata_literal

COLUMNS = {"VendorName": Column("VENDNAME"), "Amount": Column("AMTDIST"), "BatchNumber": Column("CNTBTCH")}


@pytest.mark.parametrize("value, text", [
    ("O'Brien", "'O''Brien'"),
    ("", "''"),
    (Decimal("99.99"), "99.99m"),
    (Decimal("1E+3"), "1000m"),
    (58, "58"),
    (True, "true"),
    (dt.date(2026, 1, 18), "datetime'2026-01-18T00:00:00'"),
])
def test_it_writes_literals_the_way_odata_reads_them(value, text):
    assert odata_literal(value) == text


def test_it_writes_keys_single_and_composite():
    assert key_segment(58) == "(58)"
    assert key_segment("1200") == "('1200')"
    assert key_segment({"BatchType": "PY", "BatchNumber": Decimal(65)}) == "(BatchType='PY',BatchNumber=65)"


def test_it_reads_back_what_the_client_writes():
    text = odata_eq(VendorName="O'Brien") + " and " + odata_compare("Amount", "ge", Decimal("99.99"))
    query = parse_filter(text, COLUMNS)
    assert query.children == [("VENDNAME__exact", "O'Brien"), ("AMTDIST__gte", Decimal("99.99"))]


def test_it_reads_or_not_and_parentheses():
    query = parse_filter("not (BatchNumber eq 1 or BatchNumber gt 7)", COLUMNS)
    assert query.negated
    assert str(query) == str(~(parse_filter("BatchNumber eq 1", COLUMNS) | parse_filter("BatchNumber gt 7", COLUMNS)))


@pytest.mark.parametrize("text", ["Colour eq 'red'", "VendorName eq", "VendorName like 'x'",
                                  "VendorName eq 'open", "(BatchNumber eq 1"])
def test_it_refuses_a_filter_it_cannot_read(text):
    with pytest.raises(ODataError):
        parse_filter(text, COLUMNS)


def test_it_reads_keys():
    assert parse_key("58") == 58
    assert parse_key("'O''Brien'") == "O'Brien"
    assert parse_key("BatchType='PY',BatchNumber=65") == {"BatchType": "PY", "BatchNumber": 65}
