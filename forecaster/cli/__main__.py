"""``python -m forecaster.cli``: the same command line as the ``forecaster`` console script."""

from __future__ import annotations

import sys

from forecaster.cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
