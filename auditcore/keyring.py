"""Encryption at rest of endpoint API keys, with a key derived from ENDPOINT_KEYS_SECRET."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# Binds the derived key to this one use, so the same secret reused elsewhere yields another key.
_INFO = b"refusal-audit endpoint api keys v1"


class KeyringError(RuntimeError):
    """No secret is configured, or a stored key was encrypted under another secret."""


def _fernet() -> Fernet:
    secret = getattr(settings, "ENDPOINT_KEYS_SECRET", None)
    if not secret:
        raise KeyringError(
            "ENDPOINT_KEYS_SECRET is not set: the server cannot store or read endpoint API keys"
        )
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def key_encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode("ascii")


def key_decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        raise KeyringError(
            "the stored API key cannot be decrypted with the current ENDPOINT_KEYS_SECRET; "
            "enter the key again on the endpoints page"
        ) from None
