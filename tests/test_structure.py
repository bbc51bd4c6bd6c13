"""The code's shape, checked on the source with ``ast`` (no project code is imported):
no import cycle between packages, no function in farm/ over 100 lines, no old shim modules.

A *package* is each subpackage or top-level module directly under farm/ (``farm.jobs``,
``farm.errors``, ``farm.demo``, ...; farm/__init__.py itself is ``farm``) and each of the
top-level packages actors, kernels and catalogs. An import counts wherever it is written:
at module level and inside functions alike, since a call made late still ties the two
packages together. Imports under ``if TYPE_CHECKING:`` are ignored: they never run.
"""

from __future__ import annotations

import ast
import collections
import itertools
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOPS = ("farm", "actors", "kernels", "catalogs")
MAX_FUNCTION_LINES = 100
OLD_SHIMS = ("farm/spec.py", "farm/nightly.py", "farm/pipeline.py", "farm/queue.py")


def _module_name(root: Path, path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def _is_module(root: Path, dotted: str) -> bool:
    base = root.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _package_of(dotted: str) -> str:
    """``farm.jobs._plan`` -> ``farm.jobs``; ``farm`` -> ``farm``; ``catalogs._jobs`` -> ``catalogs``."""
    parts = dotted.split(".")
    if parts[0] == "farm" and len(parts) > 1:
        return f"farm.{parts[1]}"
    return parts[0]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST):
    """Every Import/ImportFrom node, module-level or nested, except those under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)  # the `else:` branch does run
            continue
        stack.extend(ast.iter_child_nodes(node))


def _targets(root: Path, node: ast.Import | ast.ImportFrom, module: str, is_package: bool):
    """The modules an import statement loads, relative imports resolved and
    ``from farm import errors`` read as ``farm.errors``."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    if node.level:
        package = module if is_package else module.rpartition(".")[0]
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        target = ".".join([*base, node.module] if node.module else base)
    else:
        target = node.module or ""
    for alias in node.names:
        candidate = f"{target}.{alias.name}"
        yield candidate if _is_module(root, candidate) else target


def package_graph(root: Path = ROOT, tops: tuple[str, ...] = TOPS) -> dict[str, dict[str, str]]:
    """``{source package: {target package: "file:line" of the first import seen}}``."""
    edges: dict[str, dict[str, str]] = collections.defaultdict(dict)
    for top in tops:
        for path in sorted((root / top).rglob("*.py")):
            module, is_package = _module_name(root, path)
            source = _package_of(module)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in sorted(_import_nodes(tree), key=lambda n: n.lineno):
                for target in _targets(root, node, module, is_package):
                    if target.split(".")[0] not in tops:
                        continue
                    dest = _package_of(target)
                    if dest != source:
                        edges[source].setdefault(dest, f"{path.relative_to(root)}:{node.lineno}")
    return edges


def strongly_connected(edges: dict[str, dict[str, str]]) -> list[list[str]]:
    """Tarjan's components with more than one package, each sorted, iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    nodes = sorted(set(edges) | {d for targets in edges.values() for d in targets})
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def _shortest_cycle(edges: dict[str, dict[str, str]], component: list[str]) -> list[str]:
    """A shortest cycle through the component's first package (breadth-first), as a path back to it."""
    inside = set(component)
    start = component[0]
    came_from: dict[str, str] = {}
    queue = collections.deque([start])
    while queue:
        node = queue.popleft()
        for dest in sorted(edges.get(node, ())):
            if dest not in inside:
                continue
            if dest == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if dest not in came_from:
                came_from[dest] = node
                queue.append(dest)
    raise AssertionError(f"no cycle in component {component}")


def describe_cycles(edges: dict[str, dict[str, str]]) -> list[str]:
    report = []
    for component in strongly_connected(edges):
        cycle = _shortest_cycle(edges, component)
        report.append(f"cycle among {', '.join(component)}; one of them:")
        report += [f"  {a} -> {b}  ({edges[a][b]})" for a, b in itertools.pairwise(cycle)]
        report.append("  every edge inside that component:")
        report += [f"    {a} -> {b}  ({where})" for a in component
                   for b, where in sorted(edges.get(a, {}).items()) if b in component]
    return report


def long_functions(root: Path = ROOT, top: str = "farm", limit: int = MAX_FUNCTION_LINES) -> list[str]:
    found = []
    for path in sorted((root / top).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_import_cycle_between_packages():
    report = describe_cycles(package_graph())
    assert not report, "import cycles between packages:\n" + "\n".join(report)


def test_the_cycle_check_can_fail(tmp_path):
    (tmp_path / "farm" / "jobs").mkdir(parents=True)
    (tmp_path / "farm" / "__init__.py").write_text("")
    (tmp_path / "farm" / "jobs" / "__init__.py").write_text("from ._plan import plan\n")
    (tmp_path / "farm" / "jobs" / "_plan.py").write_text("def plan():\n    from farm import settings\n")
    (tmp_path / "farm" / "settings.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import catalogs\n"
        "def load():\n    from .jobs import plan\n")  # relative, inside a function; catalogs ignored
    edges = package_graph(tmp_path, ("farm", "catalogs"))
    assert edges == {"farm.jobs": {"farm.settings": "farm/jobs/_plan.py:2"},
                     "farm.settings": {"farm.jobs": "farm/settings.py:5"}}
    assert describe_cycles(edges)[1:3] == ["  farm.jobs -> farm.settings  (farm/jobs/_plan.py:2)",
                                           "  farm.settings -> farm.jobs  (farm/settings.py:5)"]


def test_no_function_in_farm_over_100_lines():
    found = long_functions()
    assert not found, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(found)


def test_the_old_shim_modules_are_gone():
    left = [name for name in OLD_SHIMS if (ROOT / name).exists()]
    assert not left, f"old import paths still present: {left}"
