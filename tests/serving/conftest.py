"""Fixtures for serving tests: a registry with small scikit-learn versions, deployments."""

from __future__ import annotations

from pathlib import Path

import pytest
from _serving_models import ModelVersions

from loopml.config import Settings
from loopml.registry.client import RegistryClient
from loopml.serving.deployments import DeploymentClient


@pytest.fixture
def registry(settings: Settings) -> RegistryClient:
    """A registry client over a fresh store (SQLite and PostgreSQL)."""
    return RegistryClient(settings)


@pytest.fixture
def deployments(settings: Settings) -> DeploymentClient:
    """A deployment client on the same store."""
    return DeploymentClient(settings)


@pytest.fixture
def versions(registry: RegistryClient, tmp_path: Path) -> ModelVersions:
    """Registers scikit-learn versions of ``churn`` (and other models) on demand."""
    return ModelVersions(registry, tmp_path / "packages")
