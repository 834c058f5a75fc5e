"""Encryption at rest for credentials (provider keys, GitLab tokens): Fernet under keys from the environment.

FIELD_ENCRYPTION_KEYS holds one or more urlsafe-base64 Fernet keys; the first encrypts, all decrypt
(MultiFernet), so a key can be rotated. Never SECRET_KEY: rotating one must not lose the other."""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionError(Exception):
    pass


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt_text(plaintext: str) -> str:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS)).encrypt(plaintext.encode()).decode()


def decrypt_text(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS)).decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("stored credential cannot be decrypted with FIELD_ENCRYPTION_KEYS") from None
