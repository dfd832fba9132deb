"""Rules for the names of files inside a .pkpass.

Shared by the builder (which refuses bad names from its caller) and the reader
(which refuses them from a stranger), so both sides agree on what a safe name is.
A name is a relative POSIX path: anything that could climb out of an extraction
directory or mean different things on different systems is refused outright.
"""

from __future__ import annotations

MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "signature"
RESERVED_NAMES = frozenset({MANIFEST_NAME, SIGNATURE_NAME})
MAX_NAME_LENGTH = 255


def name_problem(name: str) -> str | None:
    """Why ``name`` is not a safe relative file path, or None when it is.

    A trailing slash is not accepted here; directory entries are handled by the
    ZIP reader before calling this.
    """
    if not name:
        return "empty file name"
    if len(name) > MAX_NAME_LENGTH:
        return "file name too long"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        return "control character in file name"
    # Backslashes and drive letters are path separators on Windows; a name that is
    # harmless here could still traverse on a machine that extracts the archive.
    if "\\" in name or ":" in name:
        return "backslash or colon in file name"
    if name.startswith("/"):
        return "absolute file name"
    for part in name.split("/"):
        if part in ("", ".", ".."):
            return "path traversal or empty segment in file name"
    return None


def is_reserved(name: str) -> bool:
    """True for names the pkpass format computes itself (case-insensitively).

    Case-insensitive because a ZIP extracted on a case-insensitive file system would
    let "Signature" overwrite "signature".
    """
    return name.lower() in RESERVED_NAMES
