"""SAGECONNECT_LOG_FILE: one size-rotated file written by several processes at once."""
from __future__ import annotations

import os
import sys
from collections import Counter

from tests.sync.processes import start

WRITER = """
import logging, sys
from sageconnect.logfiles import SharedRotatingFileHandler
handler = SharedRotatingFileHandler(sys.argv[1], maxBytes=2000, backupCount=100)
log = logging.getLogger("w"); log.addHandler(handler); log.setLevel(logging.INFO)
for n in range(500):
    log.info("writer %s line %s", sys.argv[2], n)
"""


def test_it_loses_and_repeats_no_line_when_processes_rotate_one_file_together(tmp_path):
    path = tmp_path / "sageconnect.log"
    writers = [start([sys.executable, "-c", WRITER, str(path), str(w)], env=dict(os.environ)) for w in range(4)]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    files = sorted(tmp_path.glob("sageconnect.log*"))
    files = [f for f in files if not f.name.endswith(".lock")]
    lines = Counter(line for f in files for line in f.read_text().splitlines())
    assert lines == Counter(f"writer {w} line {n}" for w in range(4) for n in range(500))
    assert len(files) > 5  # it did rotate, many times
    assert all(f.stat().st_size <= 2000 for f in files)
