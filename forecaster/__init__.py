"""forecaster: recurrent-network forecasting of stock prices and temperatures, tracked in MLflow."""

from __future__ import annotations

__version__ = "0.1.0"
