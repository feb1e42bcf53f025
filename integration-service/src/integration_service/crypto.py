"""Secrets at rest: source credentials and webhook secrets, encrypted with keys from the
environment (Fernet; several keys rotate through MultiFernet, the first encrypts)."""
from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretsUnavailableError(RuntimeError):
    """No key is configured (INTEGRATION_SERVICE_CREDENTIALS_KEY), or the data was encrypted
    with a key no longer configured."""


class SecretBox:
    """Encrypts and decrypts JSON values with the configured keys."""

    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        self._fernet = MultiFernet([Fernet(k.encode()) for k in parts]) if parts else None

    @property
    def available(self) -> bool:
        return self._fernet is not None

    def _require(self) -> MultiFernet:
        if self._fernet is None:
            raise SecretsUnavailableError("no credentials key configured "
                                          "(INTEGRATION_SERVICE_CREDENTIALS_KEY)")
        return self._fernet

    def seal(self, value: Any) -> bytes:
        return self._require().encrypt(json.dumps(value, sort_keys=True).encode())

    def open(self, token: bytes | None) -> Any:
        if token is None:
            return None
        try:
            return json.loads(self._require().decrypt(bytes(token)))
        except InvalidToken as exc:
            raise SecretsUnavailableError("secret encrypted with a key not configured") from exc

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt ``token`` with the first key (after adding a new key in front)."""
        return self._require().rotate(bytes(token))


def new_key() -> str:
    return Fernet.generate_key().decode()
