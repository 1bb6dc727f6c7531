"""The SAT status stand-in, reached over real HTTP (live_server), and what it was asked."""
from __future__ import annotations

import pytest

from cfdi.models import Cfdi
from sandbox.sat.models import SandboxSatQuery
from sync.sat.client import reset_rate_limit

SERVICE_PATH = "/sandbox/sat/ConsultaCFDIService.svc"


def service_url(live_server) -> str:
    return f"{live_server.url}{SERVICE_PATH}"


def consultas(uuid: str | None = None) -> int:
    """Requests the stand-in received (all, or about one UUID)."""
    queries = SandboxSatQuery.objects.all()
    return queries.filter(uuid=uuid.upper()).count() if uuid else queries.count()


def stored(tenant, uuid: str) -> Cfdi:
    return Cfdi.objects.get(tenant=tenant, uuid=uuid)


@pytest.fixture(autouse=True)
def fresh_rate_limit():
    # The limit is per process and the test process is one: each test starts with a full budget.
    reset_rate_limit()
    yield
    reset_rate_limit()
