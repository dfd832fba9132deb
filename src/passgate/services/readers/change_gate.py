"""When the reader hub must rebuild: from successive database change marks.

The mark itself (``Container.change_mark``) comes from the adapter: the WAL position on
PostgreSQL, the WAL file's size, time and header on SQLite, ``None`` when unknown.
"""

from __future__ import annotations

from collections.abc import Hashable


class ChangeGate:
    """Decides, from successive marks, whether a rebuild may find something new.

    ``should_build(mark)`` is True when the mark is unknown, when it moved since the
    last call, and once more on the first call at which it stands still (the rebuild
    that is sure to see every commit the mark counted); then False until it moves.
    """

    def __init__(self) -> None:
        self._seen: Hashable | None = None
        self._built: Hashable | None = None

    def should_build(self, mark: Hashable | None) -> bool:
        if mark is None:
            self._seen = self._built = None
            return True
        if mark != self._seen:
            self._seen = mark
            return True
        if mark != self._built:
            self._built = mark
            return True
        return False
