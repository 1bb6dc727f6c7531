"""A throw-away SageConnect installation for tests that start real processes,
and the bookkeeping that stops every process a test started, children included.

Each process a test starts (`Installation.start`, `start`) leads a process
group of its own; tests/conftest.py stops every group still alive when the
test ends, whether it passed, failed, errored or timed out.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
FERNET_KEY = "Jq3kXz0b7cQm2vS8dL1nR5tY9uW4eA6hP0oI3gF7jK8="


class Installation:
    def __init__(self, var_dir: Path, steps: dict[str, str] | None = None, **extra_env: str) -> None:
        self.var_dir = var_dir
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))},
            "DJANGO_SETTINGS_MODULE": "tests.sync.subprocess_settings",
            "SAGECONNECT_VAR_DIR": str(var_dir),
            "SAGECONNECT_FERNET_KEYS": FERNET_KEY,
            "PYTHONUNBUFFERED": "1",
            "SYNC_TEST_STEP_MODULES": json.dumps(steps or {}),
            "Q_CLUSTER_NAME": f"test{os.getpid()}{var_dir.name[-6:]}",
            **extra_env,
        }
        self.manage("migrate", "-v0", check=True)

    def manage(self, *args: str, check: bool = False, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=timeout, check=check)

    def start(self, *args: str) -> subprocess.Popen:
        return start([sys.executable, "manage.py", *args], env=self.env)

    def add_tenant(self, code: str, **fields) -> None:
        values = {"code": code, "name": f"{code} SA de CV", "rfc": "AIN8001011A1", "sandbox": True,
                  "sage_db_engine": "sqlite",
                  "sage_db_name": str(self.var_dir / f"sage_{code}.sqlite3"), "portal_tenant_id": code, **fields}
        script = f"from tenants.models import Tenant; Tenant.objects.create(**{values!r})"
        self.manage("shell", "-c", script, check=True)

    def query(self, sql: str, *params) -> list[tuple]:
        with sqlite3.connect(self.var_dir / "sageconnect.sqlite3", timeout=30) as db:
            return db.execute(sql, params).fetchall()

    def wait_for(self, sql: str, *params, timeout: float = 20) -> list[tuple]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.query(sql, *params)
            if rows:
                return rows
            time.sleep(0.3)
        raise AssertionError(f"nothing matched within {timeout}s: {sql}")


# --- every process a test starts is stopped ------------------------------------

_started: list[subprocess.Popen] = []
STOP_SECONDS = 10


def start(command: list[str], *, env: dict[str, str], **options) -> subprocess.Popen:
    """Popen in a process group of its own, stopped with all it forked when the test ends (see stop_started)."""
    options.setdefault("stdout", subprocess.PIPE)
    options.setdefault("stderr", subprocess.PIPE)
    process = subprocess.Popen(command, cwd=options.pop("cwd", ROOT), env=env, text=True, process_group=0, **options)
    _started.append(process)
    return process


def stop_started() -> list[str]:
    """Stop what tests started that still runs (SIGTERM to each group, then SIGKILL); say what it was."""
    leftovers = []
    for process in _started:
        if alive(process.pid) or group_alive(process.pid):
            leftovers.append(" ".join(process.args[1:4]) if isinstance(process.args, list) else str(process.args))
            _signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for process in _started:
        while group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        _signal_group(process.pid, signal.SIGKILL)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()
    _started.clear()
    return leftovers


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def alive(pid: int) -> bool:
    """Running (a zombie has ended; only its parent can still reap it)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return any(alive(p.pid) for p in psutil.process_iter() if _pgid(p.pid) == pgid)


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def descendants(pid: int) -> list[int]:
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def wait_until_gone(pids: list[int], timeout: float = 20) -> list[int]:
    """The pids still running after `timeout` seconds ([] when all ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = [pid for pid in pids if alive(pid)]
        if not running:
            return []
        time.sleep(0.2)
    return [pid for pid in pids if alive(pid)]
