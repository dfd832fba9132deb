#!/usr/bin/env python3
"""Regroup src/passgate/services by area: the record of that move, safe to run again.

    python3 tools/regroup.py            # move and rewrite (from the repository root)
    python3 tools/regroup.py --check    # change nothing; exit 1 if anything would change

What it does, in this order, and only after checking that every step can be done
(otherwise it prints each problem as ``file:line: ...``, changes nothing and exits 2):

1. ``git mv`` each module of ``AREAS`` from ``services/<name>.py`` to
   ``services/<area>/<name>.py`` (module names stay, so every local name stays), creates
   each area's ``__init__.py``, and moves the service tests of ``TEST_AREAS`` from
   ``tests/services/`` to ``tests/services/<area>/`` (a test not in the table goes with
   the one area whose modules it imports; if it imports several, name it with
   ``--test-area FILE=AREA``).
2. Rewrites every reference to an old place in the files git tracks or would add under
   src/, tests/, docs/, scripts/, README.md, pyproject.toml, the Makefile, Dockerfile
   and compose.yaml:
   ``passgate.services.<old>`` wherever it appears (imports, strings such as
   monkeypatch targets and entry points, comments, docs, pyproject settings);
   ``from passgate.services import a, b as c`` (split by area, aliases kept);
   ``services.<old>`` and ``services/<old>[.py]`` in docs, comments and strings; and the
   moved tests' ``tests/services/<test>`` and ``tests.services.<test>``.
   The modules of ``MERGED`` were folded into another one by hand (their content
   moved in the commit before the first run); references to them are pointed there, as
   are imports of the ports of ``SYMBOLS`` from the modules that used to declare them.
3. Sorts and formats the Python files it changed with ruff (``--no-ruff`` skips it),
   wraps the comments it made too long and lists any string it made too long.

No area is named like any old module, so a rewritten reference never matches again:
running it on a tree already moved changes nothing, and on a tree that has gained code
importing the old paths it rewrites only that code. A module found flat in services/
that is neither in ``AREAS`` nor in ``KERNEL`` stops the run: decide its place here.
"""

from __future__ import annotations

import argparse
import ast
import io
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tokenize
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "passgate.services"
SERVICES = Path("src/passgate/services")
SERVICE_TESTS = Path("tests/services")

# area -> (what it is, the modules it holds)
AREAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "auth": (
        "Who is calling: API keys, member sessions, the hash their secrets are stored under.",
        ("apikeys", "secret_hash", "sessions"),
    ),
    "signin": (
        "How members sign in: the SSO connection, browser and app logins, the IdP's answer.",
        ("sso", "sso_app", "sso_login", "sso_verify"),
    ),
    "directory": (
        "The organization's configuration objects, SCIM provisioning, a member's own view.",
        ("catalog", "commands", "doors", "event_log", "me", "members", "scim"),
    ),
    "credentials": (
        "What opens doors: Apple Passes, Wallet, PassKit, app credentials, Aliro groups.",
        (
            "aliro_groups",
            "app_credentials",
            "pass_admin",
            "pass_effects",
            "pass_files",
            "pass_list",
            "pass_pushes",
            "passes",
            "passkit_service",
            "wallet",
        ),
    ),
    "readers": (
        "The reader link: pairing, signed cache content, reader events, hub rebuilds.",
        (
            "cache_rows",
            "door_commands",
            "pairing",
            "reader_events",
            "reader_gateway",
            "reader_rollout",
            "reader_state",
        ),
    ),
    "delivery": (
        "Webhook subscriptions and the delivery of queued webhook messages.",
        ("webhooks",),
    ),
}

# Flat at services/: the kernel every area stands on, and the modules that stand on
# every area (container: what entry points may ask of the composition root; seed: the
# demo organization; reader_hub: the connected readers of a process, run on the Container).
KERNEL = (
    "actors",
    "authz",
    "container",
    "events",
    "organizations",
    "paging",
    "ports",
    "rate_limit",
    "resources",
    "reader_hub",
    "retention",
    "seed",
)

