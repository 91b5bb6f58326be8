"""Model flavors: how each kind of model is saved into a package and loaded back.

Built in: ``sklearn`` (skops), ``lightgbm`` (native text), ``xgboost`` (native UBJSON),
``torch`` (``torch.export``), ``onnx`` and ``pyfunc`` (any object with ``predict``).
A third party adds a flavor by naming its class: ``flavor="py:package.module.Class"``
(see :class:`~loopml.registry.flavors.base.Flavor` for what it must have).

Example:
    >>> from sklearn.linear_model import LinearRegression
    >>> flavor_for(LinearRegression()).name
    'sklearn'
    >>> get_flavor("onnx").name
    'onnx'
"""

from __future__ import annotations

import importlib
from typing import Any

from loopml._plugins import load_plugin
from loopml.errors import InvalidInputError, NotFoundError
from loopml.registry.flavors.base import Flavor, Predictor

__all__ = ["FLAVORS", "Flavor", "Predictor", "flavor_for", "get_flavor"]

FLAVORS = ("sklearn", "lightgbm", "xgboost", "torch", "onnx", "pyfunc")
# flavor_for tries the most specific first: LightGBM and XGBoost wrappers are
# scikit-learn estimators too, and nearly everything has a ``predict``.
_ORDER = ("lightgbm", "xgboost", "sklearn", "torch", "onnx", "pyfunc")
_CLASSES = {
    "sklearn": "SklearnFlavor",
    "lightgbm": "LightgbmFlavor",
    "xgboost": "XgboostFlavor",
    "torch": "TorchFlavor",
    "onnx": "OnnxFlavor",
    "pyfunc": "PyfuncFlavor",
}
_MEMBERS = ("name", "accepts", "save", "load", "requirements")
_built: dict[str, Flavor] = {}


def get_flavor(name: str) -> Flavor:
    """The flavor called ``name``: a built-in one or ``py:package.module.Class``.

    Raises:
        NotFoundError: no built-in flavor has that name.
        InvalidInputError: a ``py:`` class cannot be imported or lacks a Flavor member.

    Example:
        >>> get_flavor("pyfunc").name
        'pyfunc'
    """
    if name.startswith("py:"):
        flavor: Flavor = load_plugin(
            name,
            {},
            members=_MEMBERS,
            what="a model flavor",
            protocol="loopml.registry.flavors.base.Flavor",
        )
        return flavor
    found = _built.get(name)
    if found is None:
        if name not in _CLASSES:
            raise NotFoundError(
                "flavor",
                name,
                choices=FLAVORS,
                hint=f"flavors: {', '.join(FLAVORS)}, or py:package.module.Class for your own",
            )
        module = importlib.import_module(f"loopml.registry.flavors.{name}")
        found = _built[name] = getattr(module, _CLASSES[name])()
    return found


def flavor_for(model: Any) -> Flavor:
    """The built-in flavor that can save ``model``.

    Raises:
        InvalidInputError: no flavor fits; the message says how to make one fit.

    Example:
        >>> class Echo:
        ...     def predict(self, data):
        ...         return data
        >>> flavor_for(Echo()).name
        'pyfunc'
    """
    for name in _ORDER:
        flavor = get_flavor(name)
        if flavor.accepts(model):
            return flavor
    raise InvalidInputError(
        f"loopml cannot package a {type(model).__module__}.{type(model).__qualname__}: it is "
        "no scikit-learn estimator, LightGBM or XGBoost model, torch module or ONNX model, "
        "and has no predict method; give it a predict(self, data) method (the pyfunc "
        "flavor), or pass flavor='py:your.module.Flavor'"
    )
