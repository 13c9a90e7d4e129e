"""Encryption at rest for channel secrets (tokens, app passwords), with key rotation.

Keys come from ``settings.FERNET_KEYS`` (``HUMAS_FERNET_KEYS``, comma-separated): the first
key encrypts, every key decrypts. To rotate: make a key with ``humas newkey``, put it first
and keep the old ones after it; values are re-encrypted under the new key with
``humas rotatekeys`` (which calls :func:`rotate` for every stored channel secret), after
which the old key can be dropped.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class DecryptionError(Exception):
    """A stored value cannot be read with any configured key."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise DecryptionError("no encryption key is configured")
    return MultiFernet([Fernet(k.encode()) for k in keys])


def _current() -> MultiFernet:
    from django.conf import settings

    return _fernet(tuple(settings.FERNET_KEYS))


def new_key() -> str:
    return Fernet.generate_key().decode()


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError(
            "the value was encrypted with a key that is no longer configured"
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt ``token`` under the first (newest) key."""
    try:
        return _current().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("the value cannot be read with any configured key") from exc


def encrypt_json(data: dict[str, Any]) -> str:
    return encrypt(json.dumps(data, separators=(",", ":")))


def decrypt_json(token: str) -> dict[str, Any]:
    value = json.loads(decrypt(token))
    if not isinstance(value, dict):
        raise DecryptionError("the stored secret is not an object")
    return value
