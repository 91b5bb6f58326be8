"""The REST API, ``/api/v1/…``: one module per component, each an :class:`~loopml.server.api.Api`.

Every module's operations are listed in :data:`ALL`, which builds the routes and the
OpenAPI document.
"""

from __future__ import annotations

from loopml.server.api import Api
from loopml.server.routes import (
    accounts,
    artifact_uploads,
    automation,
    data,
    data_upload,
    deployments,
    features,
    lineage,
    monitoring,
    packages,
    pipelines,
    registry,
    run_artifacts,
    system,
    tracking,
)

__all__ = ["ALL", "v1"]


def v1() -> list[Api]:
    """Every ``/api/v1`` module's operations."""
    return [
        system.api,
        accounts.api,
        tracking.api,
        run_artifacts.api,
        artifact_uploads.api,
        data.api,
        data_upload.api,
        features.api,
        pipelines.api,
        registry.api,
        packages.api,
        deployments.api,
        monitoring.api,
        automation.api,
        lineage.api,
    ]


ALL = v1
