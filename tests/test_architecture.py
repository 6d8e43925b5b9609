"""The house's shape, read from every import statement under ``forecaster/`` (lazy ones included).

* Floors: every module lives on a floor (:data:`FLOORS`, by its top-level package or module) and
  imports only from its own floor or below. The arrows point down: library <- pipeline <- CLI.
* No circle of imports between files, lazy imports included (an import of a package counts as an
  import of its ``__init__``).
* At most :data:`MAX_TOP_MODULES` modules directly under ``forecaster/``; no module over
  :data:`MAX_LINES` lines; every package's ``__init__`` says what it owns and may import.
* MLflow only in ``tracking/``, Ray only in ``execution/ray_executor.py``.

Reads source files only (fast).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import forecaster

PACKAGE = Path(forecaster.__file__).resolve().parent

#: Each top-level room of ``forecaster/`` and its floor: an import may go to its own floor or below.
FLOORS: dict[str, int] = {
    # ground: versions, exit codes and errors, process settings, atomic writes, the state directory
    "_version": 0, "exitcodes": 0, "errors": 0, "runtime_env": 0, "atomic": 0, "statedir": 0,
    "config": 1,  # the pipeline file
    "data": 2,  # raw file -> canonical frame; column names, schema, splits
    # the modelling library: features, windows, networks, training, metrics, figures, executors, ledger
    "features": 3, "windowing": 3, "models": 3, "training": 3, "evaluation": 3, "plots": 3,
    "execution": 3, "lifecycle": 3,
    "estimator": 4,  # fitted forecasters: fit, predict, save, load
    "comparison": 5,  # the grid, the backtest, the gate
    "tracking": 6,  # MLflow, and only here
    "scheduling": 7,  # a run's safety: lock, state, preflight, commit point, outputs
    "pipeline": 8, "forecasting": 8,  # one run; a forecast from a model
    "cli": 9, "__main__": 9, "__init__": 9,  # the command line; the package's lazy API
}
MAX_TOP_MODULES = 8
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(path: Path) -> list[str]:
    """Every module of this package that ``path`` imports (``from P import name`` counts as P.name
    when that is a module, else as P)."""
    name = module_name(path)
    is_package = path.name == "__init__.py"
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            out += [f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source for a in node.names]
    resolved = []
    for target in out:
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if target.startswith("forecaster") and target != name:
            resolved.append(target)
    return resolved


GRAPH = {name: sorted(set(imported_modules(path))) for name, path in MODULES.items()}


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_room_has_a_floor():
    assert sorted({room(m) for m in MODULES} - set(FLOORS)) == []


def test_every_arrow_points_down_or_along_its_floor():
    up = [f"{m} (floor {FLOORS[room(m)]}) -> {t} (floor {FLOORS[room(t)]})"
          for m, targets in GRAPH.items() for t in targets if FLOORS[room(t)] > FLOORS[room(m)]]
    assert up == []


def test_no_circle_of_imports_between_files():
    assert cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert cycles({"a": ["b"], "b": []}) == []


def test_the_top_floor_is_small():
    top = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py", "_version.py"))
    assert len(top) <= MAX_TOP_MODULES, top


def test_no_module_is_oversized():
    big = {name: n for name, path in MODULES.items()
           if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert big == {}


@pytest.mark.parametrize("package", sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py")))
def test_each_package_says_what_it_owns_and_may_import(package):
    doc = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text(encoding="utf-8"))) or ""
    assert "import" in doc.lower() and len(doc.splitlines()) >= 2, f"forecaster/{package}/__init__.py: {doc!r}"


def test_from_forecaster_imports_only_sub_modules():
    """``from forecaster import X`` must name a sub-module, never a function of the package ``__init__``."""
    wrong = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "forecaster" and node.level == 0:
                wrong += [(name, a.name) for a in node.names if f"forecaster.{a.name}" not in MODULES]
    assert wrong == []


def test_mlflow_and_ray_each_have_one_room():
    external = {name: {n.split(".")[0] for n in _external_imports(path)} for name, path in MODULES.items()}
    mlflow = sorted(m for m, names in external.items() if "mlflow" in names)
    ray = sorted(m for m, names in external.items() if "ray" in names)
    assert mlflow and all(room(m) == "tracking" for m in mlflow), mlflow
    assert ray == ["forecaster.execution.ray_executor"]


def _external_imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append(node.module)
    return out
