"""Small real models for serving tests: scikit-learn versions, and pyfunc classes.

The pyfunc classes (one that breaks, one that echoes...) are importable by a server
subprocess too: tests put this folder on its PYTHONPATH.
"""

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


class Identity:
    """Answers with its input, whatever it is."""

    def predict(self, data: Any) -> Any:
        return data


class Doubler:
    """Twice its input, as float64; ``offset`` tells versions apart."""

    offset = 0.0

    def predict(self, data: Any) -> Any:
        return np.asarray(data, dtype="float64") * 2 + self.offset


DOUBLER_EXAMPLE = np.zeros((2, 3), dtype="float32")


def doubler(offset: float) -> Doubler:
    """A :class:`Doubler` answering ``2 * x + offset``."""
    model = Doubler()
    model.offset = offset
    return model


class Exploding:
    """Always fails, as a broken challenger would."""

    def predict(self, data: Any) -> Any:
        raise RuntimeError("the challenger is broken")


class Picky:
    """Refuses negative values with a ValueError, as scikit-learn refuses NaN."""

    def predict(self, data: Any) -> Any:
        values = np.asarray(data, dtype="float64")
        if (values < 0).any():
            raise ValueError("negative values are not allowed")
        return values.sum(axis=1)


class Slow:
    """Marks that a prediction started (a file), then takes two seconds: an in-flight request."""

    marker = ""

    def predict(self, data: Any) -> Any:
        from pathlib import Path
        from time import sleep

        Path(self.marker).touch()
        sleep(2)
        return data
