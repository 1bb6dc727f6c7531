"""`manage.py sandbox company|portal|cfdi|sat-cancel`: build the sandbox company from a seed, or add to it.

`company` wires the tenant to the stand-ins, recreates its Sage tables, writes
the plan into them and then seeds the portal stand-in; `portal` re-seeds only
the portal. Both build the same plan from the same arguments; any number of
tenants can be built side by side. `cfdi` adds one CFDI to an existing
tenant's sandbox portal (or changes the portal status of one it has) and
prints its UUID. `sat-cancel` tells the SAT status stand-in that SAT
cancelled a CFDI.
"""
from __future__ import annotations

import datetime as dt
import importlib
from argparse import ArgumentParser, ArgumentTypeError
from dataclasses import replace
from typing import Callable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from sandbox.access import generated_secret
from sandbox.company import create_sage_tables, write_company
from sandbox.plan import Plan, build_plan
from sandbox.sat.register import CANCELLATION_STATUSES, NotStamped, mark_cancelled_at_sat
from tenants.models import Tenant
from tenants.sage_db import SageDatabaseUnavailable, sage_alias

PORTAL_SEED_MODULE = "sandbox.portal.seed"
# Sage's own administrator user name; the password (and the portal key and
# secret) are generated for each sandbox tenant, each time it is built.
SANDBOX_WEBAPI_USER = "ADMIN"
# The AP distribution code imported invoices are charged to, and the vendor
# group of the vendors SageConnect creates, in the sandbox company (sandbox.company).
SANDBOX_DISTRIBUTION_CODE = "INV"
SANDBOX_VENDOR_GROUP = "NAC"
SANDBOX_PG = {"sage_db_host": "127.0.0.1", "sage_db_port": 5432, "sage_db_user": "postgres"}


