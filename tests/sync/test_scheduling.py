from django_q.models import Schedule

from sync.models import SyncRun
from sync.scheduling import TASK, schedule_name, set_paused, sync_all_schedules
from sync.tasks import run_scheduled_cycle


def test_it_creates_one_schedule_per_tenant_when_the_tenant_is_saved(make_tenant):
    tenant = make_tenant(sync_every_minutes=15)
    schedule = Schedule.objects.get(name=schedule_name(tenant))
    assert (schedule.func, schedule.args, schedule.minutes) == (TASK, repr(tenant.pk), 15)
    assert (schedule.schedule_type, schedule.repeats) == (Schedule.MINUTES, -1)


def test_it_updates_the_schedule_instead_of_adding_one(make_tenant):
    tenant = make_tenant(sync_every_minutes=15)
    tenant.sync_every_minutes = 5
    tenant.save()
    tenant.save()
    assert Schedule.objects.filter(func=TASK).count() == 1
    assert Schedule.objects.get(name=schedule_name(tenant)).minutes == 5


def test_it_keeps_the_next_slot_when_nothing_about_timing_changed(make_tenant):
    tenant = make_tenant()
    first = Schedule.objects.get(name=schedule_name(tenant)).next_run
    tenant.name = "Otro nombre"
    tenant.save()
    assert Schedule.objects.get(name=schedule_name(tenant)).next_run == first


def test_it_drops_the_schedule_of_an_inactive_or_deleted_tenant(make_tenant):
    tenant = make_tenant()
    other = make_tenant(code="other", portal_tenant_id="other")
    tenant.active = False
    tenant.save()
    assert not Schedule.objects.filter(name=schedule_name(tenant)).exists()
    other.delete()
    assert not Schedule.objects.filter(func=TASK).exists()


def test_it_rebuilds_lost_schedules_on_command(make_tenant):
    tenants = [make_tenant(), make_tenant(code="beta", portal_tenant_id="beta")]
    Schedule.objects.all().delete()
    sync_all_schedules()
    assert set(Schedule.objects.values_list("name", flat=True)) == {schedule_name(t) for t in tenants}


def test_it_pauses_and_resumes_one_tenant_or_all(make_tenant):
    alpha, beta = make_tenant(), make_tenant(code="beta", portal_tenant_id="beta")
    assert set_paused(True, "beta") == 1
    alpha.refresh_from_db(), beta.refresh_from_db()
    assert (alpha.paused, beta.paused) == (False, True)
    assert set_paused(True) == 1
    assert set_paused(False) == 2
    assert Schedule.objects.filter(func=TASK).count() == 2


def test_it_records_a_skipped_run_when_a_paused_tenants_slot_comes(make_tenant):
    tenant = make_tenant(paused=True)
    summary = run_scheduled_cycle(tenant.pk)
    run = SyncRun.objects.get(tenant=tenant)
    assert (run.trigger, run.status, run.skip_reason) == ("schedule", "skipped", "paused")
    assert "skipped" in summary