# Modules folded by hand into another module (every name they defined lives there).
MERGED = {"reader_store": "ports", "sso_ports": "ports"}

# Ports once declared next to one use case, moved by hand to services/ports.py: an import
# of one from its old module (old or new path) is pointed to ports.
SYMBOLS = {
    "passes": ("KeyDirectory",),
    "passkit_service": ("StoredPass", "WalletDirectory"),
    "rate_limit": ("RateLimit",),
    "retention": ("RetentionStore",),
    "webhooks": ("HttpPoster",),
}

# tests/services/<file> -> area (tests of kernel modules stay in tests/services/).
TEST_AREAS = {
    "test_access_events.py": "readers",
    "test_app_credentials.py": "credentials",
    "test_pass_commands.py": "credentials",
    "test_retention.py": None,
    "test_sessions.py": "auth",
    "test_webhook_destinations.py": "delivery",
    "test_webhook_lanes.py": "delivery",
    "test_webhooks.py": "delivery",
}

LINE_LENGTH = 100  # ruff's line-length
ROOTS = ("src", "tests", "docs", "scripts")
TOP_FILES = ("README.md", "pyproject.toml", "Makefile", "Dockerfile", "compose.yaml")
SELF = Path("tools/regroup.py")
OK_MARK = "regroup: ok"  # a line carrying this is left alone by the dynamic-reference check


def module_map() -> dict[str, str]:
    """Old module name (under services) -> its new dotted tail under services."""
    out = {name: f"{area}.{name}" for area, (_, mods) in AREAS.items() for name in mods}
    out.update(MERGED)
    return out


MOVES = module_map()
AREA_OF = {name: area for area, (_, mods) in AREAS.items() for name in mods}
_OLD = "|".join(sorted(MOVES, key=len, reverse=True))

# passgate.services.<old>, anywhere
FULL_DOTTED = re.compile(rf"(?<![\w.])passgate\.services\.({_OLD})(?![\w])")
# services.<old> without the package (docs, comments, strings)
SHORT_DOTTED = re.compile(rf"(?<![\w.])services\.({_OLD})(?![\w])")
# services/<old>[.py] (paths: src/passgate/services/x.py, services/x)
PATH = re.compile(rf"(?<![\w.])services/({_OLD})(\.py)?(?![\w/])")
# passgate.services[.<area>].<module>.<moved port>
_AREAS = "|".join(sorted(AREAS))
SYMBOL_DOTTED = re.compile(
    rf"(?<![\w.])passgate\.services\.(?:(?:{_AREAS})\.)?({'|'.join(SYMBOLS)})\."
    rf"({'|'.join(sorted({n for names in SYMBOLS.values() for n in names}))})(?![\w])"
)
# A reference built at run time: cannot be followed.
DYNAMIC = re.compile(r"passgate\.services\.(?:[\"'{]|\s*\+)|passgate\.services\.\"")


@dataclass
class Problem:
    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


class Plan:
    def __init__(self) -> None:
        self.moves: list[tuple[Path, Path]] = []
        self.inits: list[tuple[Path, str]] = []
        self.writes: dict[Path, str] = {}  # keyed by the path after the moves
        self.problems: list[Problem] = []

    def problem(self, path: Path, line: int, what: str) -> None:
        self.problems.append(Problem(path, line, what))


# ---------------------------------------------------------------------------- moves


