"""Certificate path checks for pass signatures, in Python, with an explicit time.

A pass is trusted when its signer certificate leads, through CA certificates that
came inside the signature, to one of the caller's trusted roots. Each link is
checked by name and by signature (``verify_directly_issued_by``); each issuer must
be a CA, so a pass certificate cannot sign another one; when a time is given, every
certificate on the path must be valid at that time.

Deliberately not done: revocation (OCSP/CRL needs the network), name constraints
and policy processing (Apple's pass PKI uses neither).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes

MAX_PATH_LENGTH = 6
_LINK_ERRORS = (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm)


class ChainError(Exception):
    """The certificate path is broken; callers wrap it in their own protocol error."""


def fingerprint(certificate: x509.Certificate) -> bytes:
    return certificate.fingerprint(hashes.SHA256())


# Extensions are parsed lazily, on first access: ones that do not parse, or the same
# extension twice (RFC 5280 4.2 forbids it), make the certificate one we cannot trust.
_BAD_EXTENSIONS = (ValueError, x509.DuplicateExtension)


def is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    except _BAD_EXTENSIONS:
        return False
    return constraints.value.ca


def issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when ``issuer``'s name and key signed ``certificate``."""
    try:
        certificate.verify_directly_issued_by(issuer)
    except _LINK_ERRORS:
        return False
    return True


def validity_problem(certificate: x509.Certificate, now: datetime, label: str) -> str | None:
    moment = now.astimezone(UTC)
    if moment < certificate.not_valid_before_utc:
        return f"{label} is not valid yet (valid from {certificate.not_valid_before_utc:%Y-%m-%d})"
    if moment > certificate.not_valid_after_utc:
        return f"{label} has expired (valid until {certificate.not_valid_after_utc:%Y-%m-%d})"
    return None


def _check_path_lengths(path: Sequence[x509.Certificate]) -> None:
    # path[i] (i >= 1) issued path[i - 1]; below it sit i - 1 intermediate CAs, which its
    # pathLenConstraint may cap (the WWDR intermediate has 0: it issues leaves only).
    for index, issuer in enumerate(path[1:], start=1):
        constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
        if constraints.path_length is not None and index - 1 > constraints.path_length:
            raise ChainError("an issuing certificate's path length constraint is exceeded")


def leaf_usage_problem(certificate: x509.Certificate) -> str | None:
    """Why ``certificate`` may not sign data (a key usage without digitalSignature)."""
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    except _BAD_EXTENSIONS:
        return "the signer certificate's extensions are malformed"
    if not usage.digital_signature:
        return "the signer certificate's key usage does not allow signatures"
    return None


def verify_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    trusted_roots: Sequence[x509.Certificate],
    *,
    now: datetime | None = None,
) -> list[x509.Certificate]:
    """The path from ``leaf`` to a trusted root (both included), or ChainError."""
    if not trusted_roots:
        raise ChainError("no trusted root certificates were given")
    trusted = {fingerprint(root): root for root in trusted_roots}
    path = [leaf]
    seen = {fingerprint(leaf)}
    current = leaf
    while fingerprint(current) not in trusted:
        if len(path) >= MAX_PATH_LENGTH:
            raise ChainError("certificate path is too long")
        # Trusted roots first: a path that can end at once should, whatever else the
        # signature carries.
        candidates = [*trusted_roots, *intermediates]
        issuer = next(
            (
                cand
                for cand in candidates
                if fingerprint(cand) not in seen and is_ca(cand) and issued_by(current, cand)
            ),
            None,
        )
        if issuer is None:
            raise ChainError("the signer certificate does not chain to a trusted root")
        path.append(issuer)
        seen.add(fingerprint(issuer))
        current = issuer
    _check_path_lengths(path)
    if now is not None:
        for index, certificate in enumerate(path):
            label = "the signer certificate" if index == 0 else "an issuing certificate"
            problem = validity_problem(certificate, now, label)
            if problem is not None:
                raise ChainError(problem)
    return path
