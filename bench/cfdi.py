"""`manage.py bench cfdi --n 3000`: CFDI parse + validate + store throughput."""
from __future__ import annotations

import datetime as dt
import tempfile
import time

from django.core.management.base import CommandError
from django.db import DatabaseError, transaction
from django.utils.translation import gettext as _

from cfdi.models import Cfdi, CfdiStatus
from cfdi.services import store_cfdi
from cfdi.storage import AtomicFileSystemStorage
from cfdi.validation import check_cfdi
from sandbox.cfdi_factory import build_cfdi_xml
from sandbox.plan import build_plan
from tenants.models import Tenant

BENCH_RFC = "DEM8801152E9"


class _Rollback(Exception):
    pass


def add_cfdi_arguments(parser) -> None:
    parser.add_argument("--n", type=int, default=3000, help=_("documents to process"))
    parser.add_argument("--seed", type=int, default=1)


def _documents(count: int, seed: int) -> list[bytes]:
    plan = build_plan(seed=seed, vendors=50, pos=10, cfdis=count, payments=0, company_rfc=BENCH_RFC,
                      today=dt.date(2026, 1, 15))
    return [build_cfdi_xml(c, plan.company_rfc, plan.company_name) for c in plan.cfdis]


def _bench_tenant():
    return Tenant.objects.create(
        code="bench-cfdi", name="Benchmark SA de CV", rfc=BENCH_RFC, sandbox=True, sage_db_engine="sqlite",
        sage_db_name=":memory:",
        webapi_url="http://127.0.0.1:9/", webapi_company="BENCH", webapi_user="BENCH", webapi_password="-",
        portal_url="http://127.0.0.1:9/", portal_tenant_id="bench", portal_key="-", portal_secret="-")


def _timed_run(command, documents: list[bytes], storage) -> tuple[float, float, int]:
    tenant = _bench_tenant()
    check_cfdi(documents[0], tenant_rfc=BENCH_RFC)  # compile the schemas outside the timing
    count = len(documents)
    started, cpu_started = time.perf_counter(), time.process_time()
    for done, xml_bytes in enumerate(documents, 1):
        store_cfdi(tenant, xml_bytes, {"bench": True}, file_storage=storage)
        if done % 250 == 0 or done == count:
            rate = done / (time.perf_counter() - started)
            command.stdout.write(f"\r  {done}/{count}  {rate:,.0f} docs/s", ending="")
            command.stdout.flush()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    command.stdout.write("")
    return elapsed, cpu, Cfdi.objects.filter(tenant=tenant).exclude(status=CfdiStatus.VALID).count()


def run_cfdi(command, options) -> int:
    """docs/s of store_cfdi: strict parse, XSD + business checks, original file and row."""
    count = options["n"]
    command.stdout.write(_("building %(n)s sandbox CFDIs…") % {"n": count})
    documents = _documents(count, options["seed"])
    outcome: tuple[float, float, int] = (0.0, 0.0, 0)
    # Rows go into a transaction that is rolled back and files into a temp
    # folder: the benchmark leaves nothing behind in a real installation.
    with tempfile.TemporaryDirectory(prefix="bench-cfdi-") as folder:
        try:
            with transaction.atomic():
                outcome = _timed_run(command, documents, AtomicFileSystemStorage(location=folder))
                raise _Rollback
        except _Rollback:
            pass
        except DatabaseError as error:
            # Its own exit, not the "documents failed their checks" the command says for a non-zero count.
            raise CommandError(_("The database is not ready (run `manage.py migrate`): %(error)s") % {"error": error},
                               returncode=2) from None
    elapsed, cpu, invalid = outcome
    command.stdout.write(_("cfdi: %(n)s documents in %(s).2f s = %(rate).0f docs/s "
                           "(parse + validate + store file and row, one core); %(invalid)s not valid")
                         % {"n": count, "s": elapsed, "rate": count / elapsed, "invalid": invalid})
    # Each original is fsynced before it is renamed into place: on a slow
    # disk the wall figure is the disk's; the CPU figure is ours.
    command.stdout.write(_("      CPU time %(cpu).2f s = %(rate).0f docs/s of CPU; the rest is waiting for the disk")
                         % {"cpu": cpu, "rate": count / cpu if cpu else 0})
    return invalid
