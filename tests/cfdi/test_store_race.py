"""Download workers in separate processes storing the same CFDI at once."""
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.cfdi.samples import FIXTURES
from tests.support import PG_HOST, PG_PORT, ensure_postgres_database, postgres_available
from tests.sync.processes import start

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 8


def _database_url(engine: str, tmp_path: Path) -> str:
    if engine == "sqlite":
        return f"sqlite:///{tmp_path / 'race.sqlite3'}"
    if not postgres_available():
        pytest.skip("PostgreSQL is not answering on 127.0.0.1:5432 (CI starts it)")
    name = f"sageconnect_cfdi_race_{uuid.uuid4().hex[:8]}"
    ensure_postgres_database(name)
    return f"postgres://postgres@{PG_HOST}:{PG_PORT}/{name}"


def _drop(url: str) -> None:
    if url.startswith("postgres"):
        import psycopg

        with psycopg.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _run(env: dict, *args: str, **kwargs):
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180, check=True, **kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_it_keeps_one_row_and_one_file_when_workers_race(engine, tmp_path):
    url = _database_url(engine, tmp_path)
    env = {**os.environ, "DATABASE_URL": url, "SAGECONNECT_VAR_DIR": str(tmp_path / "var"),
           "DJANGO_SETTINGS_MODULE": "sageconnect.test_settings"}
    try:
        _run(env, "manage.py", "migrate", "--verbosity", "0")
        _run(env, "-m", "tests.cfdi.race_worker", "SETUP")
        sample = FIXTURES / "satcfdi-invoice-ppd-stamped.xml"
        altered = tmp_path / "altered.xml"
        altered.write_bytes(sample.read_bytes().replace(b'Folio="123456"', b'Folio="999999"'))
        start_at = str(time.time() + 3)
        # Most workers bring the original, two bring other bytes under its UUID.
        files = [str(altered) if i in (3, 6) else str(sample) for i in range(WORKERS)]
        workers = [start([sys.executable, "-m", "tests.cfdi.race_worker", "STORE", start_at, f], env=env)
                   for f in files]
        outputs = [w.communicate(timeout=120) for w in workers]
        assert [w.returncode for w in workers] == [0] * WORKERS, [err for _out, err in outputs]
        assert len({out.strip() for out, _err in outputs}) == 1
        check = ("from cfdi.models import Cfdi; c = Cfdi.objects.get(); "
                 "print(Cfdi.objects.count(), c.sha256, ','.join(p['code'] for p in c.problems) or '-')")
        out = _run(env, "manage.py", "shell", "--verbosity", "0", "-c", check).stdout.split()
        assert out[0] == "1"
        # Whoever won, the other bytes are reported on the row exactly once.
        assert out[2] == "uuid_different_bytes"
        stored = list((tmp_path / "var" / "media" / "cfdi").rglob("*.xml"))
        # The winner's bytes are the row's original; both files are kept by content.
        assert out[1] in {p.stem for p in stored}
        assert len(stored) == 2 and not list((tmp_path / "var" / "media" / "cfdi").rglob(".tmp-*"))
    finally:
        _drop(url)
