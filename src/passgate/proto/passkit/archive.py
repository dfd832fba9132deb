"""Writing and reading the ZIP container of a .pkpass, defensively.

Writing is deterministic (sorted names, fixed timestamps and attributes) so the same
files always give the same archive bytes. Reading treats the archive as hostile:
bounded total size and entry count, no duplicate or unsafe names, no encryption,
only stored or deflated entries, and never more bytes decompressed than declared.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterable

from passgate.proto.passkit.errors import PkpassError
from passgate.proto.passkit.names import name_problem

MAX_ARCHIVE_BYTES = 10 * 1024 * 1024
MAX_ENTRIES = 256
# 1980-01-01 is the earliest time a ZIP can record; any fixed value makes output stable.
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_ALLOWED_COMPRESSION = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    RuntimeError,
    EOFError,
    OSError,
    ValueError,
    struct.error,
    zlib.error,
    IndexError,
    KeyError,
)


def write_archive(entries: Iterable[tuple[str, bytes]]) -> bytes:
    """A ZIP of ``entries`` in the given order, with fixed metadata."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the permission bits below mean what they say
            info.external_attr = 0o100644 << 16
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


def _check_entry(info: zipfile.ZipInfo, seen: set[str]) -> None:
    name = info.filename
    if name in seen:
        raise PkpassError("the archive holds the same file name twice")
    seen.add(name)
    problem = name_problem(name[:-1] if name.endswith("/") else name)
    if problem is not None:
        raise PkpassError(f"unsafe entry in archive: {problem}")
    if info.flag_bits & 0x1:
        raise PkpassError("the archive holds an encrypted entry")
    if info.compress_type not in _ALLOWED_COMPRESSION:
        raise PkpassError("the archive uses an unsupported compression method")


def _read_entries(data: bytes) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise PkpassError("the archive holds too many entries")
        seen: set[str] = set()
        total = 0
        for info in infos:
            _check_entry(info, seen)
            total += info.file_size
            if total > MAX_ARCHIVE_BYTES:
                raise PkpassError("the archive expands beyond the size limit")
        for info in infos:
            if info.filename.endswith("/"):
                if info.file_size != 0:
                    raise PkpassError("a directory entry holds data")
                continue
            with archive.open(info) as member:
                # Ask for one byte more than declared: zipfile stops at the declared
                # size and checks the CRC once it reaches the end.
                content = member.read(info.file_size + 1)
            if len(content) != info.file_size:
                raise PkpassError("an entry's size does not match its header")
            files[info.filename] = content
    return files


def read_archive(data: bytes) -> dict[str, bytes]:
    """File name -> content for every file entry of the ZIP in ``data``."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise PkpassError("a .pkpass must be bytes")
    if len(data) > MAX_ARCHIVE_BYTES:
        raise PkpassError("the archive is larger than the size limit")
    try:
        return _read_entries(bytes(data))
    except _ZIP_ERRORS as exc:
        raise PkpassError("the data is not a readable ZIP archive") from exc
