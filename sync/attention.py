"""The attention queue: every outbound record a person must look at, of every kind, on one page.

A record needs a person when its `attention` is set (sync.engine.outbox):
refused as it stands, failed too many times, a tenant setting to change, or
something only a person can do (a complement to enter in Sage, an imported
invoice SAT or the portal cancelled since, a CFDI SAT has not known for
days, …). The same page shows, apart, what waits for another record or fact
(a payment for its invoice's import, a credit note for its invoice's
posting), with the reason: those are not failures and are not retried as
such, they go on by themselves when what they wait for happens.

People act on a selection: Retry (just those records, one task per tenant:
sync.retry), Resolve ("I fixed the cause": sent again next cycle) or Ignore
("leave it": not sent again until its content changes), the last two with a
note. The queries here run a fixed number of times whatever the page's rows.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db.models import F, Q, QuerySet

from sync import dashboard
from sync.engine.outbox import close
from sync.models import Outbound, RetryRequest
from sync.retry import request_retry

SHOW_NEEDING, SHOW_WAITING = "", "waiting"
BULK_LIMIT = 500
ACTIONS = ("retry", "resolve", "ignore")


def filtered(params: Mapping[str, str]) -> QuerySet[Outbound]:
    """The records the page lists: needing a person (or, with show=waiting, waiting), filtered."""
    if params.get("show") == SHOW_WAITING:
        records = Outbound.objects.filter(state=Outbound.State.WAITING, attention="")
    else:
        records = Outbound.objects.exclude(attention="")
    records = records.select_related("tenant").defer(*dashboard.TENANT_SECRETS, "last_request")
    if params.get("tenant"):
        records = records.filter(tenant__code=params["tenant"])
    if params.get("kind"):
        records = records.filter(kind=params["kind"])
    if params.get("reason"):
        records = records.filter(Q(attention=params["reason"]) | Q(reason_code=params["reason"]))
    if params.get("key"):
        records = records.filter(key__icontains=params["key"].strip())
    # The newest first; NULLs last on every database (SQLite and PostgreSQL differ by default).
    return records.order_by(F("since").desc(nulls_last=True), "-updated", "-id")


@dataclass
class Row:
    record: Outbound
    url: str
    retry: RetryRequest | None

    @property
    def can_retry(self) -> bool:
        """Landed records a person must look at (SAT cancelled it since, …) have nothing to send again."""
        return self.record.state != Outbound.State.CONFIRMED


def rows(records: Iterable[Outbound]) -> list[Row]:
    """The page's records, each with its page and its last Retry: two queries whatever the number of rows."""
    records = list(records)
    urls = dashboard.record_urls(records)
    retries = dashboard.latest_retries((r.tenant_id, r.kind, r.key) for r in records)
    return [Row(record, url, retries.get((record.tenant_id, record.kind, record.key)))
            for record, url in zip(records, urls)]


def recent_retries(params: Mapping[str, str], limit: int = 10) -> list[RetryRequest]:
    requests = RetryRequest.objects.select_related("tenant", "run").defer(*dashboard.TENANT_SECRETS)
    if params.get("tenant"):
        requests = requests.filter(tenant__code=params["tenant"])
    return list(requests.order_by("-requested_at", "-id")[:limit])


def chosen(ids: Iterable[str], query: Mapping[str, str] | None) -> list[Outbound]:
    """The records an action is for: those ticked, or every one the page's filter lists (at most BULK_LIMIT)."""
    if query is not None:
        return list(filtered(query)[:BULK_LIMIT])
    wanted = [int(i) for i in ids if str(i).isdigit()][:BULK_LIMIT]
    return list(Outbound.objects.filter(pk__in=wanted).select_related("tenant").defer(*dashboard.TENANT_SECRETS))


def act(action: str, records: list[Outbound], *, by: str, note: str) -> int:
    """Retry, Resolve or Ignore `records`; how many it concerned."""
    if action == "retry":
        retryable = [r for r in records if r.state != Outbound.State.CONFIRMED]
        request_retry(retryable, by=by)
        return len(retryable)
    how = Outbound.Closed.RESOLVED if action == "resolve" else Outbound.Closed.IGNORED
    return close(records, how, by=by, note=note)
