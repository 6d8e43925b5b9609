"""A served forecast's life after its run: recorded in the ledger, scored as actuals arrive, judged.

Owns the forecast ledger (``ledger``: one SQLite file in the state directory, rows staged then
committed with the run) and the live scores and drift verdict (``monitoring``: pure functions).
May import the ground floor only (the state directory, the exit codes); MLflow logging of the
scores is :mod:`forecaster.tracking.monitoring`'s, the steps of a run are :mod:`forecaster.scheduling`'s.
"""
