"""Benchmarks run in a throw-away installation under var/bench/, never in the operator's database."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from django.conf import settings

INSIDE = "SAGECONNECT_BENCH_INSIDE"


def inside() -> bool:
    return os.environ.get(INSIDE) == "1"


def bench_root() -> Path:
    return Path(settings.BASE_DIR) / "var" / "bench"


def fresh_dir(name: str) -> Path:
    folder = bench_root() / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def child_env(var_dir: Path) -> dict[str, str]:
    # Its own SQLite files, its own secrets, the ORM broker: nothing of the operator's installation.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "REDIS_URL", "SAGECONNECT_MEDIA_ROOT", "SAGECONNECT_FERNET",
                                "DJANGO_SECRET_KEY", "Q_CLUSTER", "Q_WORKERS", "SAGECONNECT_CRASH_AT"))}
    # The benchmark's companies are sandbox companies: the stand-ins are switched on for it.
    env.update({"SAGECONNECT_VAR_DIR": str(var_dir), INSIDE: "1", "PYTHONUNBUFFERED": "1",
                "DJANGO_SETTINGS_MODULE": "bench.settings", "SAGECONNECT_SANDBOX": "true"})
    # SAT's status check is limited (SAGECONNECT_SAT_CALLS_PER_MINUTE, 120 by default): the bench asks the
    # SAT stand-in on this machine, and SAT's real limit is not ours to measure, so it is raised here (the
    # bench says so); SAGECONNECT_BENCH_SAT_CALLS_PER_MINUTE sets another.
    env["SAGECONNECT_SAT_CALLS_PER_MINUTE"] = os.environ.get("SAGECONNECT_BENCH_SAT_CALLS_PER_MINUTE", "100000")
    return env


def rerun_inside(var_dir: Path, args: list[str]) -> int:
    """`manage.py bench <args>` in a child pointed at `var_dir`; its exit code."""
    command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "bench", *args]
    return subprocess.call(command, cwd=settings.BASE_DIR, env=child_env(var_dir))
