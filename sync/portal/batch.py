"""Which sent record a batch answer's result is about.

The spec describes a batch result's `id` (BatchResponseCfdiResponse,
BatchResponseExternalPaymentResponse) as "Id externo" with a 24-hex example,
and the older system read it as the portal's own id. Neither reading is
assumed: a result is matched to what was sent by every id it carries — its
`id`, and its `item`'s portal id, external id and CFDI UUID — against every id
the sent record is known by. A result that matches no sent record, or more
than one, is returned apart so the step can show it; a sent record no result
matches is left unanswered, never guessed by position.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sync.portal import schemas as s

Result = TypeVar("Result", s.BatchResponseCfdiResponse, s.BatchResponseExternalPaymentResponse)


@dataclass
class Matched(Generic[Result]):
    by_key: dict[str, Result] = field(default_factory=dict)
    unmatched: list[Result] = field(default_factory=list)

    def unanswered(self, keys: Iterable[str]) -> list[str]:
        return [key for key in keys if key not in self.by_key]


def _norm(value: object) -> str:
    return str(value or "").strip().upper()


def result_ids(result: s.BatchResponseCfdiResponse | s.BatchResponseExternalPaymentResponse) -> set[str]:
    """Every id a result carries, upper case (UUIDs and hex ids compare without regard to case)."""
    ids = {_norm(result.id)}
    item = result.item
    if item is not None:
        ids |= {_norm(item.id), _norm(getattr(item, "external_id", None))}
        if isinstance(item, s.CfdiExternResponse):
            ids.add(_norm(item.cfdi_uuid))
    return ids - {""}


def _owners(sent: dict[str, Iterable[str]]) -> dict[str, set[str]]:
    """Each id to the keys of the sent records known by it."""
    owner: dict[str, set[str]] = {}
    for key, ids in sent.items():
        for known in {_norm(key), *(_norm(i) for i in ids)} - {""}:
            owner.setdefault(known, set()).add(key)
    return owner


def match_results(results: Iterable[Result], sent: dict[str, Iterable[str]]) -> Matched[Result]:
    """`sent` maps each record's key to every id it is known by (its own key included)."""
    owner = _owners(sent)
    matched: Matched[Result] = Matched()
    for result in results:
        keys = set().union(*(owner.get(i, set()) for i in result_ids(result))) if result_ids(result) else set()
        if len(keys) != 1:
            matched.unmatched.append(result)
            continue
        key = keys.pop()
        if key in matched.by_key:
            # Two answers for one record: keep the first, show the other.
            matched.unmatched.append(result)
            continue
        matched.by_key[key] = result
    return matched


def describe(result: s.BatchResponseCfdiResponse | s.BatchResponseExternalPaymentResponse) -> str:
    """A result as a person can read it in the run log."""
    ids = ", ".join(sorted(result_ids(result))) or "—"
    outcome = f"error {result.error_code}: {result.error_message}" if result.error_code else "accepted"
    return f"ids [{ids}] {outcome}"