def plan_moves(plan: Plan, test_overrides: dict[str, str | None]) -> dict[str, str]:
    """Fill plan.moves; return the test moves as {old test stem: new dotted tail}."""
    for area in AREAS:
        if area in MOVES or area in KERNEL:
            plan.problem(SERVICES / area, 0, "an area may not be named like a module")
    for path in sorted(SERVICES.glob("*.py")):
        name = path.stem
        if name == "__init__":
            continue
        if name in MERGED:
            plan.problem(
                path,
                1,
                f"{name} was folded into services/{MERGED[name]}.py: move what it holds"
                " there by hand, then run again",
            )
        elif name in AREA_OF:
            target = SERVICES / AREA_OF[name] / path.name
            if target.exists():
                plan.problem(path, 1, f"both {path} and {target} exist: merge them by hand")
            else:
                plan.moves.append((path, target))
        elif name not in KERNEL:
            plan.problem(path, 1, f"services/{path.name} is in no area: add it to AREAS or KERNEL")
    for path in sorted(SERVICES.iterdir()):
        if path.is_dir() and path.name not in AREAS and path.name != "__pycache__":
            plan.problem(path, 0, "a package in services/ that is no area: add it to AREAS")
    for area, (doc, _) in AREAS.items():
        init = SERVICES / area / "__init__.py"
        if not init.exists():
            plan.inits.append((init, f'"""{doc}"""\n'))

    areas = dict(TEST_AREAS)
    areas.update(test_overrides)
    test_moves: dict[str, str] = {}
    if SERVICE_TESTS.is_dir():
        for path in sorted(SERVICE_TESTS.glob("test_*.py")):
            area = areas[path.name] if path.name in areas else infer_test_area(plan, path)
            if area is None:
                continue
            if area not in AREAS:
                plan.problem(path, 0, f"unknown area {area!r}")
                continue
            target = SERVICE_TESTS / area / path.name
            if target.exists():
                plan.problem(path, 1, f"both {path} and {target} exist: merge them by hand")
                continue
            plan.moves.append((path, target))
            test_moves[path.stem] = f"{area}.{path.stem}"
        # Tests moved by an earlier run: new code may still name their old place.
        for name, area in areas.items():
            if area in AREAS and (SERVICE_TESTS / area / name).exists():
                test_moves.setdefault(Path(name).stem, f"{area}.{Path(name).stem}")
    return test_moves


