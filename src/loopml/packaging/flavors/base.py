"""What a flavor is: one way to save a kind of model into a package and load it back.

Each flavor is a sibling module (``sklearn.py``, ``lightgbm.py``, …) and
:func:`loopml.packaging.flavors.flavor_for` picks one by the model's type; a third party
adds one with a ``py:package.module.Class`` name.

Example:
    >>> from loopml.packaging.flavors import get_flavor  # doctest: +SKIP
    >>> options = get_flavor("sklearn").save(estimator, folder)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = ["Flavor", "Predictor"]


@runtime_checkable
class Predictor(Protocol):
    """What loading gives back: at least ``predict``; ``predict_proba`` where it exists."""

    def predict(self, data: Any) -> Any: ...


class Flavor(Protocol):
    """Saving and loading one kind of model.

    Attributes:
        name: the flavor's name in ``model.json`` (``"sklearn"``).
    """

    name: str

    def accepts(self, model: Any) -> bool:
        """Whether this flavor can save ``model`` (checked without importing heavy libraries
        unless the model's own module is already imported)."""
        ...

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        """Write the model's files into ``folder``; return options stored in ``model.json``.

        ``folder`` already holds ``input_example.json`` when the caller gave an example
        (the torch flavor traces the model with it). A flavor may also define
        ``wrap(model) -> Predictor``, the in-memory model predicting as the loaded one
        will; the package predicts on the example through it to infer output types.
        """
        ...

    def load(self, folder: Path, options: dict[str, Any], *, trusted: Sequence[str]) -> Predictor:
        """Load the model saved in ``folder`` (files already verified)."""
        ...

    def requirements(self, model: Any) -> list[str]:
        """Distribution names the model needs at load time (pinned by the package)."""
        ...
