"""`manage.py sandbox company|portal`: build the sandbox company from a seed.

`company` wires the tenant to the stand-ins, recreates its Sage tables, writes
the plan into them and then seeds the portal stand-in; `portal` re-seeds only
the portal. Both build the same plan from the same arguments.
"""
from __future__ import annotations

import datetime as dt
import importlib
from argparse import ArgumentParser, ArgumentTypeError
from typing import Callable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from sandbox.access import generated_secret
from sandbox.company import create_sage_tables, write_company
from sandbox.plan import Plan, build_plan
from tenants.models import Tenant
from tenants.sage_db import SageDatabaseUnavailable, sage_alias

PORTAL_SEED_MODULE = "sandbox.portal.seed"
# Sage's own administrator user name; the password (and the portal key and
# secret) are generated for each sandbox tenant, each time it is built.
SANDBOX_WEBAPI_USER = "ADMIN"
# The AP distribution code imported invoices are charged to in the sandbox.
SANDBOX_DISTRIBUTION_CODE = "INV"
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

    def handle(self, *args, action: str, **options) -> None:
        if not settings.SANDBOX_ENABLED:
            raise CommandError(_("The sandbox is switched off: set SAGECONNECT_SANDBOX=true to build and serve "
                                 "sandbox companies (never on a production site)."))
        plan = build_plan(
            seed=options["seed"], vendors=options["vendors"], pos=options["pos"],
            lines_per_po=options["lines_per_po"], cfdis=options["cfdis"], payments=options["payments"],
            today=options["today"],
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
        counts = write_company(alias, plan)
        self.stdout.write(_("Tenant %(code)s: Sage company written to %(where)s (seed %(seed)s, today %(today)s).") % {
            "code": tenant.code, "where": tenant.sage_db_name, "seed": plan.seed, "today": plan.today})
        for table, count in counts.items():
            self.stdout.write(f"  {table:<8} {count:>8}")
        self._seed_portal(tenant, plan, required=False)

    def portal(self, plan: Plan, options: dict) -> None:
        tenant = Tenant.objects.filter(code=options["tenant"]).first()
        if tenant is None:
            raise CommandError(_("No tenant %(code)s: run `manage.py sandbox company --tenant %(code)s` first.")
                               % {"code": options["tenant"]})
        self._seed_portal(tenant, plan, required=True)

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
    parser.add_argument("--today", type=_date, default=None,
                        help=_("The plan's today (YYYY-MM-DD); fix it to get identical data on another day."))


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
        **_sandbox_database(code, engine),
    )
    for name, value in values.items():
        setattr(tenant, name, value)
    # A site rule: set it the first time, keep what an admin chose after.
    tenant.invoice_distribution_code = tenant.invoice_distribution_code or SANDBOX_DISTRIBUTION_CODE
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
