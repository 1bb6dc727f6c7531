"""A size-rotated log file that several processes write at once.

gunicorn's workers and the cluster's workers all log to the one file named
by SAGECONNECT_LOG_FILE. logging's RotatingFileHandler is not safe for that:
two processes would rotate the file at once, and one would go on writing into
the rotated copy. Here each record is written under an exclusive lock (a
sidecar ".lock" file), and a process whose open file was rotated away by
another reopens the current one before it writes.
"""
from __future__ import annotations

import logging
import logging.handlers
import os

try:
    import fcntl
except ImportError:  # Windows: the one `sync` process a task scheduler starts writes alone
    fcntl = None  # type: ignore[assignment]


class SharedRotatingFileHandler(logging.handlers.RotatingFileHandler):
    def __init__(self, filename: str, maxBytes: int = 0, backupCount: int = 0, encoding: str = "utf-8") -> None:
        super().__init__(filename, maxBytes=maxBytes, backupCount=backupCount, encoding=encoding, delay=True)
        self.lock_path = self.baseFilename + ".lock"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            with open(self.lock_path, "a") as lock:
                if fcntl:
                    fcntl.flock(lock, fcntl.LOCK_EX)
                self._reopen_if_rotated()
                super().emit(record)  # rotates first when the file is full
        except Exception:
            self.handleError(record)

    def _reopen_if_rotated(self) -> None:
        if self.stream is None:
            return
        try:
            current = os.stat(self.baseFilename)
        except FileNotFoundError:
            current = None
        opened = os.fstat(self.stream.fileno())
        if current is None or (current.st_dev, current.st_ino) != (opened.st_dev, opened.st_ino):
            self.stream.close()
            self.stream = None  # opened again, at the current file, by the write
