"""What makes a run safe to schedule: lock, state, preflight, the commit point, the served outputs.

Owns the lock keyed by pipeline and store (``lock``), the idempotence record (``state``), the
output checks before training (``preflight``), the commit point and recovery of killed runs
(``commit``), which model serves the forecast (``outputs``), the ledger's steps in a run and in
``forecaster monitor`` (``ledger_steps``) and fetching the champion to warm-start from
(``warm_start``). May import ``tracking`` and every floor below; never the pipeline or the CLI.
"""
