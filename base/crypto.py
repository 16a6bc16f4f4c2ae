"""Encryption of secrets at rest (client secrets, certificate keys, passwords, access keys).

Uses Fernet from `cryptography` with every key of ``settings.PORTAL_ENCRYPTION_KEY`` (comma-separated): the first
key encrypts, all keys decrypt, so a key is rotated by putting the new one first and running
``python manage.py rotate_encryption_key``.
"""
from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """A stored secret could not be decrypted with any configured key (the key was changed without rotation)."""


@lru_cache(maxsize=4)
def _fernet(keys: str) -> MultiFernet:
    return MultiFernet([Fernet(key.strip()) for key in keys.split(",") if key.strip()])


def fernet() -> MultiFernet:
    """Return the MultiFernet built from the configured keys."""
    return _fernet(settings.PORTAL_ENCRYPTION_KEY)


def encrypt(plaintext: str) -> str:
    """Encrypt ``plaintext`` with the first key; returns a url-safe token (str). Empty text stays empty."""
    if plaintext == "":
        return ""
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt a token made by :func:`encrypt`. Raises SecretUnreadable when no configured key fits."""
    if token == "":
        return ""
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "A stored secret cannot be decrypted with PORTAL_ENCRYPTION_KEY; restore the old key (after the new one) "
            "or enter the secret again."
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt a token with the first key (see MultiFernet.rotate). Raises SecretUnreadable as decrypt does."""
    if token == "":
        return ""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("A stored secret cannot be decrypted with any configured key.") from None
