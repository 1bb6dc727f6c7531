"""`manage.py serve --mode web|worker|all [--port 3030] [--host 127.0.0.1]`.

web    = gunicorn serving sageconnect.wsgi (a real WSGI server, no autoreload);
worker = django-q2's qcluster;
all    = both, as child processes. Ctrl-C or SIGTERM stops both cleanly; if one
         dies, the other is stopped and serve exits with the dead one's code,
         so a service manager restarts the pair.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from sageconnect.metrics import prepare_multiprocess_dir
from sageconnect.staticfiles import collect_if_changed

STOP_GRACE_SECONDS = 20


class Command(BaseCommand):
    help = _("Serve the web, the worker cluster, or both.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--mode", choices=["web", "worker", "all"], default="all")
        parser.add_argument("--port", type=int, default=3030)
        parser.add_argument("--host", default="127.0.0.1", help=_("0.0.0.0 to listen on every interface."))
        parser.add_argument("--web-workers", type=int, default=2)

    def handle(self, *args, mode: str, port: int, host: str, web_workers: int, **options):
        commands = []
        if mode in ("web", "all"):
            # The web serves its own static files (WhiteNoise): collected first when they changed.
            collect_if_changed(self.stdout.write)
            commands.append(("web", web_command(host, port, web_workers)))
        if mode in ("worker", "all"):
            commands.append(("worker", [sys.executable, manage_py(), "qcluster"]))
        sys.exit(Supervisor(commands, self.stdout.write).run())


def web_command(host: str, port: int, workers: int) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "sageconnect.wsgi:application", "--bind", f"{host}:{port}",
            "--workers", str(workers), "--timeout", "120", "--access-logfile", "-"]


def manage_py() -> str:
    return str(settings.BASE_DIR / "manage.py")


class Supervisor:
    def __init__(self, commands: list[tuple[str, list[str]]], say) -> None:
        self.commands, self.say = commands, say
        self.children: dict[str, subprocess.Popen] = {}
        self.stopping = False

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        # One counter directory for the web and the workers, so /metrics counts the workers' calls too.
        env = dict(os.environ, PYTHONUNBUFFERED="1",
                   PROMETHEUS_MULTIPROC_DIR=prepare_multiprocess_dir(settings.VAR_DIR))
        for name, command in self.commands:
            self.children[name] = subprocess.Popen(command, env=env, cwd=str(settings.BASE_DIR))
            self.say(_("%(name)s started (pid %(pid)s)") % {"name": name, "pid": self.children[name].pid})
        code = self._watch()
        self._stop_all()
        return code

    def _watch(self) -> int:
        while not self.stopping:
            for name, child in self.children.items():
                code = child.poll()
                if code is not None:
                    self.say(_("%(name)s exited with code %(code)s; stopping the rest") % {"name": name, "code": code})
                    return code or 1
            time.sleep(0.5)
        return 0

    def _on_signal(self, signum, frame) -> None:
        self.stopping = True

    def _stop_all(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for name, child in self.children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(_("%(name)s did not stop in time; killing it") % {"name": name})
                child.kill()
                child.wait()
