"""MLflow's REST API over loopml's store, so code instrumented with ``mlflow`` works unchanged.

Every route answers under both ``/api/2.0/mlflow/…`` and ``/ajax-api/2.0/mlflow/…``, and
errors come in MLflow's shape (``{"error_code", "message"}``) with the codes its clients
branch on. What MLflow writes becomes ordinary loopml runs, artifacts and models.

Example:
    >>> [op.path for op in operations()][:1]  # doctest: +SKIP
    ['/api/2.0/mlflow/experiments/create']
"""

from __future__ import annotations

from loopml.server.api import Operation
from loopml.server.mlflow._api import render_mlflow_error

__all__ = ["operations", "render_mlflow_error"]


def operations() -> list[Operation]:
    """Every MLflow-compatible operation, under each of MLflow's path prefixes."""
    from loopml.server.mlflow._api import collect

    return collect()
