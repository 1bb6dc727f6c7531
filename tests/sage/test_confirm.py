"""A CFDI is confirmed imported only when Sage itself shows it."""
from __future__ import annotations

from decimal import Decimal

import pytest

from sync.sage.confirm import confirmed_in_sage, imported_entries
from sync.sage.models import APIBC, APIBH, APIBHO
from tenants.sage_db import sage_alias

UUID_A = "0E5C9B0A-3A61-4C55-9D43-1A2B3C4D5E6F"
UUID_B = "7D0F3E2B-9B2A-4F1E-8C6D-5E4F3A2B1C0D"
UUID_C = "A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D"


def _entry(alias, batch, entry, uuid, *, status=3, error=0):
    APIBC.objects.using(alias).get_or_create(CNTBTCH=batch, defaults={"BTCHSTTS": status})
    APIBH.objects.using(alias).create(CNTBTCH=batch, CNTITEM=entry, IDVEND="P00001", IDINVC=f"F-{batch}-{entry}",
                                      ERRENTRY=error, AMTINVCTOT=Decimal("116.00"))
    APIBHO.objects.using(alias).create(CNTBTCH=batch, CNTITEM=entry, OPTFIELD="FOLIOCFD", VALUE=uuid)


@pytest.fixture
def alias(sage_tenant):
    return sage_alias(sage_tenant)


def test_it_confirms_a_uuid_on_a_good_entry_whatever_its_case(sage_tenant, alias):
    _entry(alias, 1, 1, UUID_A.lower())
    assert imported_entries(alias, sage_tenant, [UUID_A]) == {UUID_A: (1, 1)}
    assert confirmed_in_sage(alias, sage_tenant, [f" {UUID_A.lower()} "]) == {UUID_A}


def test_it_does_not_confirm_entries_in_error_or_deleted_batches(sage_tenant, alias):
    _entry(alias, 1, 1, UUID_A, error=1)
    _entry(alias, 2, 1, UUID_B, status=4)
    _entry(alias, 3, 1, UUID_C, status=1)
    assert confirmed_in_sage(alias, sage_tenant, [UUID_A, UUID_B, UUID_C]) == {UUID_C}


def test_it_confirms_nothing_for_unknown_or_empty_uuids(sage_tenant, alias):
    _entry(alias, 1, 1, UUID_A)
    assert confirmed_in_sage(alias, sage_tenant, ["", "  ", UUID_B]) == set()


def test_it_answers_for_more_uuids_than_one_statement_takes(sage_tenant, alias):
    _entry(alias, 1, 1, UUID_A)
    many = [f"{n:08X}-0000-4000-8000-000000000000" for n in range(1500)] + [UUID_A]
    assert confirmed_in_sage(alias, sage_tenant, many) == {UUID_A}
