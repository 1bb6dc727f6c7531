"""The embedded SQLite database is readable by its owner only, like the key files beside it."""
from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGECONNECT_", "DJANGO_", "DATABASE_URL"))}
    env.update(DJANGO_SETTINGS_MODULE="sageconnect.settings", SAGECONNECT_VAR_DIR=str(var_dir))
    return env


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_it_creates_the_database_and_its_journal_files_0600(tmp_path):
    old = os.umask(0o022)  # the usual umask, which would make them 0644
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=_env(tmp_path), check=True,
                       capture_output=True, timeout=300)
        # A writer holding the database open in WAL mode, as the web and the workers do.
        with sqlite3.connect(tmp_path / "sageconnect.sqlite3") as writer:
            writer.execute("PRAGMA journal_mode=WAL")
            writer.execute("CREATE TABLE probe (x)")
            writer.execute("INSERT INTO probe VALUES (1)")
            files = [tmp_path / "sageconnect.sqlite3", tmp_path / "secret_key", tmp_path / "fernet.key"]
            files += sorted(tmp_path.glob("sageconnect.sqlite3-*"))
            assert len(files) == 5, files  # -wal and -shm beside it
            modes = {path.name: oct(_mode(path)) for path in files}
    finally:
        os.umask(old)
    assert modes == {path.name: "0o600" for path in files}


def test_it_tightens_a_database_file_made_before(tmp_path):
    database = tmp_path / "sageconnect.sqlite3"
    database.touch()
    database.chmod(0o644)
    subprocess.run([sys.executable, "manage.py", "check"], cwd=REPO, env=_env(tmp_path), check=True,
                   capture_output=True, timeout=120)
    assert _mode(database) == 0o600
