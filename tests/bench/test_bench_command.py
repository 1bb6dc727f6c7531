"""`manage.py bench cfdi`: measures the real store path and leaves nothing behind."""
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cfdi.models import Cfdi


def test_it_prints_docs_per_second_and_leaves_no_rows(db, cfdi_storage_dir):
    out = StringIO()
    call_command("bench", "cfdi", "--n", "60", stdout=out)
    summary = out.getvalue()
    assert re.search(r"cfdi: 60 documents in [\d.]+ s = \d+ docs/s", summary)
    assert "0 not valid" in summary
    assert Cfdi.objects.count() == 0
    assert not cfdi_storage_dir.exists() or not any(cfdi_storage_dir.rglob("*.xml"))


def test_it_names_the_benchmarks_when_none_is_given():
    with pytest.raises(CommandError, match="cfdi"):
        call_command("bench")


def test_bench_tenants_says_how_the_cycles_ended_in_the_run_logs_words():
    from django.utils import translation

    from bench.tenants import ended

    assert ended({"succeeded": 2, "partial": 48}) == "partial: 48, succeeded: 2"
    with translation.override("es"):
        assert ended({"partial": 50}) == "parcial: 50"
