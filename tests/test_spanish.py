"""The Spanish catalog: staff read Spanish first, so our own strings must come out in Spanish.

polib is not a dependency, so the .po file is read by the small parser below; it
only has to understand what `makemessages` writes.
"""
from __future__ import annotations

import gettext
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sync.models import SyncRun

CATALOG_DIR = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES"
PO_FILE = CATALOG_DIR / "django.po"
MO_FILE = CATALOG_DIR / "django.mo"
SPANISH = {"HTTP_ACCEPT_LANGUAGE": "es-MX,es;q=0.9"}
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}
PASSWORD = "a-Long-pass-4-tests"
# Placeholders and markup a translator must carry over untouched.
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +.\d]*[sdrf]|%[sd]|\{[^}]*\}|<[^>]+>")
KEYWORD = re.compile(r"^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?) (\".*\")$")


@dataclass
class Entry:
    msgid: str
    msgid_plural: str = ""
    msgctxt: str = ""
    msgstr: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False


def read_po(path: Path) -> tuple[dict[str, str], list[Entry]]:
    """The header fields and the entries of a .po file as makemessages writes it."""
    header: dict[str, str] = {}
    entries: list[Entry] = []
    for block in path.read_text(encoding="utf-8").strip().split("\n\n"):
        parts: dict[str, list[str]] = {}
        flags: set[str] = set()
        obsolete = False
        current = ""
        for line in block.splitlines():
            if line.startswith("#~"):
                obsolete = True
                continue
            if line.startswith("#,"):
                flags |= {flag.strip() for flag in line[2:].split(",")}
                continue
            match = KEYWORD.match(line)
            if match:
                current = match.group(1)
                parts[current] = [json.loads(match.group(2))]
            elif line.startswith('"') and current:
                parts[current].append(json.loads(line))
        if obsolete:
            entries.append(Entry(msgid="", obsolete=True))
            continue
        text = {key: "".join(pieces) for key, pieces in parts.items()}
        if text.get("msgid") == "":
            for line in text.get("msgstr", "").splitlines():
                name, _sep, value = line.partition(":")
                header[name.strip()] = value.strip()
            continue
        msgstr = [text[key] for key in sorted(text) if key.startswith("msgstr")]
        entries.append(Entry(text["msgid"], text.get("msgid_plural", ""), text.get("msgctxt", ""), msgstr, flags))
    return header, entries


@pytest.fixture(scope="module")
def catalog() -> tuple[dict[str, str], list[Entry]]:
    return read_po(PO_FILE)


@pytest.fixture
def staff_client(client, db):
    user = User.objects.create_user("contador", "contador@example.com", PASSWORD, is_staff=True)
    # force_login: django-axes refuses authenticate() calls without a request, as client.login() makes.
    client.force_login(user)
    return client


def test_it_holds_a_real_catalog_of_our_strings(catalog):
    header, entries = catalog
    assert header["Language"] == "es"
    assert header["Plural-Forms"] == "nplurals=2; plural=(n != 1);"
    assert len(entries) > 400, "makemessages found far fewer strings than the project has"
    assert not [e for e in entries if e.obsolete], "obsolete (#~) entries: run makemessages and delete them"


def test_it_leaves_no_entry_untranslated_or_fuzzy(catalog):
    _header, entries = catalog
    untranslated = [e.msgid for e in entries if not e.msgstr or not all(e.msgstr)]
    fuzzy = [e.msgid for e in entries if "fuzzy" in e.flags]
    assert untranslated == []
    assert fuzzy == []


def test_it_gives_plural_entries_both_forms(catalog):
    _header, entries = catalog
    plurals = [e for e in entries if e.msgid_plural]
    assert plurals, "the catalog should hold our ngettext/blocktranslate-plural strings"
    assert all(len(e.msgstr) == 2 for e in plurals)


def test_it_keeps_every_placeholder_and_tag(catalog):
    _header, entries = catalog
    damaged = []
    for entry in entries:
        wanted = sorted(PLACEHOLDER.findall(entry.msgid))
        for translated in entry.msgstr:
            if sorted(PLACEHOLDER.findall(translated)) != wanted:
                damaged.append((entry.msgid, translated))
    assert damaged == []


def test_it_ships_a_compiled_catalog_matching_the_po(catalog):
    """A .po edited without compilemessages changes nothing on the pages."""
    _header, entries = catalog
    with MO_FILE.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for entry in entries:
        if entry.msgid_plural:
            got = [compiled.ngettext(entry.msgid, entry.msgid_plural, n) for n in (1, 2)]
        elif entry.msgctxt:
            got = [compiled.pgettext(entry.msgctxt, entry.msgid)]
        else:
            got = [compiled.gettext(entry.msgid)]
        if got != entry.msgstr:
            stale.append(entry.msgid)
    assert stale == [], "run: manage.py compilemessages -l es"


def test_it_renders_the_login_page_in_spanish(client, db):
    page = client.get(reverse("login"), **SPANISH).content.decode()
    assert "Inicie sesión en SageConnect" in page
    assert "Contraseña" in page
    assert "Log in to SageConnect" not in page


def test_it_renders_the_overview_and_navigation_in_spanish(staff_client):
    page = staff_client.get(reverse("overview"), **SPANISH).content.decode()
    assert "<h1>Resumen general</h1>" in page
    for label in ("Ejecuciones", "Órdenes de compra", "Programación", "Cerrar sesión"):
        assert label in page
    assert "Purchase orders" not in page


def test_it_still_serves_english_to_whoever_asks_for_it(staff_client):
    page = staff_client.get(reverse("overview"), **ENGLISH).content.decode()
    assert "<h1>Overview</h1>" in page
    assert "Resumen general" not in page


def test_it_translates_labels_and_plurals_from_python_code():
    with translation.override("es"):
        assert str(SyncRun.Status.PARTIAL.label) == "parcial"
        assert _("Log out") == "Cerrar sesión"
        assert ngettext("%(minutes)s minute", "%(minutes)s minutes", 1) % {"minutes": 1} == "1 minuto"
        assert ngettext("%(minutes)s minute", "%(minutes)s minutes", 15) % {"minutes": 15} == "15 minutos"
