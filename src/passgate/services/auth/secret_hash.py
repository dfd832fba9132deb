"""The one-way hash under which API keys and session secrets are stored.

Its own module so that API keys and sessions both use it without importing each
other (authentication resolves sessions; sessions hash like keys).
"""

from __future__ import annotations

import hashlib


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
