"""The open core, held by tests: the engine imports no topic, and imports form no cycle.

Imports are read from the source (every `import` statement, those under
`if TYPE_CHECKING:` and inside functions included), so a lazy or type-only import
cannot hide a dependency.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "labkit"
#: what labkit.lab may import: itself, and the leaf modules every layer shares
ENGINE_MAY_IMPORT = {"labkit.lab", "labkit.diag", "labkit.procs", "labkit.paths", "labkit.viz"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every labkit module named by an import in `path`, relative imports resolved.

    `from pkg import name` depends on pkg.name when that is a module, else on pkg.
    """
    known = modules()
    mod = module_name(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:
                out.add(f"{target}.{a.name}" if f"{target}.{a.name}" in known else target)
    return {m for m in out if m == "labkit" or m.startswith("labkit.")}


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in ROOT.rglob("*.py")}


def unit(mod: str, known: dict[str, Path]) -> str:
    """The package-level unit of a module: labkit.X (a subpackage or a top-level module)."""
    parts = mod.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else mod


def graph(level) -> dict[str, set[str]]:
    known = modules()
    g: dict[str, set[str]] = {}
    for mod, path in known.items():
        src = level(mod, known)
        for target in imports(path):
            while target not in known and "." in target:   # `from pkg import name` names no module
                target = target.rpartition(".")[0]
            dst = level(target, known)
            if dst != src:
                g.setdefault(src, set()).add(dst)
    return g


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    found, state, stack = [], {}, []

    def visit(n: str) -> None:
        state[n] = "open"
        stack.append(n)
        for m in sorted(g.get(n, ())):
            if state.get(m) == "open":
                found.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = "done"

    for n in sorted(g):
        if n not in state:
            visit(n)
    return found


def test_the_engine_imports_no_topic_package():
    bad = []
    for path in sorted((ROOT / "lab").rglob("*.py")):
        for target in imports(path):
            if target == "labkit" or not any(target == a or target.startswith(a + ".") for a in ENGINE_MAY_IMPORT):
                bad.append(f"{path.relative_to(ROOT.parent)} imports {target}")
    assert bad == [], "\n".join(bad)


def test_the_package_import_graph_has_no_cycle():
    found = cycles(graph(unit))
    assert found == [], "\n".join(" -> ".join(c) for c in found)


def test_the_engine_modules_import_each_other_without_cycles():
    lab = {m: p for m, p in modules().items() if m.startswith("labkit.lab")}
    g = {k: {v for v in vs if v in lab} for k, vs in graph(lambda m, known: m).items() if k in lab}
    found = cycles(g)
    assert found == [], "\n".join(" -> ".join(c) for c in found)


def test_the_checker_sees_a_planted_cycle_and_a_planted_topic_import():
    """The two tests above could pass vacuously if the import reader were blind."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert "labkit.ios" in imports(ROOT / "ios" / "plugin.py") or "labkit.ios" in {
        unit(m, {}) for m in imports(ROOT / "ios" / "plugin.py")}
    assert any(t.startswith("labkit.lab") for t in imports(ROOT / "ios" / "plugin.py"))
