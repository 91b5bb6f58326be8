"""The onnx flavor: an ONNX graph (a ``ModelProto`` or its bytes), run by onnxruntime.

The graph is checked with ``onnx.checker`` when saved and stored as ``model.onnx``.
Loading needs only onnxruntime. Inputs are cast to the types the graph declares by
the same safe-cast rules as signatures (``float64`` may become ``float``; a float
never becomes an integer).

Example:
    >>> options = OnnxFlavor().save(model_proto, folder)  # doctest: +SKIP
    >>> OnnxFlavor().load(folder, options, trusted=()).predict(x)  # doctest: +SKIP
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInputError, SignatureError
from loopml.packaging._casting import cast_array
from loopml.packaging._tables import as_array
from loopml.packaging.devices import onnx_session
from loopml.packaging.flavors._common import require
from loopml.packaging.flavors.base import Predictor

__all__ = ["OnnxFlavor", "OnnxPredictor"]

FILE = "model.onnx"
# ONNX tensor element types -> the dtype names signatures and casting use.
_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int16)": "int16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
    "tensor(string)": "str",
}


class OnnxFlavor:
    """ONNX models: a ``onnx.ModelProto`` or serialized ONNX bytes.

    Example:
        >>> OnnxFlavor().accepts(object())
        False
    """

    name = "onnx"

    def accepts(self, model: Any) -> bool:
        onnx = sys.modules.get("onnx")
        return isinstance(model, bytes | bytearray) or (
            onnx is not None and isinstance(model, onnx.ModelProto)
        )

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        data = _checked_bytes(model)
        (folder / FILE).write_bytes(data)
        return {"file": FILE}

    def load(
        self,
        folder: Path,
        options: dict[str, Any],
        *,
        trusted: Sequence[str],
        device: str = "cpu",
    ) -> Predictor:
        """The graph in an onnxruntime session on ``device`` (see ``packaging.devices``)."""
        return OnnxPredictor(onnx_session(str(folder / options.get("file", FILE)), device))

    def wrap(self, model: Any) -> Predictor:
        """The model in an onnxruntime session, as loading gives it back."""
        return OnnxPredictor(onnx_session(_checked_bytes(model), "cpu"))

    def requirements(self, model: Any) -> list[str]:
        return ["onnxruntime"]


class OnnxPredictor:
    """An onnxruntime session: one array (single-input graphs) or a dict of arrays in.

    ``predict`` gives the first output for a single-output graph, else a dict of them.

    Example:
        >>> session = onnxruntime.InferenceSession("model.onnx")  # doctest: +SKIP
        >>> OnnxPredictor(session).predict(np.ones((2, 3)))  # doctest: +SKIP
        array([[6.], [6.]], dtype=float32)
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        self._inputs = {i.name: _TYPES.get(i.type) for i in session.get_inputs()}
        self._outputs = [o.name for o in session.get_outputs()]

    def predict(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            if len(self._inputs) != 1:
                raise InvalidInputError(
                    f"this ONNX model takes {len(self._inputs)} inputs "
                    f"({', '.join(self._inputs)}); pass a dict of arrays by name"
                )
            data = {next(iter(self._inputs)): data}
        feed, problems = {}, []
        for name, dtype in self._inputs.items():
            if name not in data:
                problems.append(f"missing input '{name}'")
                continue
            values, problem = as_array(data[name]), None
            if dtype is not None:
                values, problem = cast_array(values, dtype)
            if problem:
                problems.append(f"input '{name}' ({dtype}): {problem}")
            feed[name] = values
        if problems:
            raise SignatureError(
                f"input does not fit the ONNX graph: {'; '.join(problems)}", problems=problems
            )
        outputs = self.session.run(None, feed)
        return outputs[0] if len(outputs) == 1 else dict(zip(self._outputs, outputs, strict=True))


def _checked_bytes(model: Any) -> bytes:
    onnx = require("onnx", "onnx", "onnx", "saving an ONNX model")
    try:
        proto = (
            onnx.load_model_from_string(bytes(model))
            if isinstance(model, bytes | bytearray)
            else model
        )
        onnx.checker.check_model(proto)
    except Exception as err:  # DecodeError, ValidationError: the bytes are no valid graph
        raise InvalidInputError(
            f"this is not a valid ONNX model ({type(err).__name__}: {err}); export it again "
            "and check it with onnx.checker.check_model"
        ) from err
    return proto.SerializeToString()  # type: ignore[no-any-return]
