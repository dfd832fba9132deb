from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from cryptography import x509
from tests.proto.passkit.passkit_helpers import PASS_TYPE, TEAM, make_content

from passgate.domain.errors import ValidationError
from passgate.proto.passkit import (
    DevChain,
    PassSigner,
    PkpassError,
    build_manifest,
    build_pass_json,
    build_pkpass,
    default_images,
    make_dev_chain,
    verify_pkpass,
)
from passgate.proto.passkit.archive import MAX_ARCHIVE_BYTES, read_archive

Rezip = Callable[[dict[str, bytes]], bytes]


def _files(pkpass: bytes) -> dict[str, bytes]:
    return read_archive(pkpass)


def test_accepts_a_good_pass(
    pkpass: bytes, root: x509.Certificate, now: datetime, pass_files: dict[str, bytes]
) -> None:
    verified = verify_pkpass(pkpass, trusted_roots=[root], pass_type_identifier=PASS_TYPE, now=now)
    assert verified.pass_json["serialNumber"] == "serial-0001"
    assert verified.files == pass_files
    assert verified.signing_time == now
    uid = verified.signer_certificate.subject.get_attributes_for_oid(x509.NameOID.USER_ID)
    assert uid[0].value == PASS_TYPE


def test_accepts_library_built_signature(
    pass_files: dict[str, bytes], signer: PassSigner, root: x509.Certificate, now: datetime
) -> None:
    pkpass = build_pkpass(pass_files, signer)
    verified = verify_pkpass(pkpass, trusted_roots=[root], now=now)
    assert verified.signing_time is not None
    assert abs(verified.signing_time - now) < timedelta(days=1)


def test_archive_layout_is_deterministic(
    pkpass: bytes, pass_files: dict[str, bytes], signer: PassSigner, now: datetime
) -> None:
    assert build_pkpass(pass_files, signer, signing_time=now) == pkpass
    with zipfile.ZipFile(io.BytesIO(pkpass)) as archive:
        names = archive.namelist()
        times = {info.date_time for info in archive.infolist()}
    assert names == [*sorted(pass_files), "manifest.json", "signature"]
    assert times == {(1980, 1, 1, 0, 0, 0)}


def test_manifest_format(pass_files: dict[str, bytes]) -> None:
    manifest = json.loads(build_manifest({"b.png": b"b", "a.json": b""}))
    assert list(manifest) == ["a.json", "b.png"]
    assert manifest["a.json"] == "da39a3ee5e6b4b0d3255bfef95601890afd80709"
    assert manifest["b.png"] == "e9d71f5ee7c92d6dc9e92ffdad17b8bd49418f98"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("pass.json", "does not match its manifest.json hash"),
        ("icon.png", "does not match its manifest.json hash"),
        ("manifest.json", "does not match the signed digest"),
        ("signature", "does not verify with the signer certificate"),
    ],
)
def test_rejects_one_changed_byte_in_each_file(
    pkpass: bytes, root: x509.Certificate, now: datetime, rezip: Rezip, name: str, reason: str
) -> None:
    files = _files(pkpass)
    changed = bytearray(files[name])
    # The last byte: inside the RSA signature value for "signature", inside the data
    # (not the padding) for the others.
    changed[-1] ^= 0x01
    files[name] = bytes(changed)
    with pytest.raises(PkpassError, match=reason):
        verify_pkpass(rezip(files), trusted_roots=[root], now=now)


def test_rejects_extra_file(
    pkpass: bytes, root: x509.Certificate, now: datetime, rezip: Rezip
) -> None:
    files = _files(pkpass) | {"strip.png": b"unsigned"}
    with pytest.raises(PkpassError, match="does not list"):
        verify_pkpass(rezip(files), trusted_roots=[root], now=now)


def test_rejects_missing_file(
    pkpass: bytes, root: x509.Certificate, now: datetime, rezip: Rezip
) -> None:
    files = _files(pkpass)
    del files["logo.png"]
    with pytest.raises(PkpassError, match="missing"):
        verify_pkpass(rezip(files), trusted_roots=[root], now=now)


@pytest.mark.parametrize("name", ["manifest.json", "signature", "pass.json", "icon.png"])
def test_rejects_missing_essential_file(
    pkpass: bytes, root: x509.Certificate, now: datetime, rezip: Rezip, name: str
) -> None:
    files = _files(pkpass)
    del files[name]
    with pytest.raises(PkpassError):
        verify_pkpass(rezip(files), trusted_roots=[root], now=now)


def test_rejects_untrusted_chain(pkpass: bytes, other_chain: DevChain, now: datetime) -> None:
    stranger = x509.load_pem_x509_certificate(other_chain.root_pem)
    with pytest.raises(PkpassError, match="trusted root"):
        verify_pkpass(pkpass, trusted_roots=[stranger], now=now)
    with pytest.raises(PkpassError, match="no trusted root"):
        verify_pkpass(pkpass, trusted_roots=[], now=now)


