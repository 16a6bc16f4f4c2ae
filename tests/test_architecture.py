"""The house stays one-way: no import cycle between modules, function-local imports only where Django's app loading
needs them (each says so), no source file over 900 lines, and no docstring citing section numbers of notes a reader
never sees. ``lint-imports`` (run by ``make test``) checks the layers themselves; these check what it cannot."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("base", "portal", "connections", "mappings", "syncjobs", "emulators", "bench")
MAX_LINES = 900


def _sources() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
                  if "migrations" not in path.parts)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(tree: ast.Module, module: str, is_package: bool) -> tuple[set[str], list[ast.AST]]:
    """(modules imported at module level, import statements inside functions)."""
    top: set[str] = set()
    local: list[ast.AST] = []

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                walk(child, True)
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                if in_function:
                    local.append(child)
                elif isinstance(child, ast.Import):
                    top.update(alias.name for alias in child.names)
                else:
                    base = _resolve(child, module, is_package)
                    top.add(base)
                    top.update(f"{base}.{alias.name}" for alias in child.names)
            walk(child, in_function)

    walk(tree, False)
    return top, local


def _graph() -> tuple[dict[str, set[str]], dict[str, list[tuple[Path, ast.AST]]]]:
    paths = {_module_name(path): path for path in _sources()}
    graph: dict[str, set[str]] = {}
    local: dict[str, list[tuple[Path, ast.AST]]] = {}
    for module, path in paths.items():
        tree = ast.parse(path.read_text())
        targets, local_imports = _imports(tree, module, path.name == "__init__.py")
        edges = set()
        for target in targets:
            while target and target not in paths:
                target = target.rpartition(".")[0]
            if target and target != module:
                edges.add(target)
        graph[module] = edges
        local[module] = [(path, node) for node in local_imports]
    return graph, local


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_module_import_graph_has_no_cycle() -> None:
    graph, _ = _graph()
    assert len(graph) > 100
    assert _cycles(graph) == []


def test_function_local_imports_only_for_django_app_loading() -> None:
    _, local = _graph()
    unexplained = []
    for module, imports in local.items():
        for path, node in imports:
            lines = path.read_text().splitlines()
            reason = " ".join(lines[max(0, node.lineno - 2):node.end_lineno])
            if "Django app loading" not in reason:
                unexplained.append(f"{module}:{node.lineno}")
    assert unexplained == []


def test_no_source_file_over_900_lines() -> None:
    long = {str(path.relative_to(ROOT)): n for path in _sources()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


@pytest.mark.parametrize("pattern", [
    r"\breference\s+§?\d+(\.\d+)?", r"protocols\.md", r"\bcontract [A-Z]\b", r"engineer'?s?\b",
])
def test_sources_cite_primary_sources_not_internal_notes(pattern: str) -> None:
    regex = re.compile(pattern, re.IGNORECASE)
    offenders = [f"{path.relative_to(ROOT)}:{number}" for path in _sources() + sorted((ROOT / "tests").rglob("*.py"))
                 if path.name != "test_architecture.py"
                 for number, line in enumerate(path.read_text().splitlines(), start=1) if regex.search(line)]
    assert offenders == []


def test_architecture_doc_names_files_and_functions_that_exist() -> None:
    """Every file named in docs/architecture.md exists, and every name written right after a Python file (as in
    "`syncjobs/review.py` `full_sync_review_start`") is defined in that file."""
    text = re.sub(r"```.*?```", "", (ROOT / "docs" / "architecture.md").read_text(), flags=re.S)
    checked = 0
    current: Path | None = None
    previous_end = 0
    for match in re.finditer(r"`([^`]+)`", text):
        span, between = match.group(1), text[previous_end:match.start()]
        previous_end = match.end()
        if between.strip(" →") != "":
            current = None
        if re.fullmatch(r"[\w/]+\.(py|html)", span):
            current = ROOT / span
            assert current.exists(), span
            checked += 1
        elif current is not None and current.suffix == ".py" and re.fullmatch(r"[A-Za-z_]\w*(\.\w+)?", span):
            name = span.split(".")[-1]
            source = current.read_text()
            assert re.search(rf"^\s*(def|class) {name}\b|^\s*{name}\s*[:=]", source, re.M), f"{span} in {current}"
            checked += 1
    assert checked > 30
