"""A throw-away SageConnect installation for tests that start real processes."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

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
        return subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def add_tenant(self, code: str, **fields) -> None:
        values = {"code": code, "name": f"{code} SA de CV", "rfc": "AIN8001011A1", "sandbox": True, "sage_db_engine": "sqlite",
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
