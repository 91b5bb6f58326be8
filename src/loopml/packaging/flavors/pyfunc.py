"""The pyfunc flavor: any Python object with a ``predict(data)`` method, never pickled.

The package names the class (``module:QualName``) and keeps its state one of two ways:

- the class defines ``save_model(self, folder)`` and a classmethod
  ``load_model(cls, folder)``: they write and read ``pyfunc/`` themselves;
- otherwise every attribute must survive JSON (``pyfunc/state.json``); loading makes
  the object with ``cls.__new__`` (``__init__`` is not called) and sets them back.

When the class lives in a project file (not an installed package, not the standard
library) that file is copied to ``code/``; loading imports the module from there when
it cannot be imported otherwise.

Example:
    >>> class Doubler:  # doctest: +SKIP
    ...     factor = 2
    ...     def predict(self, data):
    ...         return [x * self.factor for x in data]
    >>> PyfuncFlavor().save(Doubler(), folder)  # doctest: +SKIP
    {'class': 'mymodels:Doubler', 'state': 'json', 'code': 'code/mymodels.py'}
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInputError
from loopml.packaging.flavors import _source
from loopml.packaging.flavors.base import Predictor

__all__ = ["PyfuncFlavor"]

FOLDER = "pyfunc"
STATE = "state.json"


class PyfuncFlavor:
    """Objects with a callable ``predict``: the door for any other kind of model.

    Example:
        >>> PyfuncFlavor().accepts(object())
        False
    """

    name = "pyfunc"

    def accepts(self, model: Any) -> bool:
        return callable(getattr(model, "predict", None))

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        cls = type(model)
        reference = _source.class_reference(cls)
        state = folder / FOLDER
        state.mkdir()
        if _has_hooks(cls):
            model.save_model(state)
            kind = "hooks"
        else:
            (state / STATE).write_text(json.dumps(_json_state(model), indent=2))
            kind = "json"
        code = _source.copy_module(cls, folder)
        return {"class": reference, "state": kind, "code": code}

    def load(self, folder: Path, options: dict[str, Any], *, trusted: Sequence[str]) -> Predictor:
        code = folder / _source.CODE if options.get("code") else None
        cls = _source.import_class(options["class"], code, trusted)
        state = folder / FOLDER
        if options.get("state") == "hooks":
            return cls.load_model(state)  # type: ignore[no-any-return]
        model = cls.__new__(cls)
        model.__dict__.update(json.loads((state / STATE).read_text()))
        return model  # type: ignore[no-any-return]

    def wrap(self, model: Any) -> Predictor:
        """The object itself: it already predicts as the loaded one will."""
        return model  # type: ignore[no-any-return]

    def requirements(self, model: Any) -> list[str]:
        return _source.distributions_of(type(model))


def _has_hooks(cls: type) -> bool:
    save = callable(getattr(cls, "save_model", None))
    load = isinstance(inspect.getattr_static(cls, "load_model", None), classmethod)
    if save != load:
        raise InvalidInputError(
            f"{cls.__name__} defines {'save_model' if save else 'load_model'} but not "
            f"{'a classmethod load_model(cls, folder)' if save else 'save_model(self, folder)'}; "
            "define both, or neither to store the attributes as JSON"
        )
    return save


def _json_state(model: Any) -> dict[str, Any]:
    name = type(model).__name__
    try:
        state = dict(vars(model))
    except TypeError as err:
        raise InvalidInputError(
            f"{name} has no __dict__ to store (it uses __slots__); define save_model(self, "
            "folder) and a classmethod load_model(cls, folder) to store its state"
        ) from err
    bad = [key for key, value in state.items() if not _survives_json(value)]
    if bad:
        listed = ", ".join(f"{key} ({type(state[key]).__name__})" for key in bad)
        raise InvalidInputError(
            f"{name} cannot be stored: JSON does not keep its attributes {listed}; make them "
            "plain JSON values (numbers, strings, lists, dicts with string keys), or define "
            f"save_model(self, folder) and a classmethod load_model(cls, folder) on {name} "
            "to store them yourself (never with pickle: loading must not run stored code)"
        )
    return state


def _survives_json(value: Any) -> bool:
    try:
        return bool(json.loads(json.dumps(value)) == value)
    except (TypeError, ValueError):
        return False
