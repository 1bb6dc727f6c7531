"""Helpers for tests that need real servers."""
from __future__ import annotations

import atexit
import importlib.util
import os
import re
import socket
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@lru_cache
def postgres_available() -> bool:
    return _port_open(PG_HOST, PG_PORT)


@lru_cache
def redis_available() -> bool:
    return _port_open(REDIS_HOST, REDIS_PORT)


needs_postgres = pytest.mark.skipif(
    not postgres_available(), reason="PostgreSQL is not answering on 127.0.0.1:5432 (CI starts it)"
)
needs_redis = pytest.mark.skipif(
    not redis_available(), reason="Redis is not answering on 127.0.0.1:6379 (CI starts it)"
)


def ensure_postgres_database(name: str) -> None:
    import psycopg

    with psycopg.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


@lru_cache
def scratch_postgres_database() -> str:
    """One database per test process, so suites run side by side do not collide."""
    name = f"sageconnect_sage_{os.getpid()}"
    ensure_postgres_database(name)
    atexit.register(drop_postgres_database, name)
    return name


def drop_postgres_database(name: str) -> None:
    import psycopg

    try:
        with psycopg.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error:
        pass  # best effort: a leftover scratch database harms nothing


def sandbox_sage_settings(tmp_path: Path, label: str, engine: str | None = None) -> dict:
    engine = engine or os.environ.get("SAGECONNECT_TEST_SAGE_ENGINE", "sqlite")
    if engine == "postgresql":
        if not postgres_available():
            pytest.skip("PostgreSQL is not answering on 127.0.0.1:5432 (CI starts it)")
        name = scratch_postgres_database()
        return {"sage_db_engine": "postgresql", "sage_db_host": PG_HOST, "sage_db_port": PG_PORT,
                "sage_db_name": name, "sage_db_user": "postgres"}
    safe = re.sub(r"[^A-Za-z0-9_]+", "_", label)[:40]
    return {"sage_db_engine": "sqlite", "sage_db_name": str(tmp_path / f"sage_{safe}.sqlite3")}


@lru_cache
def _system_packages():
    """scripts/system_packages.py, the one place that knows what the suite needs from the system."""
    spec = importlib.util.spec_from_file_location("system_packages", REPO / "scripts" / "system_packages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@lru_cache
def missing_system_packages() -> tuple[str, ...]:
    return tuple(_system_packages().missing())


def needs_system(*packages: str) -> pytest.MarkDecorator:
    """Skip, with bootstrap's own sentence, a test that needs a system package this machine lacks."""
    absent = [package for package in packages if package in missing_system_packages()]
    reason = " ".join(_system_packages().sentence(package) for package in absent)
    return pytest.mark.skipif(bool(absent), reason=reason or "-")
