"""Outside values cannot forge a line in the run log or in the server's log: control characters are escaped."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from sageconnect.logsafe import EscapeControlCharacters, Verbatim, one_line
from sync.engine.pipeline import run_tenant

REPO = Path(__file__).resolve().parents[2]
FORGED = "2026-01-01 00:00:00 INFO sync.steps: all good"


def test_it_keeps_each_run_log_entry_on_one_line(make_tenant):
    tenant = make_tenant()
    run = run_tenant(tenant.pk, registry={"providers": "tests.sync.steps.forger"})
    log = run.steps.get().log
    assert len(log) == 3
    for line in log:
        assert not any(char in line for char in "\r\n\x1b\u2028"), repr(line)
    assert log[0] == f"CFDI 6D7434A6-E3F2-47AD-9E4C-08849946AFA0\\r\\n{FORGED}: stored"
    assert log[1] == "portal said: \\x1b[2Jcleared\\u2028next"
    assert "\\r\\n" in log[2]


def test_it_escapes_rather_than_drops():
    assert one_line("a\rb\nc\x00d\x85e\tf") == "a\\rb\\nc\\x00d\\x85e\tf"


def test_it_writes_one_server_log_line_per_record_with_the_real_settings(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGECONNECT_", "DJANGO_", "DATABASE_URL"))}
    env.update(DJANGO_SETTINGS_MODULE="sageconnect.settings", SAGECONNECT_VAR_DIR=str(tmp_path))
    program = ("import logging\n"
               "logging.getLogger('sync.steps').warning('CFDI %s: refused', "
               f"'6D7434A6\\r\\n{FORGED}')\n")
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", program], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].endswith(f"CFDI 6D7434A6\\r\\n{FORGED}: refused")
    assert not any(line.startswith("2026-01-01") for line in lines)


def test_it_leaves_our_own_multi_line_text_alone():
    record = logging.LogRecord("sync.engine.pipeline", logging.ERROR, __file__, 1, "failed: %s\n%s",
                               ("boom\nforged", Verbatim('  File "x.py", line 1\n    raise\n')), None)
    EscapeControlCharacters().filter(record)
    assert record.getMessage() == 'failed: boom\\nforged\n  File "x.py", line 1\n    raise\n'
