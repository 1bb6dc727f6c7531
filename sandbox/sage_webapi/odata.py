"""The OData v3 subset the Sage 300 Web API stand-in understands.

`$filter` with eq ne gt ge lt le, and/or/not, parentheses, 'text' literals
(quotes doubled), 99.99m decimals, whole numbers and datetime'…' — turned into
a Django Q over the Sage columns of one resource.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Q


class ODataError(ValueError):
    """A query the stand-in cannot read: Sage answers InvalidParameters."""


@dataclass(frozen=True)
class Column:
    """A resource property: its Sage column and how a literal becomes a stored value."""

    column: str
    to_db: Callable[[Any], Any] = lambda value: value


_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<datetime>datetime'[^']*')"
    r"|(?P<string>'(?:[^']|'')*')"
    r"|(?P<number>-?\d+(?:\.\d+)?[mMdD]?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<paren>[()])"
    r")"
)
_OPERATORS = {"eq": "exact", "ne": "exact", "gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ODataError(f"Cannot read $filter near {text[position:position + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def literal(kind: str, text: str) -> Any:
    if kind == "string":
        return text[1:-1].replace("''", "'")
    if kind == "datetime":
        value = text[len("datetime'"):-1]
        try:
            return dt.datetime.fromisoformat(value.rstrip("Z")).date()
        except ValueError:
            raise ODataError(f"Bad datetime literal {text}") from None
    if kind == "number":
        try:
            return Decimal(text.rstrip("mMdD"))
        except InvalidOperation:
            raise ODataError(f"Bad number {text}") from None
    if kind == "name" and text in ("true", "false"):
        return text == "true"
    if kind == "name" and text == "null":
        return None
    raise ODataError(f"Expected a value, found {text!r}")


class FilterParser:
    def __init__(self, text: str, columns: dict[str, Column]) -> None:
        self.tokens = tokenize(text)
        self.position = 0
        self.columns = columns

    def parse(self) -> Q:
        query = self.expression()
        if self.position != len(self.tokens):
            raise ODataError(f"Unexpected {self.tokens[self.position][1]!r} in $filter")
        return query

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ODataError("$filter ends too early")
        self.position += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "name" and token[1] == word:
            self.position += 1
            return True
        return False

    def expression(self) -> Q:
        query = self.conjunction()
        while self.keyword("or"):
            query |= self.conjunction()
        return query

    def conjunction(self) -> Q:
        query = self.primary()
        while self.keyword("and"):
            query &= self.primary()
        return query

    def primary(self) -> Q:
        if self.keyword("not"):
            return ~self.primary()
        token = self.peek()
        if token == ("paren", "("):
            self.take()
            query = self.expression()
            if self.take() != ("paren", ")"):
                raise ODataError("Missing ) in $filter")
            return query
        return self.comparison()

    def comparison(self) -> Q:
        kind, name = self.take()
        if kind != "name" or name not in self.columns:
            raise ODataError(f"Unknown property {name!r} in $filter")
        operator = self.take()[1]
        if operator not in _OPERATORS:
            raise ODataError(f"Unknown operator {operator!r} in $filter")
        value_kind, value_text = self.take()
        column = self.columns[name]
        try:
            value = column.to_db(literal(value_kind, value_text))
        except (KeyError, ValueError, TypeError, InvalidOperation):
            raise ODataError(f"Bad value {value_text} for {name}") from None
        query = Q(**{f"{column.column}__{_OPERATORS[operator]}": value})
        return ~query if operator == "ne" else query


def parse_filter(text: str | None, columns: dict[str, Column]) -> Q:
    if not text or not text.strip():
        return Q()
    return FilterParser(text, columns).parse()


def parse_count(value: str | None, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ODataError(f"Expected a whole number, found {value!r}") from None
    if number < 0:
        raise ODataError(f"Expected a whole number, found {value!r}")
    return number


def parse_key(text: str) -> Any:
    """`58` → 58, `'1200'` → '1200', `BatchSelector='PY',BatchNumber=65` → dict,
    `'PY',65` → tuple (Developer Reference §5.2: composite keys, with or without
    property names; spaces around `=` allowed)."""
    text = text.strip()
    if "=" in text and not text.startswith("'"):
        parts: dict[str, Any] = {}
        for piece in re.findall(r"(\w+)\s*=\s*('(?:[^']|'')*'|[^,]+)", text):
            parts[piece[0]] = parse_key(piece[1])
        return parts
    pieces = [piece.strip() for piece in re.findall(r"'(?:[^']|'')*'|[^,]+", text)]
    if len(pieces) > 1:
        return tuple(parse_key(piece) for piece in pieces)
    tokens = tokenize(text)
    if len(tokens) != 1:
        raise ODataError(f"Cannot read the key ({text})")
    return _key_value(literal(*tokens[0]))


def _key_value(value: Any) -> Any:
    return int(value) if isinstance(value, Decimal) and value == value.to_integral_value() else value