def infer_test_area(plan: Plan, path: Path) -> str | None:
    """A new service test goes with the one area whose modules it imports, if only one."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except SyntaxError as exc:
        plan.problem(path, exc.lineno or 0, f"cannot parse: {exc.msg}")
        return None
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [a.name for a in node.names] if node.module == PACKAGE else [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.removeprefix(PACKAGE + ".").split(".")
            if parts[0] in AREA_OF:
                found.add(AREA_OF[parts[0]])
            elif parts[0] in AREAS:
                found.add(parts[0])
    if len(found) == 1:
        return found.pop()
    if not found:
        return None
    plan.problem(
        path,
        1,
        f"tests of several areas ({', '.join(sorted(found))}): name its area in TEST_AREAS"
        " or with --test-area",
    )
    return None


# ------------------------------------------------------------------------ rewriting


def git_files(*flags: str) -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-z", *flags, "--", *ROOTS, *TOP_FILES],
        check=True,
        capture_output=True,
    ).stdout.decode()
    return [Path(p) for p in out.split("\0") if p]


def tracked_files() -> list[Path]:
    """The files to rewrite: tracked ones and new ones git does not ignore."""
    files = sorted(set(git_files("--cached", "--others", "--exclude-standard")))
    return [p for p in files if p != SELF and p.is_file()]


def text_spans(source: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]] | None:
    """(spans of strings and comments, spans of code) as offsets; None if untokenizable."""
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def offset(pos: tuple[int, int]) -> int:
        return starts[pos[0] - 1] + pos[1]

    text: list[tuple[int, int]] = []
    code: list[tuple[int, int]] = []
    textual = {tokenize.STRING, tokenize.COMMENT}
    for name in ("FSTRING_MIDDLE", "TSTRING_MIDDLE"):
        if hasattr(tokenize, name):
            textual.add(getattr(tokenize, name))
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            span = (offset(tok.start), offset(tok.end))
            (text if tok.type in textual else code).append(span)
    except (tokenize.TokenError, SyntaxError):
        return None
    return text, code


def sub_in_spans(source: str, spans: list[tuple[int, int]]) -> str:
    """The short dotted and path forms rewritten inside the given spans only."""
    out: list[str] = []
    last = 0
    for start, end in spans:
        out.append(source[last:start])
        out.append(PATH.sub(path_repl, SHORT_DOTTED.sub(short_repl, source[start:end])))
        last = end
    out.append(source[last:])
    return "".join(out)


def full_repl(m: re.Match[str]) -> str:
    return f"passgate.services.{MOVES[m.group(1)]}"


def short_repl(m: re.Match[str]) -> str:
    return f"services.{MOVES[m.group(1)]}"


def path_repl(m: re.Match[str]) -> str:
    return "services/" + MOVES[m.group(1)].replace(".", "/") + (m.group(2) or "")


def line_of(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def rewrite_from_services(plan: Plan, path: Path, source: str) -> str:
    """``from passgate.services import a, b as c``: one statement per new package."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        plan.problem(path, exc.lineno or 0, f"cannot parse: {exc.msg}")
        return source
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    edits: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            if is_services_file(path):
                plan.problem(path, node.lineno, "relative import in services: make it absolute")
            continue
        moved_ports = symbol_module(node.module)
        if node.module == PACKAGE:
            if not any(a.name in MOVES for a in node.names):
                continue
        elif moved_ports is None or not any(a.name in moved_ports for a in node.names):
            continue
        assert node.end_lineno is not None and node.end_col_offset is not None
        start = starts[node.lineno - 1] + node.col_offset
        end = starts[node.end_lineno - 1] + node.end_col_offset
        before = source[starts[node.lineno - 1] : start]
        after = source[end : starts[node.end_lineno]].strip()
        if before.strip() or (after and not after.startswith("#")):
            plan.problem(path, node.lineno, "import shares its line with other code")
            continue
        if "#" in source[start:end]:
            plan.problem(path, node.lineno, "comment inside the import: rewrite it by hand")
            continue
        groups: dict[str, list[str]] = {}
        for alias in node.names:
            if moved_ports is not None:
                module = f"{PACKAGE}.ports" if alias.name in moved_ports else str(node.module)
                local = alias.asname
                groups.setdefault(module, []).append(
                    f"{alias.name} as {local}" if local else alias.name
                )
                continue
            new = MOVES.get(alias.name)
            if new is None:
                parent, name, local = PACKAGE, alias.name, alias.asname
            else:
                parent_tail, _, name = new.rpartition(".")
                parent = f"{PACKAGE}.{parent_tail}" if parent_tail else PACKAGE
                local = alias.asname or (alias.name if name != alias.name else None)
            groups.setdefault(parent, []).append(f"{name} as {local}" if local else name)
        indent = " " * node.col_offset
        text = f"\n{indent}".join(
            f"from {parent} import {', '.join(names)}" for parent, names in sorted(groups.items())
        )
        edits.append((start, end, text))
    for start, end, text in sorted(edits, reverse=True):
        source = source[:start] + text + source[end:]
    return source


def symbol_module(module: str | None) -> tuple[str, ...] | None:
    """The moved ports of ``passgate.services[.<area>].<module>``, if it had any."""
    if module is None or not module.startswith(PACKAGE + "."):
        return None
    parts = module.split(".")[2:]
    if len(parts) == 2 and parts[0] in AREAS:
        parts = parts[1:]
    return SYMBOLS.get(parts[0]) if len(parts) == 1 else None


def symbol_repl(m: re.Match[str]) -> str:
    if m.group(2) not in SYMBOLS[m.group(1)]:
        return m.group(0)
    return f"{PACKAGE}.ports.{m.group(2)}"


def is_services_file(path: Path) -> bool:
    return SERVICES in path.parents


