import signal

import pytest
from django.core import mail
from django.utils import timezone

from sync.engine.lease import take_lease
from sync.engine.pipeline import STEP_MODULES, Interrupted, run_tenant
from sync.models import StepRun, SyncRun, TenantLease

STEPS = "tests.sync.steps"


@pytest.fixture
def tenant(make_tenant):
    return make_tenant(notice_emails="ops@example.com\nfinance@example.com")


def registry(**names: str) -> dict[str, str]:
    return {step: f"{STEPS}.{module}" for step, module in names.items()}


def test_it_records_a_failing_step_and_still_runs_the_next(tenant):
    run = run_tenant(tenant.pk, registry=registry(providers="boom", cfdi_download="counting"))
    failed, counted = run.steps.order_by("id")
    assert (failed.step, failed.status) == ("providers", StepRun.Status.FAILED)
    assert failed.message.startswith("ConnectionError: portal refused key")
    assert (counted.step, counted.status, counted.created_count) == ("cfdi_download", StepRun.Status.SUCCEEDED, 1)
    assert counted.log == ["counted for acme"]
    assert run.status == SyncRun.Status.PARTIAL
    assert (run.created_count, run.updated_count) == (1, 1)
    assert run.finished is not None


def test_it_keeps_secrets_out_of_the_recorded_failure(tenant):
    run = run_tenant(tenant.pk, registry=registry(providers="boom"))
    step = run.steps.get()
    assert "portal-secret-456" not in step.message
    assert "***" in step.message
    assert not any("portal-secret-456" in line for line in step.log)
    assert "second line" not in step.message


def test_it_runs_steps_in_the_registry_order(tenant):
    order = registry(po_cancel="counting", providers="counting", payment_check="counting")
    run = run_tenant(tenant.pk, registry=order)
    assert list(run.steps.order_by("id").values_list("step", flat=True)) == ["po_cancel", "providers", "payment_check"]
    assert list(STEP_MODULES)[:4] == ["providers", "cfdi_download", "cfdi_import", "payment_check"]


def test_it_says_a_step_not_built_yet_is_not_available(tenant):
    run = run_tenant(tenant.pk, registry={"providers": "sync.steps.no_such_step_yet",
                                          "cfdi_download": f"{STEPS}.counting"})
    missing = run.steps.get(step="providers")
    assert missing.status == StepRun.Status.SKIPPED
    assert missing.message == "not available yet"
    assert run.status == SyncRun.Status.SUCCEEDED


def test_it_skips_a_step_switched_off_for_the_tenant(tenant):
    tenant.step_providers = False
    tenant.save()
    run = run_tenant(tenant.pk, registry=registry(providers="boom", cfdi_download="counting"))
    off = run.steps.get(step="providers")
    assert (off.status, off.message) == (StepRun.Status.SKIPPED, "switched off for this tenant")
    assert run.status == SyncRun.Status.SUCCEEDED


def test_it_runs_only_the_named_step(tenant):
    run = run_tenant(tenant.pk, registry=registry(providers="boom", cfdi_download="counting"),
                     only_step="cfdi_download")
    assert list(run.steps.values_list("step", flat=True)) == ["cfdi_download"]


def test_it_counts_a_step_with_failed_records_as_failed(tenant):
    run = run_tenant(tenant.pk, registry=registry(providers="record_failed"))
    step = run.steps.get()
    assert (step.status, step.created_count, step.failed_count) == (StepRun.Status.FAILED, 2, 1)
    assert run.status == SyncRun.Status.FAILED


def test_it_bounds_the_log_of_a_chatty_step(tenant):
    run = run_tenant(tenant.pk, registry=registry(providers="chatty"))
    log = run.steps.get().log
    assert len(log) == 500
    assert log[0] == "line 0" and log[-1] == "line 1999"
    assert "lines left out" in log[250]


def test_it_skips_and_names_the_holder_when_the_lease_is_taken(tenant):
    take_lease(tenant.pk, "other-host:4242:abcd")
    run = run_tenant(tenant.pk, registry=registry(providers="counting"))
    assert run.status == SyncRun.Status.SKIPPED
    assert run.skip_reason == SyncRun.SkipReason.LEASE_HELD
    assert run.lease_holder == "other-host:4242:abcd"
    assert "other-host:4242:abcd" in run.note
    assert not run.steps.exists()


def test_it_releases_the_lease_even_when_every_step_fails(tenant):
    run_tenant(tenant.pk, registry=registry(providers="boom"))
    lease = TenantLease.objects.get(tenant=tenant)
    assert lease.holder == "" and lease.expires <= timezone.now()


def test_it_records_a_skipped_run_for_a_paused_tenant_on_schedule_only(tenant):
    tenant.paused = True
    tenant.save()
    scheduled = run_tenant(tenant.pk, trigger=SyncRun.Trigger.SCHEDULE, registry=registry(providers="counting"))
    assert (scheduled.status, scheduled.skip_reason) == (SyncRun.Status.SKIPPED, SyncRun.SkipReason.PAUSED)
    manual = run_tenant(tenant.pk, trigger=SyncRun.Trigger.MANUAL, registry=registry(providers="counting"))
    assert manual.status == SyncRun.Status.SUCCEEDED


def test_it_shows_would_send_payloads_in_a_dry_run_without_secrets(tenant):
    shown: list[str] = []
    run = run_tenant(tenant.pk, dry_run=True, registry=registry(providers="counting"), echo=shown.append)
    assert run.dry_run
    assert any(line.startswith('would send portal PO-1: {"external_id": "PO-1"') for line in shown)
    assert run.steps.get().log[0].startswith("would send portal PO-1")


def test_it_mails_once_per_failure_streak_with_a_link_to_the_run(tenant, settings):
    settings.SITE_URL = "https://sync.example.com"
    failing = registry(providers="boom")
    first = run_tenant(tenant.pk, registry=failing)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@example.com", "finance@example.com"]
    assert f"https://sync.example.com/runs/{first.pk}/" in mail.outbox[0].body
    assert "portal-secret-456" not in mail.outbox[0].body
    run_tenant(tenant.pk, registry=failing)
    assert len(mail.outbox) == 1
    run_tenant(tenant.pk, registry=registry(providers="counting"))
    run_tenant(tenant.pk, registry=failing)
    assert len(mail.outbox) == 2


def test_it_sends_no_alert_for_a_dry_run(tenant):
    run_tenant(tenant.pk, dry_run=True, registry=registry(providers="boom"))
    assert mail.outbox == []


def test_it_closes_the_run_as_interrupted_and_hands_the_lease_back_on_sigterm(tenant):
    handler_before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as stopped:
        run_tenant(tenant.pk, registry=registry(providers="counting", cfdi_download="terminated", po_upsert="counting"))
    assert stopped.value.code == 128 + signal.SIGTERM
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.INTERRUPTED and run.finished is not None
    assert "Interrupted by SIGTERM" in run.note
    assert [s.step for s in run.steps.all()] == ["providers"]  # what ended before the signal is kept
    assert TenantLease.objects.get(tenant=tenant).holder == ""
    assert signal.getsignal(signal.SIGTERM) is handler_before  # the process's own handler is back
