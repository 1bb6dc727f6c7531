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
