"""`manage.py serve --mode web|worker|all [--port 3030] [--host 127.0.0.1] [--grace SECONDS]`.

web    = gunicorn serving sageconnect.wsgi (a real WSGI server, no autoreload);
worker = django-q2's cluster (`manage.py cluster`: qcluster, stopped safely);
all    = both, as child processes.

Stopping (Ctrl-C, SIGTERM): the cluster first — it finishes the cycle in
progress, or, after `--grace` seconds (SAGECONNECT_STOP_GRACE_SECONDS, by
default the longest a cycle may run), its workers are told to stop and hand
their leases back — and the web last, so the pages stay up meanwhile. What
is still alive after that is killed, children's children included. If one
child dies, the other is stopped the same way and serve exits with the dead
one's code, so a service manager restarts the pair.

No child outlives serve: each is its own process group, dies with serve
(sageconnect.processes), and a cluster holds a lock on its database's name
that a second `serve` on this host checks, refusing to start another cluster
beside one still alive.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from sageconnect.outside_calls import prepare_multiprocess_dir
from sageconnect.processes import DIE_WITH_PARENT_VARIABLE, die_with_parent, kill_group
from sageconnect.staticfiles import collect_if_changed

# After the grace: how long workers get to hand their leases back, and gunicorn to finish its requests.
HAND_BACK_SECONDS = 15
WEB_GRACEFUL_SECONDS = 30
# gunicorn recycles a worker after this many requests (± the jitter), so a slow leak cannot grow for ever.
WEB_MAX_REQUESTS, WEB_MAX_REQUESTS_JITTER = 1000, 100
# Stopped in this order: the cluster's cycle may need the web (the sandbox stand-ins are served by it).
STOP_ORDER = ("worker", "web")


class Command(BaseCommand):
    help = _("Serve the web, the worker cluster, or both.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--mode", choices=["web", "worker", "all"], default="all")
        parser.add_argument("--port", type=int, default=3030)
        parser.add_argument("--host", default="127.0.0.1", help=_("0.0.0.0 to listen on every interface."))
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--grace", type=float, default=None, help=_(
            "Seconds a running cycle gets to finish when stopping (default: SAGECONNECT_STOP_GRACE_SECONDS)."))

    def handle(self, *args, mode: str, port: int, host: str, web_workers: int, grace: float | None, **options):
        commands = []
        if mode in ("web", "all"):
            # The web serves its own static files (WhiteNoise): collected first when they changed.
            collect_if_changed(self.stdout.write)
            commands.append(("web", web_command(host, port, web_workers)))
        lock = None
        if mode in ("worker", "all"):
            lock = ClusterLock.take()
            commands.append(("worker", [sys.executable, manage_py(), "cluster"]))
        grace = settings.SERVE_STOP_GRACE_SECONDS if grace is None else grace
        sys.exit(Supervisor(commands, self.stdout.write, grace=grace, lock=lock).run())


def web_command(host: str, port: int, workers: int) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "sageconnect.wsgi:application", "--bind", f"{host}:{port}",
            "--workers", str(workers), "--timeout", "120", "--access-logfile", "-",
            "--graceful-timeout", str(WEB_GRACEFUL_SECONDS),
            "--max-requests", str(WEB_MAX_REQUESTS), "--max-requests-jitter", str(WEB_MAX_REQUESTS_JITTER),
            # gunicorn 27 otherwise opens one control socket per user (~/.gunicorn/gunicorn.ctl), shared by
            # every instance on the host; we do not use it (`gunicorn --help`: --no-control-socket).
            "--no-control-socket"]


def manage_py() -> str:
    return str(settings.BASE_DIR / "manage.py")


class ClusterLock:
    """One cluster per database on this host, held by the cluster's processes themselves.

    An flock on a file named after the database. The cluster's processes
    inherit the open file, so the lock lasts as long as any of them lives —
    even if `serve` itself was killed — and the kernel drops it when the last
    one ends. Clusters on other hosts (the README's several-machines setup)
    are not affected.
    """

    def __init__(self, fd: int, path: Path) -> None:
        self.fd, self.path = fd, path

    @classmethod
    def path_for_database(cls) -> Path:
        db = settings.DATABASES["default"]
        name = "|".join(str(db.get(key) or "") for key in ("ENGINE", "HOST", "PORT", "NAME"))
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"sageconnect-cluster-{digest}.lock"

    @classmethod
    def take(cls) -> "ClusterLock":
        path = cls.path_for_database()
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = cls._read(fd)
            os.close(fd)
            raise CommandError(_(
                "A SageConnect cluster started by serve (pid %(pid)s, at %(started)s) still runs on database "
                "%(database)s on this host; a second one beside it would run every cycle twice. Stop that serve "
                "(or its remaining processes) first; the lock is %(path)s.") % {
                "pid": holder.get("pid", "?"), "started": holder.get("started", "?"),
                "database": settings.DATABASES["default"].get("NAME"), "path": path})
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "started": timezone.now().isoformat(timespec="seconds")})
                  .encode(), 0)
        return cls(fd, path)

    @staticmethod
    def _read(fd: int) -> dict:
        try:
            return json.loads(os.pread(fd, 4096, 0) or b"{}")
        except ValueError:
            return {}


class Supervisor:
    def __init__(self, commands: list[tuple[str, list[str]]], say, *, grace: float,
                 lock: ClusterLock | None = None) -> None:
        self.commands, self.say, self.grace, self.lock = commands, say, grace, lock
        self.children: dict[str, subprocess.Popen] = {}
        self.stopping = False

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        # One counter directory for the web and the workers, so /metrics counts the workers' calls too.
        self.metrics_dir = str(prepare_multiprocess_dir(settings.VAR_DIR))
        try:
            for name, command in self.commands:
                self.children[name] = self._start(name, command)
                self.say(_("%(name)s started (pid %(pid)s)") % {"name": name, "pid": self.children[name].pid})
            code = self._watch()
        finally:
            self._stop_all()
        return code

    def _start(self, name: str, command: list[str]) -> subprocess.Popen:
        # The cluster's main process holds no work of its own: SIGKILL it with serve, and its sentinel and
        # workers follow (SIGTERM: a worker hands its lease back). gunicorn's master stops its workers itself.
        env = dict(os.environ, PYTHONUNBUFFERED="1", PROMETHEUS_MULTIPROC_DIR=self.metrics_dir,
                   **{DIE_WITH_PARENT_VARIABLE: str(int(signal.SIGTERM))})
        keep = (self.lock.fd,) if name == "worker" and self.lock else ()
        return subprocess.Popen(command, env=env, cwd=str(settings.BASE_DIR), process_group=0, pass_fds=keep,
                                preexec_fn=die_with_parent(signal.SIGKILL if name == "worker" else signal.SIGTERM))

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
        if self.stopping:
            self.say(_("already stopping: a cycle in progress gets %(s)s s to finish") % {"s": round(self.grace)})
        self.stopping = True

    def _stop_all(self) -> None:
        # A second Ctrl-C must not cut the orderly stop short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for name in STOP_ORDER:
            if name in self.children:
                self._stop(name, self.children[name])

    def _stop(self, name: str, child: subprocess.Popen) -> None:
        if child.poll() is None:
            self.say(_("stopping %(name)s") % {"name": name})
            child.send_signal(signal.SIGTERM)
        grace = self.grace if name == "worker" else WEB_GRACEFUL_SECONDS + 5
        if not _wait(child, grace) and name == "worker":
            self.say(_("the cycle did not finish within %(s)s s; its workers hand their leases back")
                     % {"s": round(grace)})
            _signal_tree(child.pid, signal.SIGTERM, include_root=False)
            _wait(child, HAND_BACK_SECONDS)
        if child.poll() is None:
            self.say(_("%(name)s did not stop in time; killing it") % {"name": name})
        # The process group holds whatever the child forked: nothing of it may outlive serve.
        kill_group(child)


def _wait(child: subprocess.Popen, seconds: float) -> bool:
    try:
        child.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


def _signal_tree(pid: int, signum: int, *, include_root: bool) -> None:
    try:
        root = psutil.Process(pid)
        processes = root.children(recursive=True) + ([root] if include_root else [])
    except psutil.NoSuchProcess:
        return
    for process in processes:
        try:
            process.send_signal(signum)
        except psutil.NoSuchProcess:
            pass

