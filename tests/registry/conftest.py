"""Fixtures for registry tests, over SQLite and PostgreSQL (through ``settings``)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _registry_packages import LogPackage, write_package

from loopml.config import Settings
from loopml.registry.client import RegistryClient
from loopml.tracking import TrackingClient

# -- registry client (helper B) ---------------------------------------------------------


@pytest.fixture
def registry(settings: Settings) -> RegistryClient:
    """A registry client over a fresh store."""
    return RegistryClient(settings)


@pytest.fixture
def tracking(settings: Settings) -> Iterator[TrackingClient]:
    """A tracking client on the same store (to log packages in runs)."""
    client = TrackingClient(settings, capture_env=False)
    yield client
    client.close()


@pytest.fixture
def log_package(tracking: TrackingClient, tmp_path: Path) -> LogPackage:
    """Log a minimal package in a new run; returns its ``runs:/<id>/model`` URI."""
    counter = itertools.count()

    def log(payload: bytes | None = None, *, path: str = "model", **options: Any) -> str:
        n = next(counter)
        folder = write_package(
            tmp_path / f"package-{n}",
            payload if payload is not None else f"weights {n}".encode(),
            **options,
        )
        run = tracking.create_run("registry-tests")
        tracking.log_artifacts(run.id, folder, path)
        return f"runs:/{run.id}/{path}"

    return log
