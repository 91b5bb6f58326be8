"""Small helpers the built-in flavors share: optional imports and installed distributions.

Example:
    >>> first_installed("numpy", "numpy-nightly")
    'numpy'
"""

from __future__ import annotations

import importlib
import importlib.metadata
from types import ModuleType

from loopml.errors import MissingDependencyError

__all__ = ["first_installed", "require"]


def require(module: str, package: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` or say which extra to install for ``feature``.

    Raises:
        MissingDependencyError: ``module`` is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingDependencyError(package, extra, feature) from err


def first_installed(*distributions: str) -> str:
    """The first of ``distributions`` that is installed (the first one when none is).

    Some libraries ship under several names (``xgboost`` and ``xgboost-cpu``); a
    package pins the one this environment really has.
    """
    for name in distributions:
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        return name
    return distributions[0]
