"""The one exception the .pkpass verifier lets out.

A pass we did not build is untrusted input: whatever is wrong with it (not a ZIP,
a forged signature, a certificate from a stranger) ends as a ``PkpassError`` so the
caller has a single thing to catch and turn into a refusal.
"""

from __future__ import annotations

from passgate.errors import RemoteProtocolError


class PkpassError(RemoteProtocolError):
    """A .pkpass (or its signature) is malformed, tampered with or not trusted."""

    code = "invalid_pkpass"
