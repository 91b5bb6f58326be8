"""The route table of MLflow's REST API and its error shape.

A module declares a route once with :data:`mlflow_api` (``@mlflow_api.post("/runs/create")``)
and :func:`collect` serves it under ``/api/2.0/mlflow`` and ``/ajax-api/2.0/mlflow``.
"""

from __future__ import annotations

import dataclasses
import importlib

from loopml.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    LoopmlError,
    NotFoundError,
    UnauthorizedError,
)
from loopml.server._http import dump_json
from loopml.server.api import Api, Operation

__all__ = [
    "ARTIFACT_PREFIXES",
    "MODULES",
    "PREFIXES",
    "collect",
    "mlflow_api",
    "mlflow_artifacts_api",
    "render_mlflow_error",
]

PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
ARTIFACT_PREFIXES = ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts")
mlflow_api = Api("", tag="mlflow")
# The artifact proxy (``mlflow-artifacts:/…`` URIs), served under ARTIFACT_PREFIXES.
mlflow_artifacts_api = Api("", tag="mlflow")
# The modules that declare routes on mlflow_api (imported by collect()).
MODULES: tuple[str, ...] = (
    "loopml.server.mlflow.tracking",
    "loopml.server.mlflow.artifacts",
    "loopml.server.mlflow.registry",
    "loopml.server.mlflow.logged_models",
)


def collect() -> list[Operation]:
    """Every declared route, once under each prefix."""
    for module in MODULES:
        importlib.import_module(module)
    return [
        dataclasses.replace(op, path=prefix + op.path)
        for api, prefixes in ((mlflow_api, PREFIXES), (mlflow_artifacts_api, ARTIFACT_PREFIXES))
        for op in api.operations
        for prefix in prefixes
    ]


def render_mlflow_error(err: LoopmlError) -> tuple[int, bytes]:
    """MLflow's error body; ``error_code`` is what MLflow clients branch on."""
    status, code = _code_of(err)
    return status, dump_json({"error_code": code, "message": err.message})


def _code_of(err: LoopmlError) -> tuple[int, str]:
    if isinstance(err, NotFoundError) and err.http_status == 404:
        return 404, "RESOURCE_DOES_NOT_EXIST"
    if isinstance(err, ConflictError):
        return 400, "RESOURCE_ALREADY_EXISTS"
    if isinstance(err, ForbiddenError):
        return 403, "PERMISSION_DENIED"
    if isinstance(err, UnauthorizedError):
        return 401, "UNAUTHENTICATED"
    if isinstance(err, (InvalidInputError, NotFoundError)):
        return err.http_status, "INVALID_PARAMETER_VALUE"
    if err.http_status < 500:
        return err.http_status, "BAD_REQUEST"
    return err.http_status, "INTERNAL_ERROR"
