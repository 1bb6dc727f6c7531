"""Staff pages in Spanish carry no English of ours; the sync command's counts follow the language too."""
from __future__ import annotations

import html
import re

import pytest
from django.utils import translation

from tests.test_spanish import PO_FILE, read_po
from tests.ui.pages import get_urls

pytestmark = pytest.mark.django_db

SPANISH = {"HTTP_ACCEPT_LANGUAGE": "es-MX,es;q=0.9"}
TAG = re.compile(r"<[^>]+>")


def _english_phrases() -> list[str]:
    """Our catalog's English of two words or more whose Spanish differs: none may show on a Spanish page."""
    _header, entries = read_po(PO_FILE)
    phrases = []
    for entry in entries:
        if entry.msgid_plural or "%" in entry.msgid or "{" in entry.msgid:
            continue
        if len(entry.msgid.split()) >= 2 and entry.msgstr and entry.msgstr[0] != entry.msgid:
            phrases.append(entry.msgid)
    return phrases


def _visible_text(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(TAG.sub(" ", page)).split())


def test_it_shows_every_staff_page_in_spanish_without_our_english(staff_client, world):
    from sync.models import Outbound

    world(2)
    Outbound.objects.filter(kind="po").update(attention="permanent", state="failed")
    phrases = _english_phrases()
    assert len(phrases) > 100
    leftovers = {}
    for url in get_urls():
        response = staff_client.get(url, **SPANISH)
        if not response["Content-Type"].startswith("text/html"):
            continue
        text = f" {_visible_text(response.content.decode())} "
        found = [phrase for phrase in phrases if re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", text)]
        if found:
            leftovers[url] = found
    assert leftovers == {}


def test_it_says_the_sync_commands_counts_in_the_language_in_force():
    from sync.engine.context import StepResult

    result = StepResult(created=28, updated=0, skipped=12, failed=1)
    with translation.override("es"):
        assert result.summary() == "creados 28, actualizados 0, omitidos 12, con error 1"
    with translation.override("en"):
        assert result.summary() == "created 28, updated 0, skipped 12, failed 1"
