"""Load feature definitions from a Python file, for ``loopml features apply``.

The file is executed as a module (under a private name), and every
:class:`~loopml.features.Entity`, :class:`~loopml.features.FeatureView` and
:class:`~loopml.features.OnDemandFeatureView` bound to a module-level name is
collected, in the order they were defined. Relative Parquet sources are resolved
against the file's directory, so the definitions mean the same thing wherever the
command is run from.

Example:
    >>> definitions = load_definitions("features.py")  # doctest: +SKIP
    >>> [d.name for d in definitions]  # doctest: +SKIP
    ['driver', 'driver_stats', 'trip_density']
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from loopml.errors import InvalidInputError, MissingFileError
from loopml.features._functions import exec_file
from loopml.features.definitions import Entity, FeatureView
from loopml.features.on_demand import OnDemandFeatureView
from loopml.features.registry import Definition

__all__ = ["load_definitions", "rebase"]


def load_definitions(path: str | os.PathLike[str]) -> list[Definition]:
    """Every definition a Python file binds to a module-level name.

    Raises:
        NotFoundError: the file does not exist.
        InvalidInputError: it is not a ``.py`` file, or defines nothing to apply.
    """
    file = Path(path).expanduser().absolute()
    if not file.is_file():
        raise MissingFileError(
            "definitions file", str(path), hint="pass the Python file that defines your features"
        )
    if file.suffix != ".py":
        raise InvalidInputError(f"{path} is not a Python (.py) file of feature definitions")
    module = exec_file(file, again=True)  # the file may have changed since last time
    found: dict[int, Definition] = {}
    for value in list(vars(module).values()):
        if isinstance(value, Entity | FeatureView | OnDemandFeatureView):
            found.setdefault(id(value), rebase(value, file.parent))
    if not found:
        raise InvalidInputError(
            f"{path} defines no Entity, FeatureView or OnDemandFeatureView at module level; "
            "bind each definition to a name, e.g. driver = Entity('driver', ['driver_id'])"
        )
    return list(found.values())


def rebase(definition: Definition, base: Path) -> Definition:
    """``definition`` with relative Parquet sources made absolute against ``base``."""
    if isinstance(definition, FeatureView):
        return definition.with_base_dir(base)
    if isinstance(definition, OnDemandFeatureView):
        sources = [
            s.with_base_dir(base) if isinstance(s, FeatureView) else s for s in definition.sources
        ]
        return replace(definition, sources=sources)
    return definition