def test_rejects_pass_signed_by_stranger_with_our_wwdr_name(
    pass_files: dict[str, bytes], other_chain: DevChain, root: x509.Certificate, now: datetime
) -> None:
    stranger = PassSigner.from_pem(
        other_chain.pass_cert_pem, other_chain.pass_key_pem, other_chain.wwdr_pem
    )
    forged = build_pkpass(pass_files, stranger, signing_time=now)
    with pytest.raises(PkpassError, match="trusted root"):
        verify_pkpass(forged, trusted_roots=[root], now=now)


def test_rejects_wrong_pass_type_identifier(
    pkpass: bytes, root: x509.Certificate, now: datetime
) -> None:
    with pytest.raises(PkpassError, match="expected pass type"):
        verify_pkpass(pkpass, trusted_roots=[root], pass_type_identifier="pass.com.other", now=now)


def test_rejects_pass_json_for_another_type_than_the_certificate(
    signer: PassSigner, root: x509.Certificate, now: datetime
) -> None:
    files = {
        "pass.json": build_pass_json(make_content(pass_type_identifier="pass.com.other")),
        **default_images(),
    }
    pkpass = build_pkpass(files, signer, signing_time=now)
    with pytest.raises(PkpassError, match="signer certificate"):
        verify_pkpass(pkpass, trusted_roots=[root], now=now)


def test_rejects_expired_and_not_yet_valid(
    pkpass: bytes, root: x509.Certificate, now: datetime
) -> None:
    with pytest.raises(PkpassError, match="expired"):
        verify_pkpass(pkpass, trusted_roots=[root], now=now + timedelta(days=400))
    with pytest.raises(PkpassError, match="not valid yet"):
        verify_pkpass(pkpass, trusted_roots=[root], now=now - timedelta(days=1))


def test_rejects_expired_chain_made_in_the_past(
    pass_files: dict[str, bytes], now: datetime
) -> None:
    old = make_dev_chain(
        pass_type_identifier=PASS_TYPE, team_identifier=TEAM, now=now - timedelta(days=30),
        valid_days=10,
    )  # fmt: skip
    signer = PassSigner.from_pem(old.pass_cert_pem, old.pass_key_pem, old.wwdr_pem)
    pkpass = build_pkpass(pass_files, signer, signing_time=now)
    old_root = x509.load_pem_x509_certificate(old.root_pem)
    with pytest.raises(PkpassError, match="signer certificate has expired"):
        verify_pkpass(pkpass, trusted_roots=[old_root], now=now)


def _raw_zip(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name), data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "name", ["../evil.png", "/etc/passwd", "a/../../b", "a\\..\\b", "C:evil", "a//b", "./x"]
)
def test_rejects_path_traversal(pkpass: bytes, root: x509.Certificate, name: str) -> None:
    entries = [*_files(pkpass).items(), (name, b"x")]
    with pytest.raises(PkpassError, match="unsafe entry"):
        verify_pkpass(_raw_zip(entries), trusted_roots=[root])


def test_rejects_duplicate_names(pkpass: bytes, root: x509.Certificate) -> None:
    entries = [*_files(pkpass).items(), ("pass.json", b"{}")]
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = _raw_zip(entries)
    with pytest.raises(PkpassError, match="same file name twice"):
        verify_pkpass(data, trusted_roots=[root])


def test_rejects_oversize_and_zip_bombs(root: x509.Certificate) -> None:
    with pytest.raises(PkpassError, match="size limit"):
        verify_pkpass(b"\0" * (MAX_ARCHIVE_BYTES + 1), trusted_roots=[root])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("pass.json", b"\0" * (MAX_ARCHIVE_BYTES + 1))
    assert len(buffer.getvalue()) < 100_000
    with pytest.raises(PkpassError, match="size limit"):
        verify_pkpass(buffer.getvalue(), trusted_roots=[root])


def test_rejects_lying_size_header(pkpass: bytes, root: x509.Certificate) -> None:
    data = bytearray(pkpass)
    # Corrupt the first entry's compressed data: zipfile's CRC check must catch it.
    data[60] ^= 0xFF
    with pytest.raises(PkpassError):
        verify_pkpass(bytes(data), trusted_roots=[root])


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"../x": b""}, "path traversal"),
        ({"/abs.png": b""}, "absolute"),
        ({"manifest.json": b"{}"}, "computed by the builder"),
        ({"Signature": b""}, "computed by the builder"),
        ({"pass.json": b"{}"}, "icon.png"),
    ],
)
def test_build_refuses_bad_files(signer: PassSigner, files: dict[str, bytes], message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        build_pkpass(files, signer)
    assert info.value.field == "files"
