"""Feature definitions written in Python: entities, typed features and feature views.

A definition is a frozen value with a canonical :meth:`spec` (plain JSON) whose digest
is its identity in the registry. On-demand transformations live in
:mod:`loopml.features.on_demand`.

Example:
    >>> driver = Entity("driver", join_keys=["driver_id"])
    >>> stats = FeatureView(
    ...     "driver_stats",
    ...     entities=[driver],
    ...     source="/data/driver_stats/*.parquet",
    ...     timestamp_field="event_time",
    ...     features=[Feature("trips", "int64"), Feature("rating", "float64")],
    ...     ttl=timedelta(days=2),
    ... )
    >>> stats.join_keys, stats.feature_names
    (('driver_id',), ('trips', 'rating'))
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from loopml.errors import InvalidInputError, quote
from loopml.features._types import check_dtype
from loopml.uris import is_uri, parse_uri

__all__ = ["Entity", "Feature", "FeatureView", "check_column", "check_name"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,127}")
_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def check_name(name: object, what: str) -> str:
    """``name`` if it can name a definition (letters, digits, ``_``, ``-``; no ``:``)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInputError(
            f"{what} name {quote(name)} is not valid; use letters, digits, '_' and '-', "
            "starting with a letter or '_' (at most 128 characters)"
        )
    return name


def check_column(name: object, what: str) -> str:
    """``name`` if it can name a column (a Python identifier of at most 128 characters)."""
    if not isinstance(name, str) or not _COLUMN.fullmatch(name):
        raise InvalidInputError(
            f"{what} {quote(name)} is not a valid column name; use letters, digits and '_', "
            "starting with a letter or '_'"
        )
    return name


@dataclass(frozen=True)
class Feature:
    """A typed feature column.

    Args:
        name: the column's name in the source and in results.
        dtype: one of ``int32``, ``int64``, ``float32``, ``float64``, ``bool``, ``string``,
            ``bytes``, ``timestamp``.
        description: free text for people.

    Example:
        >>> Feature("trips", "int64").spec()
        {'name': 'trips', 'dtype': 'int64', 'description': ''}
    """

    name: str
    dtype: str
    description: str = ""

    def __post_init__(self) -> None:
        check_column(self.name, "feature")
        check_dtype(self.dtype, owner=f"feature '{self.name}'")

    def spec(self) -> dict[str, Any]:
        """The canonical JSON form."""
        return {"name": self.name, "dtype": self.dtype, "description": self.description}


