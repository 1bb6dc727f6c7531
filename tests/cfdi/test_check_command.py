"""`manage.py cfdi check` as an operator runs it: a real subprocess, no database."""
import os
import subprocess
import sys
from pathlib import Path

from tests.cfdi.samples import FIXTURES

ROOT = Path(__file__).resolve().parents[2]


def run_check(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    # A database URL that cannot work proves the command never opens one.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sageconnect.settings", "SAGECONNECT_VAR_DIR": str(tmp_path),
           "DJANGO_LANGUAGE_CODE": "en",  # the assertions read English
           "DATABASE_URL": "postgres://nobody:nothing@127.0.0.1:9/none"}
    return subprocess.run([sys.executable, "manage.py", "cfdi", "check", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_it_exits_zero_and_prints_the_facts_of_good_files(tmp_path):
    result = run_check(str(FIXTURES / "satcfdi-invoice-ppd-stamped.xml"), str(FIXTURES / "satcfdi-payment-for-ppd.xml"),
                       tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "6D7434A6-E3F2-47AD-9E4C-08849946AFA0" in result.stdout
    assert "H&E951128469" in result.stdout and "KIJ0906199R1" in result.stdout and "17852.75" in result.stdout
    assert "problem" not in result.stdout


def test_it_exits_non_zero_when_any_file_has_a_problem(tmp_path):
    truncated = tmp_path / "truncated.xml"
    truncated.write_bytes((FIXTURES / "phpcfdi-cfdi40-real.xml").read_bytes()[:1500])
    result = run_check(str(FIXTURES / "phpcfdi-cfdi40-real.xml"), str(truncated), str(tmp_path / "missing.xml"),
                       tmp_path=tmp_path)
    assert result.returncode == 1
    assert "problem [not_well_formed]" in result.stdout and "problem [unreadable]" in result.stdout
    assert "Traceback" not in result.stderr


def test_it_checks_the_receptor_when_given_the_company_rfc(tmp_path):
    result = run_check("--rfc", "AIN8001011A1", str(FIXTURES / "phpcfdi-cfdi40-real.xml"), tmp_path=tmp_path)
    assert result.returncode == 1
    assert "problem [receptor_mismatch]" in result.stdout
