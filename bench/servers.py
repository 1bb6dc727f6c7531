"""The stand-ins served by gunicorn in their own process, as a real portal and Sage server would be."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from sageconnect.processes import die_with_parent, kill_group


class ServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# How long each of the server's threads keeps its database connection (seconds), as a server's pool would.
KEEP_CONNECTIONS_SECONDS = 600


def server_env(database: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None,
               ) -> dict[str, str]:
    """The stand-ins' settings in the benchmark.

    On the installation's one SQLite file the portal's request count, an UPDATE a call, waits for the write
    lock behind every other writer, ours included: in a `bench tenants` pass with two workers (27 s) the
    stand-ins' threads waited 8.7 s in all for it, and as long again for the write transaction each read ran
    in then (3 December; reads now run outside one, sandbox.portal.views). The real portal makes us wait for
    neither. A connection kept by each thread saved about 16 % of the stand-ins' CPU in that pass.
    """
    database = settings.DATABASES["default"] if database is None else database
    environ = os.environ if environ is None else environ
    env = {"SAGECONNECT_SANDBOX_RECORD_REQUESTS": "false"}
    if database["ENGINE"] == "django.db.backends.sqlite3" and "DATABASE_URL" not in environ:
        # The installation's own file, the connection kept between requests (django-environ's conn_max_age).
        env["DATABASE_URL"] = f"sqlite:///{database['NAME']}?conn_max_age={KEEP_CONNECTIONS_SECONDS}"
    return env


class StandIns:
    """gunicorn serving sageconnect.wsgi (the stand-ins under /sandbox/) on a loopback port.

    Threaded workers: the stand-ins spend most of a request in the injected
    latency (a sleep), which threads overlap as a real server's network would.

    Two things a real portal or Sage server does not put on us are left out
    (`server_env`): the stand-ins' records of the requests they answered, a
    database write per request that only the tests read, and a new database
    connection per request.
    """

    def __init__(self, var_dir: Path, *, workers: int = 4, threads: int = 8, env: dict | None = None) -> None:
        self.var_dir = var_dir
        self.port = free_port()
        self.workers, self.threads = workers, threads
        self.access_log = var_dir / "standins-access.log"
        self.error_log = var_dir / "standins-error.log"
        self.env = {**os.environ, "SAGECONNECT_SANDBOX": "true", **server_env(), **(env or {})}
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> StandIns:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        command = [str(gunicorn) if gunicorn.exists() else "gunicorn", "sageconnect.wsgi:application",
                   "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
                   "--worker-class", "gthread", "--threads", str(self.threads), "--timeout", "300",
                   "--config", "python:bench.gunicorn_warm",
                   "--access-logfile", str(self.access_log), "--access-logformat", "%(m)s %(U)s %(s)s %(D)s",
                   "--error-logfile", str(self.error_log),
                   # gunicorn ≥ 23 shares one control socket per user by default: another
                   # gunicorn on this machine (the production server, a test) could reach ours.
                   "--no-control-socket"]
        self.process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=self.env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, process_group=0,
                                        preexec_fn=die_with_parent(signal.SIGTERM))
        self._wait_until_listening()

    def _wait_until_listening(self, timeout: float = 60) -> None:
        assert self.process is not None, "start() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(_("gunicorn stopped at start (exit %(code)s); see %(log)s.")
                                  % {"code": self.process.returncode, "log": self.error_log})
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise ServerError(_("gunicorn did not listen on port %(port)s within %(s)s s; see %(log)s.")
                          % {"port": self.port, "s": timeout, "log": self.error_log})

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        kill_group(self.process)  # gunicorn's workers too
