"""pytest settings shared by tests/ and the docstring examples of forecaster/ (--doctest-modules)."""

import importlib.util

# The Ray executor imports ray, an optional extra: its module is collected only when Ray is installed.
collect_ignore = [] if importlib.util.find_spec("ray") else ["forecaster/execution/ray_executor.py"]