class Command(BaseCommand):
    help = _("Build the sandbox company (Sage tables and portal data) deterministically from a seed.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        for name, text in (
            ("company", _("Wire the tenant to the stand-ins, fill its Sage database, then seed the portal.")),
            ("portal", _("Re-seed only the portal stand-in for the tenant.")),
        ):
            _plan_arguments(actions.add_parser(name, help=text))
        _cfdi_arguments(actions.add_parser("cfdi", help=_(
            "Add one CFDI from an existing provider to the tenant's sandbox portal and print its UUID.")))
        sat_cancel = actions.add_parser("sat-cancel", help=_("Mark a CFDI cancelled at SAT (the SAT status stand-in)."))
        sat_cancel.add_argument("--uuid", required=True, help=_("The CFDI's UUID."))
        sat_cancel.add_argument("--cancellation-status", default=CANCELLATION_STATUSES[0],
                                choices=CANCELLATION_STATUSES, help=_("SAT's EstatusCancelacion to answer."))

    def handle(self, *args, action: str, **options) -> None:
        if not settings.SANDBOX_ENABLED:
            raise CommandError(_("The sandbox is switched off: set SAGECONNECT_SANDBOX=true to build and serve "
                                 "sandbox companies (never on a production site)."))
        if action == "sat-cancel":
            return self.sat_cancel(options)
        if action == "cfdi":
            self.cfdi(options)
            return
        plan = build_plan(
            seed=options["seed"], vendors=options["vendors"], pos=options["pos"],
            lines_per_po=options["lines_per_po"], cfdis=options["cfdis"], payments=options["payments"],
            today=options["today"], portal_tenant_id=options["tenant"],
        )
        handlers: dict[str, Callable[[Plan, dict], None]] = {"company": self.company, "portal": self.portal}
        handlers[action](plan, options)

    def company(self, plan: Plan, options: dict) -> None:
        tenant = wire_sandbox_tenant(options["tenant"], plan, engine=options["engine"])
        try:
            alias = sage_alias(tenant)
        except SageDatabaseUnavailable as exc:
            raise CommandError(str(exc)) from exc
        create_sage_tables(alias, drop=True)
        counts = write_company(alias, plan, cleared_history=options["cleared_history"])
        self.stdout.write(_("Tenant %(code)s: Sage company written to %(where)s (seed %(seed)s, today %(today)s).") % {
            "code": tenant.code, "where": tenant.sage_db_name, "seed": plan.seed, "today": plan.today})
        for table, count in counts.items():
            self.stdout.write(f"  {table:<8} {count:>8}")
        self._seed_portal(tenant, plan, required=False)

    def sat_cancel(self, options: dict) -> None:
        try:
            entry = mark_cancelled_at_sat(options["uuid"], cancellation_status=options["cancellation_status"])
        except NotStamped as exc:
            raise CommandError(_("The sandbox holds no stamped CFDI with UUID %(uuid)s: SAT cannot cancel what it "
                                 "never stamped.") % {"uuid": options["uuid"].strip().upper()}) from exc
        self.stdout.write(_("SAT now reports CFDI %(uuid)s as %(state)s (%(how)s).")
                          % {"uuid": entry.uuid, "state": entry.state, "how": entry.cancellation_status})

    def portal(self, plan: Plan, options: dict) -> None:
        tenant = self._existing_tenant(options["tenant"])
        self._seed_portal(tenant, replace(plan, portal_tenant_id=tenant.portal_tenant_id), required=True)

    def cfdi(self, options: dict) -> None:
        from sandbox.portal.cases import CaseError, add_one_cfdi, change_portal_status

        tenant = self._existing_tenant(options["tenant"])
        marks = {"portal_status": options["portal_status"], "cancelled_by_sat": options["cancelled_by_sat"],
                 "cancelled_in_tenant": options["cancelled_in_tenant"]}
        try:
            if options["uuid"]:
                found = change_portal_status(tenant, options["uuid"], **marks)
            else:
                found = add_one_cfdi(tenant, issued_days_ago=options["issued_days_ago"],
                                     provider_external_id=options["provider"], kind=options["kind"], **marks)
        except CaseError as exc:
            raise CommandError(str(exc)) from exc
        # The UUID alone on stdout, so a script can take it: UUID=$(manage.py sandbox cfdi --tenant demo)
        self.stdout.write(found.uuid)

    def _existing_tenant(self, code: str) -> Tenant:
        tenant = Tenant.objects.filter(code=code).first()
        if tenant is None:
            raise CommandError(_("No tenant %(code)s: run `manage.py sandbox company --tenant %(code)s` first.")
                               % {"code": code})
        return tenant

    def _seed_portal(self, tenant: Tenant, plan: Plan, *, required: bool) -> None:
        seed_portal = _portal_seeder()
        if seed_portal is None:
            if required:
                raise CommandError(_("The portal stand-in (%(module)s.seed_portal) is not installed.")
                                   % {"module": PORTAL_SEED_MODULE})
            self.stdout.write(_("Portal stand-in not installed: portal data not seeded."))
            return
        seed_portal(tenant, plan)
        self.stdout.write(_("Tenant %(code)s: portal stand-in seeded.") % {"code": tenant.code})


def _portal_seeder() -> Callable | None:
    try:
        module = importlib.import_module(PORTAL_SEED_MODULE)
    except ModuleNotFoundError as exc:
        # Only "the module is not there" means not installed; a broken
        # import inside it must surface.
        if exc.name != PORTAL_SEED_MODULE:
            raise
        return None
    return getattr(module, "seed_portal", None)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ArgumentTypeError(_("--today must be a date as YYYY-MM-DD, not %(value)r.") % {"value": value}) from exc


def _at_least(minimum: int) -> Callable[[str], int]:
    def count(value: str) -> int:
        if not value.lstrip("-").isdigit() or int(value) < minimum:
            raise ArgumentTypeError(_("must be a whole number of at least %(minimum)d, not %(value)r.")
                                    % {"minimum": minimum, "value": value})
        return int(value)

    return count


def _plan_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--tenant", default="demo", help=_("Tenant code (created if missing)."))
    parser.add_argument("--vendors", type=_at_least(1), default=20)
    parser.add_argument("--pos", type=_at_least(0), default=40)
    parser.add_argument("--lines-per-po", type=_at_least(1), default=3)
    parser.add_argument("--cfdis", type=_at_least(0), default=30)
    parser.add_argument("--payments", type=_at_least(0), default=10)
    parser.add_argument("--seed", type=_at_least(0), default=1)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite",
                        help=_("Where the sandbox Sage database lives."))
    parser.add_argument("--cleared-history", action="store_true",
                        help=_("The invoices already in Sage were posted and their batches cleared (Sage's Clear "
                               "History): they remain only as posted documents."))
    parser.add_argument("--today", type=_date, default=None,
                        help=_("The plan's today (YYYY-MM-DD); fix it to get identical data on another day."))


