"""Encryption at rest for tenant credentials.

Keys come from settings.FERNET_KEYS, newest first. MultiFernet decrypts with
any of them and encrypts with the first, so a new key is put in front, then
`manage.py rotate_secrets` re-encrypts every value, then the old key can go.
"""
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "fernet:"


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "SAGECONNECT_FERNET_KEYS holds a value that is not a Fernet key "
            "(32 url-safe base64-encoded bytes; make one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)."
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FERNET_KEYS))


def encrypt(plain: str) -> str:
    if not plain:
        return ""
    return PREFIX + fernet().encrypt(plain.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored:
        return ""
    if not stored.startswith(PREFIX):
        raise ImproperlyConfigured("A stored secret is not encrypted; run `manage.py rotate_secrets`.")
    try:
        return fernet().decrypt(stored[len(PREFIX):].encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with any key in SAGECONNECT_FERNET_KEYS: "
            "the key it was written with is missing."
        ) from exc


def rotate(stored: str) -> str:
    if not stored:
        return ""
    return PREFIX + fernet().rotate(stored[len(PREFIX):].encode()).decode()
