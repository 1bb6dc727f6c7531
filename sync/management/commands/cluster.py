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

Exit codes: 0 stopped on request; 1 the cluster's sentinel died by itself.
"""
from __future__ import annotations

import signal
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _
from django_q.cluster import Cluster

from sageconnect.processes import become_subreaper, stop_children

POLL_SECONDS = 0.2
# How long the sentinel's orphans get to hand their leases back after a SIGTERM (as serve gives the workers).
ORPHANS_STOP_SECONDS = 15


class Command(BaseCommand):
    help = _("Run the worker cluster (django-q2) until SIGTERM or Ctrl-C; the cycle in progress finishes first.")

    def handle(self, *args, **options) -> None:
        settings.SECRET_KEY  # noqa: B018 — as qcluster: refuse to start without the key that signs tasks
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
        cluster.start()
        while not requested and cluster.sentinel.is_alive():
            time.sleep(POLL_SECONDS)
        if requested:
            cluster.stop()
            return
        self.stderr.write(_("The cluster's sentinel ended by itself (exit code %(code)s); stopping what it started.")
                          % {"code": cluster.sentinel.exitcode})
        stop_children(ORPHANS_STOP_SECONDS)
        sys.exit(1)
