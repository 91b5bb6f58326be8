"""The mlflow flavor: a model MLflow logged (its ``MLmodel`` folder), kept as MLflow wrote it.

A model version registered through loopml's MLflow API from an MLflow model folder is an
ordinary loopml package: MLflow's files, untouched, plus a ``model.json`` that lists their
digests and names this flavor. Loading it needs no ``mlflow``:

- the ``sklearn`` flavor saved with ``serialization_format: skops`` loads through skops,
  with the same type checks as loopml's own sklearn flavor;
- saved with ``pickle`` or ``cloudpickle`` (MLflow's default), unpickling runs whatever
  the file says, so loopml loads it only when the caller trusts it by saying so:
  ``load_model(uri, trusted=["pickle"])`` (``--trust pickle`` on the CLI).

Other MLflow flavors are stored and registered but not loaded by loopml.

Example:
    >>> MlflowFlavor().accepts(object())
    False
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInputError, UntrustedTypesError
from loopml.packaging.flavors.base import Predictor

__all__ = ["PICKLE", "MlflowFlavor"]

PICKLE = "pickle"  # what a caller names in ``trusted`` to allow unpickling an MLflow model
_PICKLES = ("pickle", "cloudpickle")


class MlflowFlavor:
    """Models logged by MLflow; never chosen to save a model (MLflow saves them)."""

    name = "mlflow"

    def accepts(self, model: Any) -> bool:
        return False

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        raise InvalidInputError(
            "the mlflow flavor holds models MLflow logged; save a model with its own "
            "flavor (loopml.log_model picks one), or log it with mlflow and register it "
            "through loopml's MLflow API"
        )

    def load(self, folder: Path, options: dict[str, Any], *, trusted: Sequence[str]) -> Predictor:
        kind = options.get("mlflow_flavor")
        if kind != "sklearn":
            raise InvalidInputError(
                f"loopml loads MLflow models of the sklearn flavor only; this one is "
                f"{kind or 'a python_function model'} (flavors: "
                f"{', '.join(options.get('mlflow_flavors', [])) or 'none'}); load it with "
                "mlflow.pyfunc.load_model instead"
            )
        from loopml.packaging.flavors.sklearn import SklearnFlavor, load_skops

        path = folder / str(options["file"])
        serialization = options.get("serialization_format", "cloudpickle")
        if serialization == "skops":
            return SklearnFlavor().wrap(load_skops(path, trusted))
        if serialization not in _PICKLES:
            raise InvalidInputError(
                f"{path.name} is in MLflow's {serialization!r} format, which loopml does "
                f"not read; formats: skops, {', '.join(_PICKLES)}"
            )
        if PICKLE not in trusted:
            raise UntrustedTypesError(
                f"{path.name} is a {serialization} file written by MLflow: loading it runs "
                "whatever code the file holds. If you trust whoever logged it, pass "
                'trusted=["pickle"] to load_model (or --trust pickle on the CLI); or log '
                'the model with mlflow.sklearn.log_model(..., serialization_format="skops")',
                types=[PICKLE],
            )
        with path.open("rb") as file:
            return SklearnFlavor().wrap(pickle.load(file))

    def requirements(self, model: Any) -> list[str]:
        return []