def _cfdi_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True, help=_("Tenant code (built with `sandbox company` before)."))
    parser.add_argument("--issued-days-ago", type=_at_least(0), default=0,
                        help=_("Issue date this many days ago; it reaches the portal now."))
    parser.add_argument("--portal-status", default=None,
                        help=_("The CFDI's status on the portal, e.g. rejected (REJECTED), REJECTED_BY_CXP."))
    parser.add_argument("--cancelled-by-sat", action="store_true", help=_("Mark it cancelled by SAT."))
    parser.add_argument("--cancelled-in-tenant", action="store_true", help=_("Mark it cancelled in the company."))
    parser.add_argument("--provider", default=None, help=_("The issuer: a provider's external id (VENDORID)."))
    parser.add_argument("--kind", choices=("I", "E"), default="I", help=_("I invoice (default) or E credit note."))
    parser.add_argument("--uuid", default=None,
                        help=_("Change this CFDI's portal status instead of adding one (e.g. one already imported)."))


def wire_sandbox_tenant(code: str, plan: Plan, *, engine: str) -> Tenant:
    """Create or update the tenant so that everything it reaches is a stand-in."""
    tenant = Tenant.objects.filter(code=code).first()
    if tenant is not None and not tenant.sandbox:
        # A real company's settings and secrets are never overwritten with the stand-ins'.
        raise CommandError(_("Tenant %(code)s exists and is not a sandbox tenant; choose another --tenant code.")
                           % {"code": code})
    tenant = tenant or Tenant(code=code, sandbox=True)
    base = settings.SANDBOX_BASE_URL.rstrip("/")
    values = dict(
        name=plan.company_name, rfc=plan.company_rfc, active=True,
        portal_url=f"{base}/sandbox/portal", portal_tenant_id=code,
        portal_key=generated_secret(), portal_secret=generated_secret(),
        webapi_url=f"{base}/sandbox/sage", webapi_company=code.upper().replace("-", "").replace("_", ""),
        webapi_user=SANDBOX_WEBAPI_USER, webapi_password=generated_secret(),
        sat_status_url=f"{base}/sandbox/sat/ConsultaCFDIService.svc",
        **_sandbox_database(code, engine),
    )
    for name, value in values.items():
        setattr(tenant, name, value)
    # A site rule: set it the first time, keep what an admin chose after.
    tenant.invoice_distribution_code = tenant.invoice_distribution_code or SANDBOX_DISTRIBUTION_CODE
    tenant.vendor_group_code = tenant.vendor_group_code or SANDBOX_VENDOR_GROUP
    try:
        tenant.full_clean()
    except ValidationError as exc:
        raise CommandError(_("Tenant %(code)s: %(errors)s") % {"code": code, "errors": exc.message_dict}) from exc
    tenant.save()
    return tenant


def _sandbox_database(code: str, engine: str) -> dict:
    if engine == "postgresql":
        name = f"sageconnect_sandbox_{code}".replace("-", "_")
        _ensure_postgres_database(name)
        return {"sage_db_engine": "postgresql", "sage_db_name": name, "sage_db_password": "", **SANDBOX_PG}
    folder = settings.VAR_DIR / "sandbox"
    folder.mkdir(parents=True, exist_ok=True)
    return {"sage_db_engine": "sqlite", "sage_db_name": str(folder / f"{code}.sqlite3"), "sage_db_host": "",
            "sage_db_port": None, "sage_db_user": "", "sage_db_password": ""}


def _ensure_postgres_database(name: str) -> None:
    import psycopg
    from psycopg import sql

    where = f"{SANDBOX_PG['sage_db_host']}:{SANDBOX_PG['sage_db_port']}"
    try:
        with psycopg.connect(host=SANDBOX_PG["sage_db_host"], port=SANDBOX_PG["sage_db_port"],
                             user=SANDBOX_PG["sage_db_user"], dbname="postgres", autocommit=True,
                             connect_timeout=5) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        raise CommandError(_(
            "Cannot create the sandbox Sage database %(name)s on PostgreSQL at %(where)s (user postgres): "
            "%(reason)s. Check that the server is running and accepts that user."
        ) % {"name": name, "where": where, "reason": str(exc).splitlines()[0] if str(exc) else "no answer"}) from exc
