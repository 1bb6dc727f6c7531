"""`manage.py sync`, as Windows Task Scheduler runs it: a real process, its exit code."""

import pytest

from tests.sync.processes import Installation

STEPS = "tests.sync.steps"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    # One installation for the module: each costs seconds of process start-up.
    site = Installation(tmp_path_factory.mktemp("site"),
                        steps={"providers": f"{STEPS}.boom", "cfdi_download": f"{STEPS}.counting"})
    site.add_tenant("alpha", portal_secret="portal-secret-456")
    return site


def test_it_exits_non_zero_when_a_step_failed_and_still_runs_the_next(site):
    result = site.manage("sync", "--tenant", "alpha")
    assert result.returncode == 1, result.stderr
    assert "alpha providers: failed" in result.stderr
    assert "portal-secret-456" not in result.stderr + result.stdout
    assert "alpha cfdi_download: succeeded — created 1, updated 1, skipped 0, failed 0" in result.stdout


def test_it_exits_zero_when_every_step_succeeded(site):
    result = site.manage("sync", "--step", "cfdi_download")
    assert result.returncode == 0, result.stderr
    assert "providers" not in result.stdout
    assert site.query("SELECT status, trigger FROM sync_syncrun ORDER BY id DESC LIMIT 1") == [("succeeded", "manual")]


def test_it_names_the_valid_tenants_for_a_bad_code(site):
    result = site.manage("sync", "--tenant", "nope")
    assert result.returncode == 2
    assert "There is no tenant with code 'nope'. Known tenants: alpha." in result.stderr
    assert "Traceback" not in result.stderr


def test_it_names_the_valid_steps_for_a_bad_step(site):
    result = site.manage("sync", "--step", "po_explode")
    assert result.returncode == 2
    assert "There is no step 'po_explode'. Valid steps: providers, cfdi_download." in result.stderr


def test_it_shows_payloads_in_a_dry_run(site):
    result = site.manage("sync", "--tenant", "alpha", "--step", "cfdi_download", "--dry-run")
    assert result.returncode == 0
    assert 'would send portal PO-1: {"external_id": "PO-1", "password": "x"}' in result.stdout


def test_it_lets_one_of_two_simultaneous_runs_through_and_names_its_holder(tmp_path):
    site = Installation(tmp_path, steps={"providers": f"{STEPS}.slow"}, SYNC_TEST_SLOW_SECONDS="5")
    site.add_tenant("alpha")
    first = site.start("sync", "--tenant", "alpha")
    site.wait_for("SELECT holder FROM sync_tenantlease WHERE holder != ''")
    second = site.manage("sync", "--tenant", "alpha")
    first_out, first_err = first.communicate(timeout=60)
    assert first.returncode == 0, first_err
    assert second.returncode == 3, second.stderr
    assert f":{first.pid}:" in second.stderr
    assert "is being synchronised by" in second.stderr
    statuses = site.query("SELECT status, skip_reason FROM sync_syncrun ORDER BY id")
    assert statuses == [("succeeded", ""), ("skipped", "lease_held")]
