"""`manage.py portal ping --tenant CODE`: does the tenant's portal answer, and does it accept the credentials?"""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from sync.portal import PortalClient, PortalError, RetryPolicy
from tenants.models import Tenant


class Command(BaseCommand):
    help = _("Talk to a tenant's Focaltec portal. 'ping' checks that it answers and accepts the tenant's credentials.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["ping"])
        parser.add_argument("--tenant", required=True, help=_("the tenant's code"))

    def handle(self, *args, action: str, tenant: str, **options) -> None:
        found = Tenant.objects.filter(code=tenant).first()
        if found is None:
            raise CommandError(_("No tenant with code '%(code)s'; see the tenants in the admin.") % {"code": tenant})
        try:
            client = PortalClient(found, connect_timeout=5, read_timeout=15,
                                  retry=RetryPolicy(max_attempts=2, backoff_base=0.2, retry_after_cap=5))
        except PortalError as exc:
            raise CommandError(str(exc)) from None
        with client:
            check = client.check()
        values = {"tenant": found.code, "url": client.base_url}
        if check.answers:
            self.stdout.write(_("Portal of tenant '%(tenant)s' at %(url)s: answers.") % values)
        else:
            self.stdout.write(_("Portal of tenant '%(tenant)s' at %(url)s: does not answer. %(detail)s")
                              % {**values, "detail": check.detail})
        if check.credentials_accepted:
            self.stdout.write(_("Credentials of tenant '%(tenant)s': accepted.") % values)
        elif check.answers:
            self.stdout.write(_("Credentials of tenant '%(tenant)s': refused. %(detail)s")
                              % {**values, "detail": check.detail})
        else:
            self.stdout.write(_("Credentials of tenant '%(tenant)s': not checked (no answer).") % values)
        if not (check.answers and check.credentials_accepted):
            raise SystemExit(1)
