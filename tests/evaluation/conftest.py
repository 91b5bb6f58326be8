"""Fixtures for evaluation tests: a registry over each database, real data, a way to register.

- ``settings``: the shared fixture (SQLite and PostgreSQL), and afterwards the registry's
  webhook dispatcher threads are stopped before the store closes (a dispatcher woken by
  the last write would otherwise open a connection to a database being dropped).
- ``registry``: a :class:`RegistryClient` over ``settings``.
- ``cancer``: breast-cancer features (5 columns), labels and a two-valued ``group``
  column, split into a train and a holdout frame.
- ``register(model, example, name)``: package ``model`` with its input example and
  register the package folder as the next version of ``name``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from loopml.config import Settings
from loopml.packaging.package import save_package
from loopml.registry.client import RegistryClient
from loopml.registry.models import ModelVersion

FEATURES = ["mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness"]
Register = Callable[..., ModelVersion]


@dataclass(frozen=True)
class Cancer:
    """Breast-cancer data: ``train`` and ``holdout`` frames with ``target`` and ``group``."""

    train: pd.DataFrame
    holdout: pd.DataFrame

    @property
    def X(self) -> pd.DataFrame:
        return self.train[FEATURES]

    @property
    def y(self) -> pd.Series:
        return self.train["target"]


@pytest.fixture(scope="session")
def cancer() -> Cancer:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    frame = X[FEATURES].assign(target=y, group=["a" if i % 2 else "b" for i in range(len(y))])
    shuffled = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    return Cancer(
        train=shuffled.iloc[:400].reset_index(drop=True),
        holdout=shuffled.iloc[400:].reset_index(drop=True),
    )


@pytest.fixture
def registry(settings: Settings) -> RegistryClient:
    return RegistryClient(settings)


@pytest.fixture
def register(registry: RegistryClient, tmp_path: Path) -> Register:
    count = 0

    def package_and_register(model: Any, example: Any, name: str = "cancer") -> ModelVersion:
        nonlocal count
        count += 1
        folder = tmp_path / f"package-{count}"
        save_package(model, folder, input_example=example)
        return registry.register(str(folder), name)

    return package_and_register