@dataclass(frozen=True)
class Entity:
    """What features are about (a driver, a customer), identified by its join keys.

    Args:
        name: the entity's name.
        join_keys: the columns that identify one entity; defaults to ``[name]``.
        description: free text for people.

    Example:
        >>> Entity("driver", join_keys=["driver_id"]).join_keys
        ('driver_id',)
    """

    kind: ClassVar[str] = "entity"

    name: str
    join_keys: Sequence[str] = ()
    description: str = ""

    def __post_init__(self) -> None:
        check_name(self.name, "entity")
        keys = (self.join_keys,) if isinstance(self.join_keys, str) else tuple(self.join_keys)
        keys = keys or (self.name,)
        for key in keys:
            check_column(key, f"join key of entity '{self.name}'")
        if len(set(keys)) != len(keys):
            raise InvalidInputError(f"entity '{self.name}' repeats a join key: {list(keys)}")
        object.__setattr__(self, "join_keys", keys)

    def spec(self) -> dict[str, Any]:
        """The canonical JSON form."""
        return {
            "name": self.name,
            "join_keys": list(self.join_keys),
            "description": self.description,
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Entity:
        """The entity a :meth:`spec` describes."""
        return cls(spec["name"], spec["join_keys"], spec.get("description", ""))


@dataclass(frozen=True)
class FeatureView:
    """Typed features of some entities, read from Parquet files or a dataset version.

    Args:
        name: the view's name; features are referred to as ``"<view>:<feature>"``.
        entities: the entities the rows are about; their join keys must be source columns.
        source: a Parquet file, directory or glob (relative paths are resolved when the
            view is applied), or a dataset URI such as ``datasets:/trips@latest``.
        timestamp_field: the source column saying when each row's values became true.
        features: the typed feature columns.
        ttl: how long a value stays valid after its timestamp; ``None`` for ever.
        description: free text for people.
        tags: free key/value labels.
    """

    kind: ClassVar[str] = "feature_view"

    name: str
    entities: Sequence[Entity]
    source: str | os.PathLike[str]
    timestamp_field: str
    features: Sequence[Feature]
    ttl: timedelta | None = None
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.name, "feature view")
        entities = tuple(self.entities)
        if not entities or not all(isinstance(e, Entity) for e in entities):
            raise InvalidInputError(
                f"feature view '{self.name}' needs entities=[Entity(...), ...] "
                "(the Entity objects, not their names)"
            )
        features = tuple(self.features)
        if not features or not all(isinstance(f, Feature) for f in features):
            raise InvalidInputError(
                f"feature view '{self.name}' needs features=[Feature(name, dtype), ...]"
            )
        object.__setattr__(self, "entities", entities)
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "source", _check_source(self.source, self.name))
        object.__setattr__(self, "tags", dict(self.tags))
        check_column(self.timestamp_field, f"timestamp field of feature view '{self.name}'")
        self._check_columns()
        if self.ttl is not None and (
            not isinstance(self.ttl, timedelta) or self.ttl <= timedelta(0)
        ):
            raise InvalidInputError(
                f"feature view '{self.name}' has ttl={self.ttl!r}; use a positive "
                "datetime.timedelta, or None for values that never expire"
            )

    def _check_columns(self) -> None:
        seen: dict[str, str] = {}
        columns = [(k, "join key") for k in self.join_keys]
        columns += [(self.timestamp_field, "timestamp field")]
        columns += [(f.name, "feature") for f in self.features]
        for column, role in columns:
            if column in seen:
                raise InvalidInputError(
                    f"feature view '{self.name}' uses column '{column}' twice "
                    f"(as {seen[column]} and as {role}); each column has one role"
                )
            seen[column] = role

    @property
    def join_keys(self) -> tuple[str, ...]:
        """The key columns of all its entities, in order."""
        return tuple(key for entity in self.entities for key in entity.join_keys)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The names of its features, in declaration order."""
        return tuple(f.name for f in self.features)

    @property
    def source_is_dataset(self) -> bool:
        """Whether the source is a ``datasets:/`` URI (else Parquet files)."""
        return is_uri(str(self.source), "datasets")

    def with_base_dir(self, base: Path) -> FeatureView:
        """This view with a relative Parquet source made absolute against ``base``."""
        source = str(self.source)
        if self.source_is_dataset or Path(source).expanduser().is_absolute():
            return replace(self, source=str(Path(source).expanduser()))
        return replace(self, source=os.path.normpath(base.absolute() / source))

    def spec(self) -> dict[str, Any]:
        """The canonical JSON form (the TTL in seconds)."""
        ttl = None if self.ttl is None else self.ttl.total_seconds()
        return {
            "name": self.name,
            "entities": [{"name": e.name, "join_keys": list(e.join_keys)} for e in self.entities],
            "source": str(self.source),
            "timestamp_field": self.timestamp_field,
            "features": [f.spec() for f in self.features],
            "ttl": int(ttl) if ttl is not None and ttl.is_integer() else ttl,
            "description": self.description,
            "tags": dict(sorted(self.tags.items())),
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> FeatureView:
        """The view a :meth:`spec` describes."""
        return cls(
            name=spec["name"],
            entities=[Entity(e["name"], e["join_keys"]) for e in spec["entities"]],
            source=spec["source"],
            timestamp_field=spec["timestamp_field"],
            features=[
                Feature(f["name"], f["dtype"], f.get("description", "")) for f in spec["features"]
            ],
            ttl=None if spec.get("ttl") is None else timedelta(seconds=spec["ttl"]),
            description=spec.get("description", ""),
            tags=spec.get("tags", {}),
        )


def _check_source(source: object, view: str) -> str:
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if not isinstance(source, str) or not source.strip():
        raise InvalidInputError(
            f"feature view '{view}' needs a source: a Parquet path or glob, or a dataset "
            "URI such as datasets:/name@latest"
        )
    if is_uri(source, "datasets"):
        uri = parse_uri(source)
        if uri.path:
            raise InvalidInputError(
                f"feature view '{view}': source {source!r} names a file inside a dataset; "
                "name the dataset version itself, e.g. datasets:/name@latest"
            )
    return source
