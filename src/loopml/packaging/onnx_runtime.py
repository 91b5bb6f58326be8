"""Running a package's converted ONNX graph: ``load_model(uri, runtime="onnx")``.

The graph takes one float32 matrix ``X`` (a table's columns in the signature's order,
or the input array). Its outputs are mapped back to what the native model gives, as
``model.json``'s ``onnx`` section says: ``predict`` in the native dtype and shape (class
labels for a classifier), ``predict_proba`` as float64 class probabilities. Input goes
through numpy only, with no pandas unless a DataFrame comes in.

Example:
    >>> model = OnnxRuntimePredictor.load(folder, manifest.onnx, device="cpu")  # doctest: +SKIP
    >>> model.predict(x[:2])  # doctest: +SKIP
    array([0, 1])
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from loopml.errors import InvalidInputError
from loopml.packaging._tables import as_array, is_frame
from loopml.packaging.devices import onnx_session

__all__ = ["ONNX_FILE", "OnnxRuntimeClassifier", "OnnxRuntimePredictor", "as_matrix"]

ONNX_FILE = "model.onnx"
_NUMERIC = "biuf"


def as_matrix(data: Any, what: str = "input") -> np.ndarray[Any, Any]:
    """``data`` (a numeric DataFrame or 2-D array) as the float32 matrix a graph takes.

    Raises:
        InvalidInputError: not two-dimensional, or a column that is not a number.
    """
    if is_frame(data):
        text = [str(name) for name, dtype in data.dtypes.items() if dtype.kind not in _NUMERIC]
        if text:
            raise InvalidInputError(
                f"{what} has non-numeric columns ({', '.join(text)}); an ONNX graph here "
                "takes numbers only: encode them in the model's pipeline, or serve natively"
            )
        return np.asarray(data.to_numpy(dtype=np.float32))
    if isinstance(data, Mapping):
        raise InvalidInputError(
            f"{what} is a dict of arrays; a converted ONNX graph takes one table or matrix"
        )
    values = as_array(data)
    if values.ndim != 2 or values.dtype.kind not in _NUMERIC:
        raise InvalidInputError(
            f"{what} must be a 2-D numeric array for an ONNX graph, got {values.ndim}-D "
            f"{values.dtype}"
        )
    return values.astype(np.float32, copy=False)


class OnnxRuntimePredictor:
    """A converted graph answering like the native model it was converted from.

    Attributes:
        session: the onnxruntime session.
        spec: ``model.json``'s ``onnx`` section.
    """

    def __init__(self, session: Any, spec: Mapping[str, Any]) -> None:
        self.session = session
        self.spec = spec
        self._input = str(spec.get("input", "X"))
        self._predict = spec.get("predict_output")
        self._proba = spec.get("proba_output")
        classes = spec.get("classes")
        self._classes = None if classes is None else np.asarray(classes)
        labels = spec.get("class_labels", classes)  # the native model's classes_, if any
        self.classes_ = None if labels is None else np.asarray(labels)
        self._dtype = np.dtype(spec.get("predict_dtype", "float64"))
        self._flat = int(spec.get("predict_ndim", 1)) == 1

    @staticmethod
    def load(folder: Path, spec: Mapping[str, Any], *, device: str) -> OnnxRuntimePredictor:
        """The graph ``spec`` names, in ``folder``, in a session on ``device``; it has
        ``predict_proba`` when the native model had it."""
        session = onnx_session(str(folder / spec.get("file", ONNX_FILE)), device)
        cls = OnnxRuntimeClassifier if spec.get("proba_output") else OnnxRuntimePredictor
        return cls(session, spec)

    def predict(self, data: Any) -> Any:
        """Labels for a classifier, numbers for a regressor: as the native model's predict."""
        if self._predict is None:  # a booster's graph: the likeliest of the package's labels
            assert self._classes is not None  # the spec pairs predict_output None with classes
            return self._classes[np.argmax(self._run(data, self._proba), axis=1)]
        out = self._run(data, self._predict)
        if self._flat and out.ndim == 2 and out.shape[1] == 1:
            out = out[:, 0]
        return out.astype(self._dtype, copy=False)

    def _run(self, data: Any, output: Any) -> np.ndarray[Any, Any]:
        matrix = as_matrix(data)
        return np.asarray(self.session.run([output], {self._input: matrix})[0])


class OnnxRuntimeClassifier(OnnxRuntimePredictor):
    """A converted classifier: ``predict_proba`` too."""

    def predict_proba(self, data: Any) -> Any:
        """Class probabilities, one column per class (float64, as scikit-learn gives)."""
        proba = self._run(data, self._proba)
        if proba.ndim == 1:
            proba = np.column_stack([1.0 - proba, proba])
        return proba.astype(np.float64)
