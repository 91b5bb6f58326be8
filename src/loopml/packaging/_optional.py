"""Optional libraries: import one, or say which extra to install.

Example:
    >>> require("json", "json", "core", "reading JSON").__name__
    'json'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from loopml.errors import MissingDependencyError

__all__ = ["require"]


def require(module: str, package: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` or say which extra to install for ``feature``.

    Raises:
        MissingDependencyError: ``module`` is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingDependencyError(package, extra, feature) from err
