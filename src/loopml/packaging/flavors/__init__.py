"""Model flavors: how each kind of model is saved into a package and loaded back.

Built in: ``sklearn`` (skops), ``lightgbm`` (native text), ``xgboost`` (native UBJSON),
``torch`` (``torch.export``), ``onnx`` and ``pyfunc`` (any object with ``predict``).
A third party adds a flavor by naming its class: ``flavor="py:package.module.Class"``
(see :class:`~loopml.packaging.flavors.base.Flavor` for what it must have). A ``py:``
flavor named by a stored package is loaded only when the caller trusts its class by
name (``trusted=["package.module.Class"]``): building it runs that class's code.

Example:
    >>> from sklearn.linear_model import LinearRegression
    >>> flavor_for(LinearRegression()).name
    'sklearn'
    >>> get_flavor("onnx").name
    'onnx'
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from loopml._plugins import PluginKind, check_class, resolve
from loopml.errors import InvalidInputError, NotFoundError
from loopml.packaging.flavors.base import Flavor, Predictor

__all__ = ["FLAVORS", "Flavor", "Predictor", "check_flavor", "flavor_for", "get_flavor"]

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
    # Holds models MLflow logged (imported by the server's MLflow API): never picked to
    # save a model, so it is neither in FLAVORS nor in _ORDER.
    "mlflow": "MlflowFlavor",
}
_built: dict[str, Flavor] = {}


def get_flavor(name: str, *, trusted: Sequence[str] | None = None) -> Flavor:
    """The flavor called ``name``: a built-in one or ``py:package.module.Class``.

    Args:
        name: the flavor's name.
        trusted: when ``name`` was read from a stored package, the class names the
            caller trusts; a ``py:`` class outside them is refused before it is imported.
            ``None`` when the caller named the flavor itself.

    Raises:
        NotFoundError: no built-in flavor has that name.
        UntrustedTypesError: a stored package's ``py:`` class is not in ``trusted``.
        InvalidInputError: a ``py:`` name is no importable class with every Flavor member.

    Example:
        >>> get_flavor("pyfunc").name
        'pyfunc'
    """
    return resolve(FLAVOR_KIND, name, trusted=trusted)


def check_flavor(name: str, where: str) -> None:
    """Refuse a package's flavor unless it is built in or an importable Flavor class.

    Registration calls it before storing anything. A ``py:`` class is imported but neither
    built nor called (loading it later still needs it trusted).

    Raises:
        InvalidInputError: naming the flavor, what is wrong and the built-in flavors.
    """
    if name in _CLASSES:
        return
    try:
        if not name.startswith("py:"):
            get_flavor(name)  # raises, naming close matches
        check_class(FLAVOR_KIND, name)
    except (InvalidInputError, NotFoundError) as err:
        raise InvalidInputError(
            f"{where}: model.json's flavor is refused: {err}", details={"flavor": name}
        ) from err


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


def _built_in(name: str, options: dict[str, Any]) -> Flavor:
    """The one object of the built-in flavor ``name`` (its module imported on first use)."""
    if name not in _CLASSES:  # "sklearn:x" has a built-in's scheme but names none
        raise _unknown(name, name)
    found = _built.get(name)
    if found is None:
        module = importlib.import_module(f"loopml.packaging.flavors.{name}")
        found = _built[name] = getattr(module, _CLASSES[name])()
    return found


def _unknown(name: str, scheme: str) -> Exception:
    return NotFoundError(
        "flavor",
        name,
        choices=FLAVORS,
        hint=f"flavors: {', '.join(FLAVORS)}, or py:package.module.Class for your own",
    )


FLAVOR_KIND: PluginKind[Flavor] = PluginKind(
    what="a model flavor",
    protocol="loopml.packaging.flavors.base.Flavor",
    members=("name", "accepts", "save", "load", "requirements"),
    builtins=dict.fromkeys(_CLASSES, _built_in),
    unknown=_unknown,
    bare_names=True,
    fold_case=False,
)