def rewrite(plan: Plan, path: Path, source: str, test_moves: dict[str, str]) -> tuple[str, bool]:
    """The file's new text; True when it is Python."""
    original = source
    is_py = path.suffix == ".py"
    tests_dotted = tests_path = None
    if test_moves:
        alt = "|".join(sorted(test_moves, key=len, reverse=True))
        tests_dotted = re.compile(rf"(?<![\w.])tests\.services\.({alt})(?![\w])")
        tests_path = re.compile(rf"(?<![\w.])tests/services/({alt})(\.py)?(?![\w/])")

    def tests_dotted_repl(m: re.Match[str]) -> str:
        return f"tests.services.{test_moves[m.group(1)]}"

    def tests_path_repl(m: re.Match[str]) -> str:
        return "tests/services/" + test_moves[m.group(1)].replace(".", "/") + (m.group(2) or "")

    if is_py:
        source = rewrite_from_services(plan, path, source)
    source = SYMBOL_DOTTED.sub(symbol_repl, source)
    source = FULL_DOTTED.sub(full_repl, source)
    if tests_dotted is not None and tests_path is not None:
        source = tests_dotted.sub(tests_dotted_repl, source)
        source = tests_path.sub(tests_path_repl, source)
    if not is_py:
        source = SHORT_DOTTED.sub(short_repl, source)
        source = PATH.sub(path_repl, source)
        return source, False
    spans = text_spans(source)
    if spans is None:
        plan.problem(path, 0, "cannot tokenize")
        return source, True
    text, _code = spans
    return wrap_comments(path, original, sub_in_spans(source, text)), True


def wrap_comments(path: Path, original: str, source: str) -> str:
    """Comment lines the rewrite made longer than the line length are wrapped."""
    before = set(original.splitlines())
    out: list[str] = []
    for line in source.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        if len(body) <= LINE_LENGTH or body in before:
            out.append(line)
            continue
        stripped = body.lstrip()
        if stripped.startswith("#") and not stripped.startswith("#!"):
            indent = body[: len(body) - len(stripped)] + "# "
            words = stripped[1:].strip()
            wrapped = textwrap.wrap(
                words,
                width=LINE_LENGTH - len(indent),
                break_long_words=False,
                break_on_hyphens=False,
            )
            out.extend(f"{indent}{part}{line[len(body) :]}" for part in wrapped)
            continue
        out.append(line)  # code is wrapped by ruff format; a long string is reported after
    return "".join(out)


def verify(plan: Plan, path: Path, source: str, is_py: bool) -> None:
    """Every old reference left is a problem (named with its line)."""
    for pattern in (FULL_DOTTED, DYNAMIC):
        for m in pattern.finditer(source):
            line = source.splitlines()[line_of(source, m.start()) - 1]
            if OK_MARK in line:
                continue
            what = "reference built at run time" if pattern is DYNAMIC else "old module path"
            plan.problem(path, line_of(source, m.start()), f"{what}: {m.group(0)!r}")
    if not is_py:
        for pattern in (SHORT_DOTTED, PATH):
            for m in pattern.finditer(source):
                plan.problem(path, line_of(source, m.start()), f"old path: {m.group(0)!r}")
        return
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return  # already reported
    module_names: dict[str, str] = {}  # local name -> services module it names
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.level or node.module is None:
            continue
        if node.module == PACKAGE:
            for alias in node.names:
                if alias.name in MOVES:
                    plan.problem(path, node.lineno, f"old import of {alias.name}")
        moved_ports = symbol_module(node.module)
        for alias in node.names:
            if moved_ports is not None and alias.name in moved_ports:
                plan.problem(path, node.lineno, f"{alias.name} lives in services.ports now")
            if node.module == PACKAGE or node.module.removeprefix(PACKAGE + ".") in AREAS:
                module_names[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.attr in SYMBOLS.get(module_names.get(node.value.id, ""), ())
        ):
            plan.problem(
                path, node.lineno, f"{node.value.id}.{node.attr}: use services.ports.{node.attr}"
            )
    spans = text_spans(source)
    if spans is None:
        return
    text, _code = spans
    for start, end in text:
        for pattern in (SHORT_DOTTED, PATH):
            for m in pattern.finditer(source, start, end):
                plan.problem(path, line_of(source, m.start()), f"old path: {m.group(0)!r}")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in MOVES
            and isinstance(node.value, ast.Name)
            and node.value.id == "services"
        ):
            plan.problem(path, node.lineno, f"services.{node.attr} in code: rewrite it by hand")


