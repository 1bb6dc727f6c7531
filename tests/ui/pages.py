"""Every staff page and action, with the ids of a world built by the `world` fixture."""
from __future__ import annotations

from cfdi.models import Cfdi
from sync.models import SyncRun


def get_urls() -> list[str]:
    run = SyncRun.objects.order_by("id").first()
    cfdi = Cfdi.objects.order_by("id").first()
    return [
        "/", "/overview/table", f"/tenants/{run.tenant.code}/", "/attention/", "/attention/?kind=po",
        "/attention/?show=waiting",
        "/runs/", f"/runs/{run.pk}/", "/runs/?status=partial&step=cfdi_import",
        "/cfdis/", "/cfdis/?status=failed&kind=I", f"/cfdis/{cfdi.pk}/", f"/cfdis/{cfdi.pk}/original.xml",
        "/payments/", "/payments/?state=waiting&docnbr=PY", "/pos/", "/cfdis/?po=PO00000", "/scheduler/",
        "/api/status", "/api/stats", "/matches/", "/matches/?state=confirmed&tenant=t00",
        "/reconcile/",
    ]


def post_urls() -> list[str]:
    cfdi = Cfdi.objects.order_by("id").first()
    return ["/scheduler/pause", "/scheduler/resume", "/scheduler/run", f"/cfdis/{cfdi.pk}/retry", "/cfdis/retry",
            "/matches/find", "/matches/0/confirm", "/matches/0/reject", "/tenants/t00/reconcile/fix"]
