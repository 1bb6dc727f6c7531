"""`manage.py bench pages`: every staff page asked through the whole request path, its time and queries
printed, and no user left behind."""
import json
import re
from io import StringIO

from django.contrib.auth.models import User
from django.core.management import call_command

from bench import isolation, pages


def test_it_prints_each_pages_time_and_queries_and_leaves_no_user(db, world, monkeypatch, tmp_path):
    world(2)
    monkeypatch.setattr(isolation, "bench_root", lambda: tmp_path)
    monkeypatch.setattr(pages, "BUDGET_MS", 10_000.0)  # the budget is the demo's figure, not a test machine's
    out = StringIO()
    call_command("bench", "pages", "--repeat", "2", stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == len(pages.page_urls()) >= 13
    assert all(re.match(r"^\s+[\d.]+ ms\s+\d+ q  200  /", line) for line in lines), lines
    figures = json.loads((tmp_path / "pages.json").read_text())["pages"]
    assert figures["/attention/?show=waiting"]["queries"] > 0
    assert not User.objects.filter(username__startswith="bench-pages-").exists()