# ------------------------------------------------------------------------------ run


def find_ruff() -> str | None:
    local = Path(".venv/bin/ruff")
    if local.exists():
        return str(local)
    return shutil.which("ruff")


def build(test_overrides: dict[str, str | None]) -> Plan:
    plan = Plan()
    test_moves = plan_moves(plan, test_overrides)
    renamed = dict(plan.moves)
    tracked = set(git_files("--cached"))
    for old, _ in plan.moves:
        if old not in tracked:
            plan.problem(old, 0, "not tracked by git: git add it, then run again")
    for path in tracked_files():
        try:
            source = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        new, is_py = rewrite(plan, path, source, test_moves)
        verify(plan, path, new, is_py)
        target = renamed.get(path, path)
        if new != source or target != path:
            plan.writes[target] = new
    for path, text in plan.inits:
        plan.writes[path] = text
    return plan


def apply(plan: Plan, use_ruff: bool) -> None:
    for old, new in plan.moves:
        new.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "mv", str(old), str(new)], check=True)
    for path, text in sorted(plan.writes.items()):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    new_inits = [str(p) for p, _ in plan.inits]
    if new_inits:
        subprocess.run(["git", "add", "--", *new_inits], check=True)
    py = sorted(str(p) for p in plan.writes if p.suffix == ".py")
    if use_ruff and py:
        ruff = find_ruff()
        if ruff is None:
            sys.exit("regroup: ruff not found (make install, or run with --no-ruff)")
        subprocess.run([ruff, "check", "--quiet", "--select", "I001", "--fix", *py], check=True)
        subprocess.run([ruff, "format", "--quiet", *py], check=True)
        long_lines = subprocess.run(
            [ruff, "check", "--quiet", "--select", "E501", "--output-format", "concise", *py],
            check=False,
            capture_output=True,
            text=True,
        ).stdout
        if long_lines.strip():
            print("regroup: strings the rewrite made too long, wrap them by hand:", file=sys.stderr)
            print(long_lines, end="", file=sys.stderr)


def parse_overrides(values: list[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for value in values:
        name, sep, area = value.partition("=")
        if not sep:
            sys.exit(f"regroup: --test-area wants FILE=AREA (or FILE= to keep it), not {value!r}")
        out[name] = area or None
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a run would"
    )
    parser.add_argument("--no-ruff", action="store_true", help="do not sort and format with ruff")
    parser.add_argument(
        "--test-area",
        action="append",
        default=[],
        metavar="FILE=AREA",
        help="area of a new tests/services/FILE (FILE= keeps it in tests/services)",
    )
    args = parser.parse_args()
    if not SERVICES.is_dir() or not Path(".git").exists():
        print("regroup: run it from the repository root", file=sys.stderr)
        return 2
    plan = build(parse_overrides(args.test_area))
    if plan.problems:
        for problem in sorted(plan.problems, key=lambda p: (str(p.path), p.line)):
            print(problem, file=sys.stderr)
        print(f"regroup: {len(plan.problems)} problem(s); nothing changed", file=sys.stderr)
        return 2
    if args.check:
        for old, new in plan.moves:
            print(f"would move {old} -> {new}")
        for path in sorted(plan.writes):
            print(f"would write {path}")
        return 1 if plan.moves or plan.writes else 0
    apply(plan, use_ruff=not args.no_ruff)
    print(f"regroup: {len(plan.moves)} moved, {len(plan.writes)} written")
    return 0


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parent.parent)
    sys.exit(main())
