"""Small helpers the built-in flavors share: optional imports and installed distributions.

Example:
    >>> first_installed("numpy", "numpy-nightly")
    'numpy'
"""

from __future__ import annotations

import importlib.metadata

from loopml.packaging._optional import require

__all__ = ["first_installed", "require"]


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
