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
