"""Staff pages: users of each kind, and a world of tenants, runs, CFDIs and payments to show."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from tests.cfdi.samples import sample

PASSWORD = "a-Long-pass-4-tests"
# Distinctive, so a leak is found by a plain substring search of the HTML.
SECRETS = {
    "sage_db_password": "SageDbPw-81c4e2",
    "webapi_password": "WebApiPw-5d17a9",
    "portal_key": "PortalKey-3f88b0",
    "portal_secret": "PortalSecret-a2c6d1",
}
INVOICE = "satcfdi-invoice-ppd-stamped.xml"  # receptor KIJ0906199R1, UUID 6D7434A6-…
INVOICE_UUID = "6D7434A6-E3F2-47AD-9E4C-08849946AFA0"


@pytest.fixture(autouse=True)
def cfdi_storage_dir(settings, tmp_path) -> Path:
    folder = tmp_path / "cfdi-store"
    settings.STORAGES = {**settings.STORAGES, "cfdi": {
        "BACKEND": "cfdi.storage.AtomicFileSystemStorage", "OPTIONS": {"location": str(folder)}}}
    return folder


def _user(username: str, **flags) -> User:
    return User.objects.create_user(username, f"{username}@example.com", PASSWORD, **flags)


@pytest.fixture
def staff_user(db) -> User:
    return _user("staffer", is_staff=True)


@pytest.fixture
def group_staff_user(db) -> User:
    user = _user("groupstaff")
    user.groups.add(Group.objects.get_or_create(name="SageConnect staff")[0])
    return user


@pytest.fixture
def admin_user_(db) -> User:
    # No is_staff: membership of the group is what makes a SageConnect admin (README "Staff pages").
    user = _user("sageadmin")
    user.groups.add(Group.objects.get_or_create(name="SageConnect admins")[0])
    return user


@pytest.fixture
def plain_user(db) -> User:
    return _user("plain")


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


class World:
    """Builds tenants, each with a finished run of every step, a failed record, a stored
    invoice that failed to import with one attempt, and a waiting payment that pays it."""

    def __init__(self, make_tenant) -> None:
        self.make_tenant = make_tenant
        self.count = 0

    def __call__(self, n: int = 1) -> list:
        tenants = [_tenant_world(self.make_tenant, index) for index in range(self.count, self.count + n)]
        self.count += n
        return tenants


@pytest.fixture
def world(make_tenant) -> World:
    return World(make_tenant)


def _tenant_world(make_tenant, index: int):
    from cfdi.models import CfdiStatus
    from cfdi.services import store_cfdi
    from sync.models import Outbound, OutboundAttempt, Payment, PaymentLine, StepRun, SyncRun
    from tenants.models import STEP_NAMES

    tenant = make_tenant(code=f"t{index:02d}", name=f"Tenant {index}", rfc="KIJ0906199R1",
                         portal_tenant_id=f"portal-{index}", **SECRETS)
    started = timezone.now() - dt.timedelta(minutes=5)
    run = SyncRun.objects.create(tenant=tenant, trigger=SyncRun.Trigger.SCHEDULE, started=started,
                                 finished=started + dt.timedelta(seconds=42), status=SyncRun.Status.PARTIAL,
                                 created_count=3, failed_count=1)
    for position, step in enumerate(STEP_NAMES):
        failed = step == "cfdi_import"
        StepRun.objects.create(run=run, step=step, status=StepRun.Status.FAILED if failed else StepRun.Status.SUCCEEDED,
                               message="1 record(s) failed" if failed else "", created_count=position,
                               failed_count=int(failed), started=started, duration=1.5,
                               log=[f"{step}: started", f"{step}: done"])
    # A PO the portal failed twice for a passing reason: retried by itself, not a person's job (yet).
    po = Outbound.objects.create(tenant=tenant, run=run, step="po_upsert", kind=Outbound.Kind.PO, key=f"PO{index:05d}",
                                 action="create", state=Outbound.State.PENDING, attempts=2,
                                 not_before=timezone.now() + dt.timedelta(minutes=10),
                                 last_error="The portal refused PO: unknown provider.")
    OutboundAttempt.objects.create(record=po, run=run, step="po_upsert", action="create", outcome="failed",
                                   message="The portal refused PO: unknown provider.")
    cfdi = store_cfdi(tenant, sample(INVOICE))
    refused = Outbound.objects.create(
        tenant=tenant, run=run, step="cfdi_import", kind=Outbound.Kind.CFDI_IMPORT, key=cfdi.uuid, action="import",
        state=Outbound.State.FAILED, attention=Outbound.Attention.PERMANENT, reason_code="RecordInvalid",
        reason="Refused: Vendor H&E951128469 does not exist in Sage. Correct the cause, then press Retry.",
        last_error="Vendor H&E951128469 does not exist in Sage.", since=started, attempts=1)
    OutboundAttempt.objects.create(record=refused, run=run, step="cfdi_import", action="import", outcome="refused",
                                   error_code="RecordInvalid", message="Vendor H&E951128469 does not exist in Sage.")
    cfdi.status = CfdiStatus.FAILED  # the projection of its record
    cfdi.save(update_fields=["status"])
    payment = Payment.objects.create(tenant=tenant, docnbr=f"PY{index:05d}", vendor="1200",
                                     date=dt.date(2026, 1, 20), amount=Decimal("17852.750"), currency="MXN",
                                     batch=7, entry=index + 1, state=Payment.State.WAITING, sage_hash="x")
    Outbound.objects.create(tenant=tenant, run=run, step="payment_upload", kind=Outbound.Kind.PAYMENT,
                            key=payment.docnbr, state=Outbound.State.WAITING, reason_code="cfdi_not_in_sage",
                            reason="waits for an invoice not yet in Sage", since=started)
    PaymentLine.objects.create(payment=payment, line=1, invoice_number="A-1", cfdi_uuid=INVOICE_UUID,
                               amount=Decimal("17852.750"))
    return tenant


SAGE_ALIAS = "sage_sagetest"


@pytest.fixture(scope="session")
def sage_test_alias(django_db_setup, tmp_path_factory):
    """Django's test cases allow only aliases known when a test starts; the `sage_tenant`
    fixture's alias is made on demand, so register a placeholder first (a file: live_server
    would share a :memory: connection)."""
    from tenants.sage_db import register_alias

    placeholder = tmp_path_factory.mktemp("sage") / "placeholder.sqlite3"
    register_alias(SAGE_ALIAS, {"ENGINE": "django.db.backends.sqlite3", "NAME": str(placeholder)})
    return SAGE_ALIAS
