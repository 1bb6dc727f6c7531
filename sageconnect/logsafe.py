"""Outside values in log lines and run-log lines, one line each.

A CFDI UUID, a portal's error text or a file name comes from outside; with a
CR, LF or another control character inside, it could end the line it is in
and start a forged one. Such characters are written escaped (\\r, \\n,
\\x1b…), never dropped, so the evidence stays readable.
"""
from __future__ import annotations

import logging
import re

# C0 and C1 controls (tab excepted: it never starts a line) and Unicode's own line breaks.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


class Verbatim(str):
    """Text of our own making logged as it is (e.g. a traceback's frames), lines and all."""


def _safe(value):
    if isinstance(value, Verbatim) or not isinstance(value, str):
        return value
    return one_line(value)


class EscapeControlCharacters(logging.Filter):
    """On the log handlers: every argument of a record is escaped; the format string is ours."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_safe(value) for value in record.args)
        elif isinstance(record.args, dict):
            record.args = {name: _safe(value) for name, value in record.args.items()}
        return True
