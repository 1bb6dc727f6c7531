"""The pipeline runs the steps as a dependency graph (sync.engine.pipeline.STEP_GRAPH):
a step starts only after every step it comes after has ended; the CFDI path, the PO
path and the payment check run side by side; a step that raises skips only the steps
that need it. Asserted from the steps' own event log, not from timings."""
import pytest

from sync.engine.pipeline import NEEDS, STEP_GRAPH, STEP_THREAD_PREFIX, run_tenant
from sync.models import StepRun, SyncRun
from tests.sync.steps import graph_probe

PROBE, BOOM = "tests.sync.steps.graph_probe", "tests.sync.steps.boom"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def events():
    graph_probe.reset()
    yield graph_probe.EVENTS
    graph_probe.reset()


def registry(**instead: str) -> dict[str, str]:
    return {name: instead.get(name, PROBE) for name in STEP_GRAPH}


def position(events, kind: str, step: str) -> int:
    return events.index((kind, step))


def test_no_step_starts_before_its_prerequisites_end_and_the_branches_run_side_by_side(make_tenant, events):
    tenant = make_tenant()
    # The CFDI path waits until the PO path has started: run one after another it would wait in vain.
    graph_probe.WAITS["cfdi_download"] = "po_upsert"
    run = run_tenant(tenant.pk, registry=registry())
    assert run.status == SyncRun.Status.SUCCEEDED, run.note
    steps = {s.step: s for s in run.steps.all()}
    assert set(steps) == set(STEP_GRAPH)
    assert steps["cfdi_download"].log == ["po_upsert seen running"]
    for step, prerequisites in STEP_GRAPH.items():
        for before in prerequisites:
            assert position(events, "end", before) < position(events, "start", step), (before, step, events)
    assert position(events, "start", "po_upsert") < position(events, "end", "cfdi_download")


def test_a_failure_in_the_po_path_skips_its_own_dependants_and_not_the_cfdi_path(make_tenant, events):
    tenant = make_tenant()
    run = run_tenant(tenant.pk, registry=registry(po_upsert=BOOM))
    steps = {s.step: s for s in run.steps.all()}
    assert steps["po_upsert"].status == StepRun.Status.FAILED
    for skipped in ("po_close", "po_cancel"):
        assert steps[skipped].status == StepRun.Status.SKIPPED
        assert steps[skipped].message == "not run: step po_upsert failed before it"
    for ran in ("providers", "cfdi_download", "cfdi_import", "payment_check", "payment_upload", "payment_complement"):
        assert steps[ran].status == StepRun.Status.SUCCEEDED, ran
        assert ("end", ran) in events
    assert ("start", "po_close") not in events
    assert run.status == SyncRun.Status.PARTIAL


def test_a_failed_download_skips_what_needs_it_and_runs_what_only_comes_after_it(make_tenant, events):
    tenant = make_tenant()
    run = run_tenant(tenant.pk, registry=registry(cfdi_download=BOOM))
    steps = {s.step: s for s in run.steps.all()}
    assert STEP_GRAPH["cfdi_import"]["cfdi_download"] == NEEDS
    assert steps["cfdi_import"].message == "not run: step cfdi_download failed before it"
    # payment upload needs the import, which was skipped for the download: the same reason, named.
    assert steps["payment_upload"].message == "not run: step cfdi_download failed before it"
    # The complement report only comes after them: it runs on what is there.
    assert steps["payment_complement"].status == StepRun.Status.SUCCEEDED
    assert steps["po_cancel"].status == StepRun.Status.SUCCEEDED


def test_no_step_thread_outlives_the_run(make_tenant):
    import threading

    tenant = make_tenant()
    run_tenant(tenant.pk, registry=registry())
    assert not [t for t in threading.enumerate() if t.name.startswith(STEP_THREAD_PREFIX)]
