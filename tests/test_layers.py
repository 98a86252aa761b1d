"""The layers of pkrules import only downward, with no cycle — counting imports inside functions too.

    errors, files, messages  <  values  <  language  <  io  <  engine  <  outputs, review  <  api
    <  workflow  <  cli          (tui/ imports only pkrules.api and pkrules.workflow)

The same contract runs with import-linter in CI (pyproject.toml: [tool.importlinter]);
this test also sees the imports inside functions, which keep `pkrules --help` fast.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LAYERS = [  # lowest first; modules of one layer may import each other (without a cycle)
    ("pkrules.errors", "pkrules.files", "pkrules.messages"),
    ("pkrules.values",),
    ("pkrules.language",),
    ("pkrules.io",),
    ("pkrules.engine",),
    ("pkrules.outputs", "pkrules.review"),
    ("pkrules.api",),
    ("pkrules.workflow",),
    ("pkrules.cli",),
]
NO_POLARS = ("pkrules.values", "pkrules.language", "pkrules.engine.exact", "pkrules.engine.results",
             "pkrules.engine.population", "pkrules.engine.backend", "pkrules.engine.explain")


def _module(path: Path, top: Path) -> str:
    parts = list(path.relative_to(top).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def import_graph(package: str = "pkrules") -> dict[str, set[str]]:
    """module → the modules it imports (anywhere in the file, functions included)."""
    graph: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        name = _module(path, ROOT)
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:  # relative: resolve against this module's package
                    base = name.split(".")
                    base = base if path.name == "__init__.py" else base[:-1]
                    base = base[: len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                deps.add(target)
                deps.update(f"{target}.{a.name}" for a in node.names if _is_module(f"{target}.{a.name}"))
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        graph[name] = {d for d in deps if d != name}
    return graph


def _layer(module: str) -> int | None:
    for i, names in enumerate(LAYERS):
        if any(module == n or module.startswith(n + ".") for n in names):
            return i
    return None


def test_layers_import_only_downward():
    upward = []
    for module, deps in import_graph().items():
        here = _layer(module)
        if here is None:
            continue
        for dep in deps:
            there = _layer(dep)
            if dep.startswith("pkrules") and there is not None and there > here:
                upward.append(f"{module} → {dep}")
    assert not upward, "imports pointing up:\n" + "\n".join(sorted(upward))


def test_every_module_is_in_a_layer():
    loose = [m for m in import_graph() if m != "pkrules" and _layer(m) is None]
    assert not loose, f"add these to LAYERS: {loose}"


def test_no_import_cycles():
    graph = {m: {d for d in deps if d.startswith("pkrules")} for m, deps in import_graph().items()}
    # A module importing its own package's __init__ is how Python loads it, not a cycle of ours.
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" → ".join(c) for c in cycles)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
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


def test_the_language_and_the_exact_evaluator_never_import_polars():
    offenders = [f"{m} → {d}" for m, deps in import_graph().items() for d in deps
                 if d.split(".")[0] == "polars" and any(m == n or m.startswith(n + ".") for n in NO_POLARS)]
    assert not offenders, "\n".join(offenders)


def test_nothing_in_pkrules_imports_textual():
    offenders = [m for m, deps in import_graph().items() if any(d.split(".")[0] == "textual" for d in deps)]
    assert not offenders


def test_the_tui_uses_only_the_public_api_and_the_workflow():
    if not (ROOT / "tui" / "__init__.py").exists():
        return
    allowed = ("pkrules.api", "pkrules.workflow")
    offenders = [f"{m} → {d}" for m, deps in import_graph("tui").items() for d in deps
                 if d.startswith("pkrules") and d != "pkrules" and not d.startswith(allowed)]
    assert not offenders, "the TUI reaches behind the API:\n" + "\n".join(offenders)
