"""What every step module gets and gives back.

A step is a module in sync/steps/ with `run(ctx: StepContext) -> StepResult`.
It re-reads the tenant by id (`ctx.tenant`), counts what it did on
`ctx.result`, writes log lines with `ctx.log(...)`, and, when `ctx.dry_run`
is set, builds every payload and hands it to `ctx.would_send(...)` instead of
sending it. A step that exports (sync.engine.exporter) names the kinds of
outbound record it writes in `KINDS`; a person's Retry of some records runs
only those steps, with `ctx.only` naming the records (`ctx.only_keys(kind)`).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

from django.utils.translation import gettext as _

from sageconnect.logsafe import one_line
from tenants.models import Tenant

logger = logging.getLogger("sync.steps")


@dataclass
class StepResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    would_send: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        return counts_summary(self.created, self.updated, self.skipped, self.failed)


def counts_summary(created: int, updated: int, skipped: int, failed: int) -> str:
    """"created 28, updated 0, skipped 12, failed 0" in the language in force (the run page says the same)."""
    return _("created %(c)s, updated %(u)s, skipped %(s)s, failed %(f)s") % {
        "c": created, "u": updated, "s": skipped, "f": failed}


@dataclass
class StepContext:
    tenant_id: int
    run_id: int
    step: str
    dry_run: bool = False
    result: StepResult = field(default_factory=StepResult)
    lines: list[str] = field(default_factory=list)
    heartbeat: Callable[[], None] = lambda: None
    echo: Callable[[str], None] | None = None
    # A person's Retry: kind → the keys to run, and nothing else. None: a whole cycle.
    only: Mapping[str, frozenset[str]] | None = None

    def only_keys(self, kind: str) -> frozenset[str] | None:
        """The keys of `kind` this run is limited to (empty: none of this kind); None when not limited."""
        if self.only is None:
            return None
        return self.only.get(kind, frozenset())

    @cached_property
    def tenant(self) -> Tenant:
        return Tenant.objects.get(pk=self.tenant_id)

    def log(self, message: str) -> None:
        # One line, whatever outside value (a UUID, an error text) the message carries.
        message = one_line(self.tenant.redact(message))
        self.lines.append(message)
        logger.info("%s %s: %s", self.tenant.code, self.step, message)
        if self.echo:
            self.echo(message)

    def would_send(self, target: str, key: str, payload: Any) -> None:
        """Dry run: record the write that would have been made."""
        self.result.would_send.append({"target": target, "key": key, "payload": payload})
        shown = json.dumps(payload, default=str, ensure_ascii=False, sort_keys=True)
        self.log(_("would send %(target)s %(key)s: %(payload)s") % {"target": target, "key": key, "payload": shown})

