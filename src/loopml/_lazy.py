"""Lazy package faces: a name is imported from its module on first use.

``import loopml`` (and ``loopml.data``, ``loopml.registry``, …) must stay light, so a
package's ``__init__`` maps each public name to the module that defines it and lets
this ``__getattr__`` import it when someone asks.

Example:
    >>> namespace: dict[str, object] = {}
    >>> getattr_ = lazy_getattr("pkg", {"OrderedDict": "collections"}, namespace)
    >>> getattr_("OrderedDict").__name__, "OrderedDict" in namespace
    ('OrderedDict', True)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(
    package: str, exports: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``exports[name]`` and keeps the value.

    Args:
        package: the package's name, for the error message.
        exports: public name -> the module that defines it.
        namespace: the package's ``globals()``; the value is cached there, so the next
            access does not come back here.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module '{package}' has no attribute '{name}'")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
