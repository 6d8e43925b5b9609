"""The house's arrows point down: checked on every import statement, lazy ones included.

Library modules never import the pipeline or the CLI; ``from forecaster import X`` names a
sub-module (never a function of the package ``__init__``); MLflow only in ``tracking/``, Ray only
in ``execution/ray_executor.py``. Reads source files only (fast).
"""

from __future__ import annotations

import ast
from pathlib import Path

import forecaster

PACKAGE = Path(forecaster.__file__).resolve().parent
TOP = {"pipeline", "cli", "__main__", "__init__"}  # the floors above the library


def imports() -> list[tuple[str, str]]:
    """``(module path relative to the package, imported module)`` for every import statement."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                out += [(rel, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out.append((rel, node.module))
                if node.module == "forecaster":
                    out += [(rel, f"forecaster.{alias.name}") for alias in node.names]
    return out


def is_library(rel: str) -> bool:
    return rel.split("/")[0].removesuffix(".py") not in TOP


def test_no_arrow_runs_back_up_the_house():
    up = [(rel, mod) for rel, mod in imports() if is_library(rel)
          and mod.split(".")[:2] in (["forecaster", "pipeline"], ["forecaster", "cli"], ["forecaster", "__main__"])]
    assert up == []


def test_from_forecaster_imports_only_sub_modules():
    names = [(rel, mod) for rel, mod in imports() if mod.startswith("forecaster.") and mod.count(".") == 1]
    missing = [(rel, mod) for rel, mod in names
               if not (PACKAGE / f"{mod.split('.')[1]}.py").is_file() and not (PACKAGE / mod.split(".")[1]).is_dir()]
    assert missing == []  # e.g. `from forecaster import __version__` would go through the package __init__


def test_mlflow_and_ray_each_have_one_room():
    mlflow = sorted({rel for rel, mod in imports() if mod.split(".")[0] == "mlflow"})
    ray = sorted({rel for rel, mod in imports() if mod.split(".")[0] == "ray"})
    assert mlflow and all(rel.startswith("tracking/") for rel in mlflow), mlflow
    assert ray == ["execution/ray_executor.py"]
