"""The package's import graph, read from the source (AST), not by importing it.

- No cycle among module-level imports.
- No cycle either when the imports inside functions are added, leaving out imports of the
  package ``oldphoto_cli`` itself (Python runs ``oldphoto_cli/__init__.py`` before any of
  its submodules anyway, so ``from oldphoto_cli import __version__`` closes no loop).
- The plugin contract and the hook specifications are leaves: they import nothing of
  ``oldphoto_cli`` (not the plugin loader, not the weights lookup), at any level.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "oldphoto_cli"
LEAVES = ("oldphoto_cli.contract", "oldphoto_cli.hookspecs")


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> set[str]:
    """Every name the statement may import as a module: ``from a import b`` imports ``a``
    and, if it is a module, ``a.b``."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    base = node.module or ""
    if node.level:
        parent = module.split(".") if is_package else module.split(".")[:-1]
        parent = parent[: len(parent) - (node.level - 1)]
        base = ".".join(parent + ([node.module] if node.module else []))
    return {base} | {f"{base}.{alias.name}" for alias in node.names}


def _imports(tree: ast.Module, module: str, is_package: bool) -> tuple[set[str], set[str]]:
    """(module-level imports, imports inside functions); ``if TYPE_CHECKING:`` blocks
    import nothing at run time and are left out."""
    top: set[str] = set()
    inner: set[str] = set()

    def visit(nodes: list[ast.stmt], in_function: bool) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node):
                visit(node.orelse, in_function)
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                (inner if in_function else top).update(_imported(node, module, is_package))
                continue
            function = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    visit([child], function)
                elif isinstance(child, ast.excepthandler):
                    visit(child.body, function)

    visit(tree.body, False)
    return top, inner


def import_graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module-level edges, all edges) between the package's own modules."""
    modules = _modules()
    top_graph, all_graph = {}, {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top, inner = _imports(tree, name, path.name == "__init__.py")
        top_graph[name] = {m for m in top if m in modules and m != name}
        all_graph[name] = {m for m in top | inner if m in modules and m != name}
    return top_graph, all_graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of modules (first = last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    tree = ast.parse("import x\nif TYPE_CHECKING:\n    import t\ndef f():\n"
                     "    from p import q\n    try:\n        import r\n    except E:\n"
                     "        import s\n")  # fmt: skip
    assert _imports(tree, "m", False) == ({"x"}, {"p", "p.q", "r", "s"})


def test_no_cycle_among_module_level_imports():
    top, _ = import_graph()
    assert len(top) > 50 and "oldphoto_cli.contract" in top["oldphoto_cli"]
    assert find_cycle(top) is None, " -> ".join(find_cycle(top))


def test_no_cycle_with_function_level_imports_either():
    _, everything = import_graph()
    graph = {m: {d for d in deps if d != "oldphoto_cli"} for m, deps in everything.items()}
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


@pytest.mark.parametrize("leaf", LEAVES)
def test_the_contract_is_a_leaf(leaf):
    _, everything = import_graph()
    assert everything[leaf] == set(), f"{leaf} imports {sorted(everything[leaf])}"
