"""Original CFDI bytes, stored once, content-addressed, never modified.

The name of a document is its sha256 (sharded by its first two hex digits),
so storing the same bytes twice is a no-op and a name can never point at
different bytes. Writes go to a temp file in the same folder and land with
`os.replace`, so a reader sees either nothing or the whole file.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, storages

from sageconnect.crashpoints import crashpoint


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_name(digest: str, suffix: str = ".xml") -> str:
    return f"{digest[:2]}/{digest}{suffix}"


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that no reader ever sees a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(descriptor, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        crashpoint("cfdi_store:before_rename")
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


class AtomicFileSystemStorage(FileSystemStorage):
    """FileSystemStorage whose saves are temp file + os.replace, and overwrite."""

    def _save(self, name: str, content) -> str:
        content.seek(0)
        write_atomically(Path(self.path(name)), content.read())
        return name

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        # Content addressing: the same name means the same bytes, so no suffix.
        return name


def cfdi_storage():
    return storages["cfdi"]


def store_original(xml_bytes: bytes, storage=None) -> str:
    """Store the bytes (once) and return their sha256."""
    digest = sha256_hex(xml_bytes)
    storage = storage or cfdi_storage()
    name = content_name(digest)
    if not storage.exists(name):
        if isinstance(storage, FileSystemStorage) and not isinstance(storage, AtomicFileSystemStorage):
            # Django's FileSystemStorage writes in place; keep the atomic
            # guarantee whatever backend the settings name for local files.
            write_atomically(Path(storage.path(name)), xml_bytes)
        else:
            storage.save(name, ContentFile(xml_bytes))
    return digest


def read_original(digest: str) -> bytes:
    with cfdi_storage().open(content_name(digest), "rb") as original:
        return original.read()


def original_path(digest: str) -> Path:
    return Path(cfdi_storage().path(content_name(digest)))
