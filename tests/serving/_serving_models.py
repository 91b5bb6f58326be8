"""Small real models for serving tests: scikit-learn versions, and one that breaks."""

from __future__ import annotations

import itertools
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loopml.packaging.package import save_package
from loopml.registry.client import RegistryClient

COLUMNS = ["mean radius", "mean texture", "mean perimeter", "mean area"]


@cache
def data() -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    """Four columns of scikit-learn's breast cancer data and its labels."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True)
    return frame.data[COLUMNS], frame.target.to_numpy()


class NeedsFile:
    """A pyfunc model that works only while a file it depends on is there.

    Its package is fine when it is logged; it fails its input-example check on a server
    where the file is gone (a model that cannot run where it is deployed).
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def predict(self, data: Any) -> Any:
        if not Path(self.path).exists():
            raise FileNotFoundError(f"{self.path} is missing")
        return np.zeros(len(data), dtype=np.int64)


class ModelVersions:
    """Registers versions of models into one registry."""

    def __init__(self, registry: RegistryClient, folder: Path) -> None:
        self.registry = registry
        self.folder = folder
        self._count = itertools.count()

    def sklearn(self, model: str = "churn", *, depth: int = 3) -> int:
        """A decision tree (``max_depth=depth``) registered as the next version."""
        from sklearn.tree import DecisionTreeClassifier

        x, y = data()
        fitted = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(x, y)
        return self._register(fitted, model, x.iloc[:5])

    def needs_file(self, path: Path, model: str = "churn") -> int:
        """A :class:`NeedsFile` version (``path`` must exist while it is registered)."""
        x, _ = data()
        return self._register(NeedsFile(str(path)), model, x.iloc[:5])

    def promote(self, model: str, version: int, alias: str = "production") -> None:
        """Point ``alias`` at ``version`` the way a team would (validated, promoted)."""
        if alias == "production":
            if self.registry.get_version(model, version).status == "registered":
                self.registry.set_status(model, version, "validated")
            self.registry.promote(model, version, alias)
        else:
            self.registry.set_alias(model, alias, version)

    def _register(self, fitted: Any, model: str, example: Any) -> int:
        folder = self.folder / f"v{next(self._count)}"
        save_package(fitted, folder, input_example=example)
        return self.registry.register(folder, model).version
