"""Secrets for the embedded default, kept in var/ so restarts keep them."""
import base64
import os
import secrets
from pathlib import Path


def local_secret(path: Path, kind: str) -> str:
    if path.exists():
        return path.read_text().strip()
    value = (
        base64.urlsafe_b64encode(os.urandom(32)).decode()
        if kind == "fernet"
        else secrets.token_urlsafe(50)
    )
    tmp = path.with_suffix(".tmp")
    tmp.write_text(value)
    os.chmod(tmp, 0o600)
    try:
        # Another process may have written it first; keep theirs.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def private_file(path: Path) -> None:
    """Make `path` readable by this user only (0600), creating it empty if it is not there.

    For the embedded SQLite database: SQLite creates its file with the umask's
    permissions (often 0644, readable by every local user) and gives its -wal
    and -shm files the database file's own permissions.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    else:
        os.close(fd)
