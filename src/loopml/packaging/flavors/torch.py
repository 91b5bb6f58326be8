"""The torch flavor: an ``nn.Module`` exported with ``torch.export`` (``model.pt2``).

``torch.export`` traces ``forward`` with the package's input example into a graph
that loads without the model's Python class; the batch dimension is left dynamic, so
the loaded model takes any number of rows. The example is read back from
``input_example.json``, which the package writes before calling the flavor. A
single array feeds ``forward(x)``; a dict of arrays feeds ``forward(**tensors)``.

Example:
    >>> options = TorchFlavor().save(net, folder)  # doctest: +SKIP
    >>> TorchFlavor().load(folder, options, trusted=()).predict(x).shape  # doctest: +SKIP
    (10, 3)
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from loopml.errors import DigestMismatchError, InvalidInputError
from loopml.packaging._example import decode_example
from loopml.packaging._tables import as_array
from loopml.packaging.devices import torch_device
from loopml.packaging.flavors._common import require
from loopml.packaging.flavors.base import Predictor

__all__ = ["TorchFlavor", "TorchPredictor"]

FILE = "model.pt2"
EXAMPLE = "input_example.json"
_FORCE_WEIGHTS_ONLY = "TORCH_FORCE_WEIGHTS_ONLY_LOAD"
_env_lock = threading.Lock()


class TorchFlavor:
    """PyTorch modules, exported (never pickled) with ``torch.export``.

    Example:
        >>> TorchFlavor().accepts(object())
        False
    """

    name = "torch"

    def accepts(self, model: Any) -> bool:
        torch = sys.modules.get("torch")
        return torch is not None and isinstance(model, torch.nn.Module)

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        torch = require("torch", "torch", "torch", "saving a torch model")
        if not (folder / EXAMPLE).is_file():
            raise InvalidInputError(
                "a torch model needs an input example: torch.export traces forward() with "
                "it; pass input_example=<a few rows of input>"
            )
        example = decode_example(json.loads((folder / EXAMPLE).read_text()))
        named = isinstance(example, Mapping)
        tensors = {k: _batch_of_two(torch, v) for k, v in _inputs(example).items()}
        dynamic = {k: {0: torch.export.Dim.AUTO} for k in tensors}
        args, kwargs = ((), tensors) if named else ((tensors["x"],), {})
        shapes: Any = dynamic if named else (dynamic["x"],)
        training = model.training
        model.eval()
        try:
            program = torch.export.export(model, args, kwargs, dynamic_shapes=shapes)
        finally:
            model.train(training)
        torch.export.save(program, folder / FILE)
        return {"file": FILE, "inputs": "named" if named else "tensor"}

    def load(
        self,
        folder: Path,
        options: dict[str, Any],
        *,
        trusted: Sequence[str],
        device: str = "cpu",
    ) -> Predictor:
        """The exported program as a module on ``device``; inputs are moved there too.

        Raises:
            DeviceUnavailableError: ``device`` is a GPU torch cannot see (checked first).
        """
        torch = require("torch", "torch", "torch", "loading a torch model")
        target = torch_device(device)
        try:
            with _weights_only():
                program = torch.export.load(folder / options.get("file", FILE))
        except Exception as err:
            if type(err).__name__ != "UnpicklingError":
                raise
            raise DigestMismatchError(
                f"{options.get('file', FILE)} holds Python objects besides tensors ({err}); "
                "loopml loads exported graphs and weights only: re-export the model"
            ) from err
        module = program.module()
        if target.type != "cpu":
            module = module.to(target)
        return TorchPredictor(module, named=options.get("inputs") == "named", device=target)

    def wrap(self, model: Any) -> Predictor:
        """The in-memory module, predicting like the loaded one (eval mode, no gradients)."""
        return TorchPredictor(model, named=False, eval_mode=True)

    def requirements(self, model: Any) -> list[str]:
        return ["torch"]


class TorchPredictor:
    """Calls a module on numpy input without gradients; gives numpy output back.

    A tuple of outputs becomes ``{"output_0": …, "output_1": …}``.

    Example:
        >>> identity = TorchPredictor(torch.nn.Identity(), named=False)  # doctest: +SKIP
        >>> identity.predict(np.ones((2, 3)))  # doctest: +SKIP
        array([[1., 1., 1.],
               [1., 1., 1.]])
    """

    def __init__(
        self, module: Any, *, named: bool, eval_mode: bool = False, device: Any = None
    ) -> None:
        self.module = module
        self.named = named
        self.device = device  # a torch.device the module is on; None: where it already is
        self._eval_mode = eval_mode  # only a live nn.Module can switch; an export cannot

    def predict(self, data: Any) -> Any:
        import torch

        named = self.named or isinstance(data, Mapping)
        tensors = {k: torch.as_tensor(v, device=self.device) for k, v in _inputs(data).items()}
        training = self._eval_mode and self.module.training
        if training:
            self.module.eval()
        try:
            with torch.no_grad():
                out = self.module(**tensors) if named else self.module(tensors["x"])
        finally:
            if training:
                self.module.train(True)
        return _to_numpy(out)


def _inputs(data: Any) -> dict[str, np.ndarray[Any, Any]]:
    if isinstance(data, Mapping):
        return {str(k): _writable(as_array(v)) for k, v in data.items()}
    return {"x": _writable(as_array(data))}


def _writable(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    # torch.as_tensor shares memory and warns about read-only arrays; copy those.
    return values if values.flags.writeable else values.copy()


def _batch_of_two(torch: Any, values: np.ndarray[Any, Any]) -> Any:
    # A batch of one would be specialised to size 1 by torch.export ("0/1
    # specialisation"); repeating the row keeps the batch dimension dynamic.
    if values.shape[0] == 1:
        values = np.concatenate([values, values])
    return torch.as_tensor(values)


def _to_numpy(out: Any) -> Any:
    if hasattr(out, "detach"):
        return out.detach().cpu().numpy()
    if isinstance(out, Mapping):
        return {str(k): _to_numpy(v) for k, v in out.items()}
    if isinstance(out, tuple | list):
        return {f"output_{i}": _to_numpy(v) for i, v in enumerate(out)}
    return out


@contextmanager
def _weights_only() -> Iterator[None]:
    # torch.export.load retries a weights-only unpickle that failed with
    # weights_only=False: a full unpickle, which runs whatever the file says. This
    # variable makes torch refuse that retry. Set only while loading, under a lock;
    # a user who set TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD chose otherwise explicitly.
    if os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD") or os.environ.get(_FORCE_WEIGHTS_ONLY):
        yield
        return
    with _env_lock:
        os.environ[_FORCE_WEIGHTS_ONLY] = "1"
        try:
            yield
        finally:
            os.environ.pop(_FORCE_WEIGHTS_ONLY, None)
