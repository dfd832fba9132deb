"""AES-256-GCM sealing of secrets the server must read back (webhook signing secrets)."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from passgate.domain.errors import PassgateError


class AesGcmSecretBox:
    def __init__(self, server_secret: bytes) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"passgate", info=b"secretbox v1"
        ).derive(server_secret)
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes) -> str:
        nonce = os.urandom(12)
        return (
            "v1."
            + base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, plaintext, None)).decode()
        )

    def open(self, sealed: str) -> bytes:
        version, _, body = sealed.partition(".")
        try:
            raw = base64.urlsafe_b64decode(body)
            if version != "v1" or len(raw) < 28:
                raise ValueError("bad format")
            return self._aead.decrypt(raw[:12], raw[12:], None)
        except (ValueError, InvalidTag) as exc:
            raise PassgateError(
                "a stored secret cannot be decrypted: was PASSGATE_SECRET_KEY changed?",
                code="secret_unreadable",
            ) from exc
