"""What every exporter that writes to the portal shares: its client, opened on first use and closed
once, and which portal errors are the tenant's rather than the records'."""
from __future__ import annotations

from typing import ClassVar, TypeVar

from sync.engine.context import StepContext
from sync.engine.exporter import Exporter
from sync.portal.client import PortalClient
from sync.portal.errors import PortalAuthError, PortalError

ItemT = TypeVar("ItemT")


class PortalExporter(Exporter[ItemT]):
    tenant_errors: ClassVar[tuple[type[Exception], ...]] = (PortalAuthError,)  # the tenant's, not the records'
    outside_errors: ClassVar[tuple[type[Exception], ...]] = (PortalError,)

    def __init__(self, ctx: StepContext) -> None:
        super().__init__(ctx)
        self._portal: PortalClient | None = None

    @property
    def portal(self) -> PortalClient:
        # Opened on first use: a page with nothing to send opens no connection.
        if self._portal is None:
            self._portal = PortalClient(self.ctx.tenant)
        return self._portal

    def close(self) -> None:
        if self._portal is not None:
            self._portal.close()
