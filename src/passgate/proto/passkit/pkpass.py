"""Building and verifying a whole .pkpass: files + manifest.json + signature, zipped.

The manifest lists the SHA-1 of every other file and is what gets signed, so a
verifier must tie the two together both ways: every listed file present with that
hash, and no file present that the manifest does not list (an unlisted file would
be content nobody signed).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509

from passgate.errors import ValidationError
from passgate.proto.passkit.archive import read_archive, write_archive
from passgate.proto.passkit.chain import ChainError, leaf_usage_problem, verify_chain
from passgate.proto.passkit.cms import verify_detached_signature
from passgate.proto.passkit.errors import PkpassError
from passgate.proto.passkit.names import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    is_reserved,
    name_problem,
)
from passgate.proto.passkit.signing import PassSigner

MIME_TYPE = "application/vnd.apple.pkpass"
REQUIRED_FILES = ("pass.json", "icon.png")
_JSON_ERRORS = (ValueError, RecursionError)


def _sha1_hex(data: bytes) -> str:
    # SHA-1 because the pkpass format fixes it; integrity rests on the SHA-256 signature
    # over the manifest, not on these per-file hashes alone.
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def build_manifest(files: Mapping[str, bytes]) -> bytes:
    """manifest.json: file name -> SHA-1 hex, sorted keys, compact JSON."""
    manifest = {name: _sha1_hex(bytes(data)) for name, data in files.items()}
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _check_files(files: Mapping[str, bytes]) -> None:
    for name, data in files.items():
        if not isinstance(name, str):
            raise ValidationError("file names must be strings", field="files")
        problem = name_problem(name)
        if problem is not None:
            raise ValidationError(f"{problem}: {name!r}", field="files")
        if is_reserved(name):
            raise ValidationError(f"{name!r} is computed by the builder", field="files")
        if not isinstance(data, bytes | bytearray):
            raise ValidationError(f"content of {name!r} must be bytes", field="files")
    missing = [name for name in REQUIRED_FILES if name not in files]
    if missing:
        raise ValidationError(f"a pass needs {', '.join(missing)}", field="files")


def build_pkpass(
    files: Mapping[str, bytes], signer: PassSigner, *, signing_time: datetime | None = None
) -> bytes:
    """The signed .pkpass ZIP for ``files`` (pass.json, images, ...).

    Give ``signing_time`` to keep this pure; without it the signature library stamps
    the current time (see ``signing``).
    """
    _check_files(files)
    manifest = build_manifest(files)
    signature = signer.sign_manifest(manifest, signing_time=signing_time)
    entries = [(name, bytes(files[name])) for name in sorted(files)]
    entries += [(MANIFEST_NAME, manifest), (SIGNATURE_NAME, signature)]
    return write_archive(entries)


@dataclass(frozen=True)
class VerifiedPass:
    """A .pkpass whose signature, manifest and certificate path all checked out."""

    pass_json: dict[str, Any]
    files: dict[str, bytes]
    signer_certificate: x509.Certificate
    signing_time: datetime | None


def _load_json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except _JSON_ERRORS as exc:
        raise PkpassError(f"{what} is not valid UTF-8 JSON") from exc
    if not isinstance(value, dict):
        raise PkpassError(f"{what} is not a JSON object")
    return value


def _check_manifest(manifest: dict[str, Any], files: Mapping[str, bytes]) -> None:
    listed = set(manifest)
    present = {name for name in files if name not in (MANIFEST_NAME, SIGNATURE_NAME)}
    if listed - present:
        raise PkpassError("a file listed in manifest.json is missing")
    if present - listed:
        raise PkpassError("the archive holds a file manifest.json does not list")
    for name in sorted(present):
        expected = manifest[name]
        if not isinstance(expected, str):
            raise PkpassError("manifest.json hashes must be strings")
        if not hmac.compare_digest(expected.lower().encode(), _sha1_hex(files[name]).encode()):
            raise PkpassError(f"{name!r} does not match its manifest.json hash")


def _certificate_names(certificate: x509.Certificate) -> set[str]:
    """Pass type identifiers a certificate speaks for: its UID, and its CN's suffix."""
    names = set()
    for attribute in certificate.subject.get_attributes_for_oid(x509.NameOID.USER_ID):
        names.add(str(attribute.value))
    for attribute in certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME):
        common_name = str(attribute.value)
        if common_name.startswith("Pass Type ID: "):
            names.add(common_name.removeprefix("Pass Type ID: "))
    return names


def verify_pkpass(
    data: bytes,
    *,
    trusted_roots: Sequence[x509.Certificate],
    pass_type_identifier: str | None = None,
    now: datetime | None = None,
) -> VerifiedPass:
    """Fully verify a .pkpass as Wallet would; PkpassError for anything wrong.

    Certificate validity periods are checked only when ``now`` is given: without a
    time there is nothing to check them against (this module never reads the clock).
    """
    files = read_archive(data)
    for name in (MANIFEST_NAME, SIGNATURE_NAME, *REQUIRED_FILES):
        if name not in files:
            raise PkpassError(f"the pass has no {name}")
    manifest_bytes = files[MANIFEST_NAME]
    signature = verify_detached_signature(files[SIGNATURE_NAME], manifest_bytes)
    signer = signature.signer_certificate
    usage_problem = leaf_usage_problem(signer)
    if usage_problem is not None:
        raise PkpassError(usage_problem)
    try:
        verify_chain(signer, signature.certificates, trusted_roots, now=now)
    except ChainError as exc:
        raise PkpassError(str(exc)) from exc
    _check_manifest(_load_json_object(manifest_bytes, MANIFEST_NAME), files)
    pass_json = _load_json_object(files["pass.json"], "pass.json")
    if pass_json.get("formatVersion") != 1:
        raise PkpassError("pass.json formatVersion must be 1")
    declared = pass_json.get("passTypeIdentifier")
    # Wallet binds pass.json to the certificate: a certificate for one pass type must
    # not be able to sign passes of another.
    if not isinstance(declared, str) or declared not in _certificate_names(signer):
        raise PkpassError("pass.json passTypeIdentifier is not the signer certificate's")
    if pass_type_identifier is not None and declared != pass_type_identifier:
        raise PkpassError("the pass is not of the expected pass type")
    content = {k: v for k, v in files.items() if k not in (MANIFEST_NAME, SIGNATURE_NAME)}
    return VerifiedPass(
        pass_json=pass_json,
        files=content,
        signer_certificate=signer,
        signing_time=signature.signing_time,
    )
