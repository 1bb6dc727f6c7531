"""`manage.py cluster`: django-q2's cluster, stopped by SIGTERM or Ctrl-C whenever the signal arrives.

What `serve` runs as its worker (and what to run instead of `qcluster` under a
service manager). The cluster is django-q2's own; only the stop differs.

django-q2's `qcluster` stops the cluster from inside its signal handler. A
signal that arrives while it is still starting the cluster's sentinel can be
lost (the handler finds no sentinel alive yet and returns; the command then
waits on the sentinel for ever) or deadlock (the handler waits for the
sentinel while the interrupted code holds the lock of the event the sentinel
must set to finish starting). CI saw it: a `serve` whose web died one second
after start waited more than 30 s for a cluster that would never stop.

Here the handler only notes the request; the stop runs from the main loop,
after the start has finished, so a signal at any moment stops the cluster —
still letting the cycle in progress finish, as `qcluster` does.

If the sentinel dies by itself (the OOM killer), what it had started — workers,
monitor, pusher — would run on as orphans: this process adopts them (a Linux
child subreaper), stops them (a worker hands its lease back on SIGTERM) and
exits 1, so a service manager (or `serve`) restarts the cluster.

A broker that does not answer (Redis down, the database not migrated) is said
in one sentence before anything starts, not as the sentinel's traceback.

SAT's CFDI schemas are compiled here, before the sentinel forks the workers:
each worker would otherwise spend about a second of CPU building its own copy
at its first CFDI (again after every recycle). With what this process holds
frozen out of the garbage collector, the forked processes share those pages:
measured with two workers, the cluster's processes together 359 → 292 MB
(proportional set size), each worker 100 → 50 MB.

Exit codes: 0 stopped on request; 1 the cluster's sentinel died by itself, or
the cluster could not start (said why).
"""
from __future__ import annotations

import gc
import logging
import signal
import sys
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django_q.cluster import Cluster

from cfdi import xsd
from sageconnect.processes import become_subreaper, stop_children
from sync.health import check_broker

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2
# How long the sentinel's orphans get to hand their leases back after a SIGTERM (as serve gives the workers).
ORPHANS_STOP_SECONDS = 15


class Command(BaseCommand):
    help = _("Run the worker cluster (django-q2) until SIGTERM or Ctrl-C; the cycle in progress finishes first.")

    def handle(self, *args, **options) -> None:
        settings.SECRET_KEY  # noqa: B018 — as qcluster: refuse to start without the key that signs tasks
        _broker_answers()
        compile_schemas_for_workers()
        # What this process holds now (Django, the schemas) is left out of the children's garbage collections
        # (the gc.freeze documentation's advice before a fork): a collection touching it would copy its pages.
        gc.freeze()
        requested: list[int] = []

        def on_signal(signum, frame) -> None:
            requested.append(signum)

        # Cluster() installs django-q2's handlers, which stop from inside the handler: ours replace them, and a
        # signal meanwhile waits (blocked) for ours instead of reaching theirs or the default.
        stop_signals = {signal.SIGTERM, signal.SIGINT}
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        try:
            cluster = Cluster()
            for signum in stop_signals:
                signal.signal(signum, on_signal)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)
        become_subreaper()
        try:
            cluster.start()
        except RuntimeError as error:  # its sentinel ended while starting; django-q2 logged why above
            stop_children(ORPHANS_STOP_SECONDS)  # the workers it had forked already
            raise CommandError(_("The worker cluster did not start (%(error)s); the log above says why.")
                               % {"error": error}) from None
        while not requested and cluster.sentinel.is_alive():
            time.sleep(POLL_SECONDS)
        if requested:
            cluster.stop()
            return
        self.stderr.write(_("The cluster's sentinel ended by itself (exit code %(code)s); stopping what it started.")
                          % {"code": cluster.sentinel.exitcode})
        stop_children(ORPHANS_STOP_SECONDS)
        sys.exit(1)


def compile_schemas_for_workers() -> None:
    """The CFDI schemas, built once in this process for the workers it forks."""
    try:
        xsd.compiled()
    except Exception:  # noqa: BLE001 — not fatal: a worker builds them at its first CFDI and reports the error there
        logger.exception("SAT's CFDI schemas could not be compiled before the workers start; each worker will try "
                         "at its first CFDI.")


def _broker_answers() -> None:
    try:
        check_broker()
    except Exception as error:  # noqa: BLE001 — whatever the broker's client raises, said in one sentence
        if settings.REDIS_URL:
            where = urlsplit(settings.REDIS_URL)  # host and port only: the URL may hold a password
            raise CommandError(_(
                "The worker cluster cannot start: its broker, Redis at %(host)s:%(port)s (REDIS_URL), does not "
                "answer (%(error)s). Start Redis there or correct REDIS_URL; without REDIS_URL the cluster uses "
                "Django's database as its broker.") % {"host": where.hostname, "port": where.port or 6379,
                                                       "error": error.__class__.__name__}) from None
        raise CommandError(_(
            "The worker cluster cannot start: its broker, Django's database (DATABASE_URL), does not answer "
            "(%(error)s). Check that the database is up and migrated (`manage.py migrate`).")
            % {"error": error.__class__.__name__}) from None
