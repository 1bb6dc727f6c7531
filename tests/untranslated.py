"""Whether a line we wrote (a run-log line, a note, a line of `sync`'s output) is in the language in force.

A line passes only when it is one of our catalog's texts in that language, its placeholders filled
with anything (a UUID, an outside system's own message), and when it carries no phrase of the other
language's side of the catalog. A line built by an f-string that was never wrapped in gettext matches
no catalog text in either language, so it fails in both: the check cannot be passed by leaving a
string out of the catalog.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from tenants.models import STEP_NAMES
from tests.test_spanish import PO_FILE, read_po

PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +.\d]*[sdrf]|%[sd]")
WORD = re.compile(r"[^\W\d_]+")
# A text whose fixed part has fewer letters than this ("%(tenant)s %(step)s: %(status)s") proves nothing by
# matching: a line matches it only when what fills each of its placeholders is itself ours (or one token).
MIN_LETTERS = 3


@dataclass(frozen=True)
class Text:
    pattern: re.Pattern[str]
    structural: bool
    pieces: tuple[str, ...]  # its fixed parts: a line lacking one is not tried against the pattern (speed)

    def match(self, line: str) -> re.Match[str] | None:
        return self.pattern.match(line) if all(piece in line for piece in self.pieces) else None


def _text(text: str) -> Text | None:
    pieces = PLACEHOLDER.split(text)
    if not any(piece.strip() for piece in pieces) or (len(pieces) == 1 and not WORD.search(text)):
        return None  # "%(a)s %(b)s" would split any line into words that each pass as a token
    letters = sum(len(word) for piece in pieces for word in WORD.findall(piece))
    pieces = [re.sub(r"\s+", " ", piece) for piece in pieces]
    pattern = re.compile("^" + "(.*?)".join(re.escape(piece) for piece in pieces) + "$", re.S)
    return Text(pattern, letters < MIN_LETTERS, tuple(piece for piece in pieces if piece.strip()))


def _phrases(text: str, other: str) -> set[str]:
    """The fixed fragments of `text`, two words or more, that the other language's side does not share."""
    other_plain = " ".join(PLACEHOLDER.sub(" ", other).split())
    found = set()
    for piece in PLACEHOLDER.split(text):
        piece = " ".join(piece.split()).strip(" .,:;()—-")
        if len(WORD.findall(piece)) >= 2 and piece not in other_plain:
            found.add(piece)
    return found


@dataclass(frozen=True)
class Side:
    texts: tuple[Text, ...]
    foreign: re.Pattern[str]  # any phrase of the other language, which must not show
    foreign_words: frozenset[str]  # one-word texts of the other language ("succeeded"), as a filled-in value


@cache
def side(language: str) -> Side:
    _header, entries = read_po(PO_FILE)
    texts, foreign, words = [], set(), set()
    for entry in entries:
        if entry.obsolete or not entry.msgstr or not all(entry.msgstr):
            continue
        english = [entry.msgid] + ([entry.msgid_plural] if entry.msgid_plural else [])
        ours, theirs = (entry.msgstr, english) if language == "es" else (english, entry.msgstr)
        for text in ours:
            made = _text(text)
            if made is not None:
                texts.append(made)
        for text in theirs:
            foreign |= _phrases(text, " ".join(ours))
            if len(text.split()) == 1 and text not in ours:
                words.add(text)
    anyone = "|".join(re.escape(phrase) for phrase in sorted(foreign, key=len, reverse=True))
    # A word both sides use ("CFDI", "Sage") is no sign of the other language.
    words -= {text for entry in entries for text in (entry.msgstr if language == "es" else [entry.msgid])}
    return Side(tuple(texts), re.compile(rf"(?<![\w-])(?:{anyone})(?![\w-])"), frozenset(words))


def _ours(line: str, this: Side, depth: int = 0) -> bool:
    if any(not text.structural and text.match(line) for text in this.texts):
        return True
    if depth > 3:
        return False
    for text in this.texts:
        match = text.structural and text.match(line)
        if match and all(_filled_in(value, this, depth) for value in match.groups()):
            return True
    return False


def _filled_in(value: str, this: Side, depth: int) -> bool:
    if value in STEP_NAMES:
        return True  # a step's name is a code (`sync --step NAME`), in no language
    if not value or (len(value.split()) == 1 and value not in this.foreign_words):
        return True  # a code, a number, a name
    return _ours(value, this, depth + 1)


def problem(line: str, language: str) -> str | None:
    """Why `line` is not ours in `language`, or None."""
    line = " ".join(line.split())
    if not line:
        return None
    this = side(language)
    found = this.foreign.search(line)
    if found:
        return f"carries {found.group()!r}"
    if not _ours(line, this):
        return "is none of the catalog's texts"
    return None


def problems(lines, language: str) -> dict[str, str]:
    return {line: why for line in lines if (why := problem(line, language))}
