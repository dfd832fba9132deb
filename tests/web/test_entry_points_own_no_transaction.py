"""Routes and workers never open a unit of work: each command and query of services/
checks the caller's role, owns its transaction and reads the clock, and the entry points
only translate (docs/architecture.md, "Who owns the transaction").

The type checker already refuses it (``services.container.Container``, the entry
points' view of the container, has no ``uow_factory``); this check also catches an
untyped way round it. It reads the source of web/ and worker/ (and cli.py) and finds
every use of a ``uow_factory`` attribute: a ``with c.uow_factory(...)`` block, or the
factory handed to a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import passgate

SRC = Path(passgate.__file__).parent
ROOTS = (SRC / "web", SRC / "worker", SRC / "cli.py")


def _uses(source: str, name: str) -> set[tuple[str, str]]:
    """(file, innermost enclosing function) of each ``.uow_factory`` in the source."""
    tree = ast.parse(source, filename=name)
    found: set[tuple[str, str]] = set()

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if isinstance(node, ast.Attribute) and node.attr == "uow_factory":
            found.add((name, function))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "<module>")
    return found


def _all_uses() -> set[tuple[str, str]]:
    files = [p for root in ROOTS for p in ([root] if root.is_file() else root.rglob("*.py"))]
    assert len(files) > 20  # the scan really reads the entry points
    return {
        use
        for path in files
        for use in _uses(path.read_text(encoding="utf-8"), path.relative_to(SRC).as_posix())
    }


def test_no_route_or_worker_opens_a_unit_of_work() -> None:
    found = sorted(_all_uses())
    assert not found, (
        "these open a unit of work themselves; call a service command or query that owns "
        f"its transaction instead: {found}"
    )


def test_the_scan_finds_a_use_where_there_is_one() -> None:
    source = (
        "def route(c):\n"
        "    with c.uow_factory('org', write=False) as uow:\n"
        "        pass\n"
        "async def other(c):\n"
        "    return run(c.container.uow_factory)\n"
    )
    assert _uses(source, "web/x.py") == {("web/x.py", "route"), ("web/x.py", "other")}
    assert _uses("def route(c):\n    return c.directory.rows()\n", "web/x.py") == set()
