"""The shape of the `hashbench` package: imports run one way (no cycle), the core never imports a
plugin, and modules stay small (in the core and in the built-in plugins, `plugins/`).

The import graph is read from the source with `ast`: every `import` / `from ... import` of a
`hashbench` module, at module level or inside a function, is an edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "hashbench"
PLUGINS = PACKAGE.parent / "plugins"  # importable as `hashbench_plugins`
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imported(module: str, path: Path) -> set[str]:
    """Every module `module` imports (absolute names; relative imports resolved).

    `from package import submodule` depends on the submodule only: the package is initialised
    before any module in it, whereas `from package import name` needs the package's contents.
    """
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # a submodule, or a name the module `base` defines
                submodule = f"{base}.{alias.name}"
                names.add(submodule if submodule in MODULES else base)
    return names


def _graph() -> dict[str, set[str]]:
    return {
        module: {name for name in _imported(module, path) if name in MODULES and name != module}
        for module, path in MODULES.items()
    }


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_layout_test_sees_imports():
    graph = _graph()
    assert "hashbench.registry" in graph["hashbench.cli.app"]
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_in_hashbench():
    cycle = _find_cycle(_graph())
    assert cycle is None, "import cycle in hashbench: " + " -> ".join(cycle or [])


def test_the_core_never_imports_a_plugin():
    offenders = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for module, path in MODULES.items()
        for name in sorted(_imported(module, path))
        if name.split(".")[0] == "hashbench_plugins"
    ]
    assert not offenders, "the core must not import plugins: " + "; ".join(offenders)


def _too_long(paths) -> list[str]:
    return [
        f"{path.relative_to(PACKAGE.parent)} has {n} lines"
        for path in paths
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    ]


def test_no_module_is_too_long():
    long = _too_long(MODULES.values())
    assert not long, f"modules over {MAX_LINES} lines (split them): " + "; ".join(long)


def test_no_plugin_module_is_too_long():
    paths = sorted(PLUGINS.rglob("*.py"))
    assert len(paths) > 20, f"the layout test found too few plugin modules under {PLUGINS}"
    long = _too_long(paths)
    assert not long, f"plugin modules over {MAX_LINES} lines (split them by job): " + "; ".join(
        long
    )
