import datetime as dt

import pytest
from django.utils import timezone

from sync.lease import LeaseHeld, current_lease, release_lease, renew_lease, take_lease
from sync.models import TenantLease


@pytest.fixture
def tenant(make_tenant):
    return make_tenant()


def test_it_gives_the_lease_to_the_first_holder_and_names_it_to_the_second(tenant):
    take_lease(tenant.pk, "host-a:100:aaaa")
    with pytest.raises(LeaseHeld) as held:
        take_lease(tenant.pk, "host-b:200:bbbb")
    assert held.value.holder == "host-a:100:aaaa"
    assert "host-a:100:aaaa" in str(held.value)
    assert held.value.expires > timezone.now()


def test_it_lets_the_holder_take_it_again(tenant):
    first = take_lease(tenant.pk, "me", seconds=10)
    again = take_lease(tenant.pk, "me", seconds=600)
    assert again.expires > first.expires


def test_it_hands_an_expired_lease_to_the_next_taker(tenant):
    take_lease(tenant.pk, "crashed-holder")
    TenantLease.objects.filter(tenant=tenant).update(expires=timezone.now() - dt.timedelta(seconds=1))
    lease = take_lease(tenant.pk, "next-holder")
    assert lease.holder == "next-holder"
    assert TenantLease.objects.get(tenant=tenant).holder == "next-holder"


def test_it_renews_only_for_the_holder(tenant):
    take_lease(tenant.pk, "me", seconds=5)
    assert renew_lease(tenant.pk, "me", seconds=600)
    assert TenantLease.objects.get(tenant=tenant).expires > timezone.now() + dt.timedelta(seconds=500)
    assert not renew_lease(tenant.pk, "someone-else")


def test_it_frees_the_lease_on_release(tenant):
    take_lease(tenant.pk, "me")
    assert not release_lease(tenant.pk, "someone-else")
    assert current_lease(tenant.pk) is not None
    assert release_lease(tenant.pk, "me")
    assert current_lease(tenant.pk) is None
    assert take_lease(tenant.pk, "other").holder == "other"


@pytest.mark.django_db(transaction=True)
def test_it_keeps_the_lease_alive_through_a_step_longer_than_the_lease(make_tenant, settings):
    from sync.pipeline import run_tenant

    settings.SYNC_LEASE_SECONDS = 1
    tenant = make_tenant()
    run = run_tenant(tenant.pk, registry={"providers": "tests.sync.steps.lease_probe"})
    assert run.steps.get().log == [f"still held by {run.lease_holder}"]
