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

import pytest
from importgraph import find_cycle, import_graph, imports_of

LEAVES = ("oldphoto_cli.contract", "oldphoto_cli.hookspecs")


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    tree = ast.parse("import x\nif TYPE_CHECKING:\n    import t\ndef f():\n"
                     "    from p import q\n    try:\n        import r\n    except E:\n"
                     "        import s\n")  # fmt: skip
    assert imports_of(tree, "m", False) == ({"x"}, {"p", "p.q", "r", "s"})


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
