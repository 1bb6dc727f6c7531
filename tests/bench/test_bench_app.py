"""The benchmarks are their own app: installed for `manage.py bench` and the tests, never by the site."""
from __future__ import annotations

import importlib
import os
import secrets
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _manage(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    # As an operator runs it: no settings module named, nothing of the tests' environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGECONNECT_", "DJANGO_", "DATABASE_URL"))}
    env.update(SAGECONNECT_VAR_DIR=str(tmp_path), DJANGO_SECRET_KEY=secrets.token_urlsafe(50))
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_site_does_not_install_it():
    assert "bench" not in importlib.import_module("sageconnect.settings").INSTALLED_APPS
    assert "bench" in importlib.import_module("bench.settings").INSTALLED_APPS


def test_manage_py_runs_bench_with_its_settings_and_every_other_command_without(tmp_path):
    bench = _manage(tmp_path, "bench", "--help")
    assert bench.returncode == 0, bench.stderr
    assert "{cfdi,cycle,reconcile,tenants,pages}" in bench.stdout
    listed = _manage(tmp_path, "help")
    assert listed.returncode == 0, listed.stderr
    assert "[bench]" not in listed.stdout and "[sync]" in listed.stdout
