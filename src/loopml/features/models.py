"""Value objects the feature store hands back: registry rows, apply diffs, materializations.

Example:
    >>> change = FieldChange("ttl", "changed", 86400, 3600)
    >>> str(change)
    'ttl: 86400 -> 3600'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "ApplyResult",
    "DefinitionChange",
    "FeatureUse",
    "FieldChange",
    "Materialization",
    "MaterializationResult",
    "OnlineResponse",
    "RegisteredDefinition",
    "ResolvedFeatures",
]

Kind = Literal["entity", "feature_view", "on_demand_feature_view"]
KINDS: tuple[Kind, ...] = ("entity", "feature_view", "on_demand_feature_view")


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One changed field of a spec, by dotted path (``features.trips.dtype``)."""

    path: str
    change: Literal["added", "removed", "changed", "reordered"]
    old: Any = None
    new: Any = None

    def __str__(self) -> str:
        if self.change == "added":
            return f"{self.path}: added {self.new!r}"
        if self.change == "removed":
            return f"{self.path}: removed (was {self.old!r})"
        return f"{self.path}: {self.old!r} -> {self.new!r}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"path": self.path, "change": self.change, "old": self.old, "new": self.new}


@dataclass(frozen=True, slots=True)
class DefinitionChange:
    """What ``apply`` did with one definition.

    Attributes:
        kind: ``entity``, ``feature_view`` or ``on_demand_feature_view``.
        name: the definition's name.
        action: ``created`` (version 1), ``updated`` (a new version) or ``unchanged``.
        version: the version now current.
        previous_version: the version before, ``None`` when created.
        changes: the fields that differ from the previous version.
    """

    kind: Kind
    name: str
    action: Literal["created", "updated", "unchanged"]
    version: int
    previous_version: int | None = None
    changes: tuple[FieldChange, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "kind": self.kind,
            "name": self.name,
            "action": self.action,
            "version": self.version,
            "previous_version": self.previous_version,
            "changes": [c.to_dict() for c in self.changes],
        }


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """The diff ``apply`` made, one :class:`DefinitionChange` per definition given.

    Example:
        >>> ApplyResult(()).changed
        False
    """

    changes: tuple[DefinitionChange, ...] = field(default_factory=tuple)

    @property
    def changed(self) -> bool:
        """Whether any definition got a new version."""
        return any(c.action != "unchanged" for c in self.changes)

    def of(self, name: str) -> DefinitionChange:
        """The change of the definition called ``name``."""
        for change in self.changes:
            if change.name == name:
                return change
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"changed": self.changed, "definitions": [c.to_dict() for c in self.changes]}


@dataclass(frozen=True, slots=True)
class RegisteredDefinition:
    """One stored version of a definition, as the registry keeps it.

    Attributes:
        spec: the canonical spec; :func:`loopml.features.registry.from_spec` turns it
            back into a definition object.
        created_at: Unix milliseconds.
    """

    kind: Kind
    name: str
    version: int
    digest: str
    spec: dict[str, Any]
    created_at: int
    created_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "spec": self.spec,
        }


@dataclass(frozen=True, slots=True)
class MaterializationResult:
    """What one materialization wrote for one feature view.

    Attributes:
        view: the feature view's name.
        version: the view's version that was materialized.
        start: the window's inclusive start (UTC).
        end: the window's exclusive end (UTC).
        rows: how many entities were written (the latest row of each in the window).
    """

    view: str
    version: int
    start: datetime
    end: datetime
    rows: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (times as ISO 8601)."""
        return {
            "view": self.view,
            "version": self.version,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "rows": self.rows,
        }


@dataclass(frozen=True, slots=True)
class Materialization:
    """One materialization run of a feature view, as the metadata store remembers it.

    Attributes:
        view: the feature view's name.
        version: the view's version that was materialized.
        start: the window's inclusive start (Unix milliseconds).
        end: the window's exclusive end (Unix milliseconds): the view's watermark in
            ``online_store`` once this run is the latest.
        rows: how many entities were written.
        online_store: the URL of the online store written to.
        created_at: when the run finished (Unix milliseconds).
    """

    view: str
    version: int
    start: int
    end: int
    rows: int
    online_store: str
    created_at: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "view": self.view,
            "version": self.version,
            "start": self.start,
            "end": self.end,
            "rows": self.rows,
            "online_store": self.online_store,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class OnlineResponse:
    """Online feature values: one list per column, one item per requested entity row.

    The columns are the join keys (as the rows gave them), then one per requested
    feature in the order asked. A value is ``None`` when the entity has none, or only
    one older than the view's TTL.

    Example:
        >>> response = OnlineResponse({"driver_id": [1001], "trips": [12]})
        >>> response.to_records()
        [{'driver_id': 1001, 'trips': 12}]
    """

    columns: dict[str, list[Any]]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), []))

    def to_dict(self) -> dict[str, list[Any]]:
        """``{column: [value per row]}``."""
        return {name: list(values) for name, values in self.columns.items()}

    def to_records(self) -> list[dict[str, Any]]:
        """``[{column: value}]``, one dict per row."""
        names = list(self.columns)
        return [
            dict(zip(names, row, strict=True)) for row in zip(*self.columns.values(), strict=True)
        ]

    def to_df(self) -> Any:
        """A pandas DataFrame with one row per entity row."""
        import pandas as pd

        return pd.DataFrame(self.columns)


@dataclass(frozen=True, slots=True)
class FeatureUse:
    """One feature a run's training sets gave it: the column it became and where it came from.

    Attributes:
        column: the training set's column (``"trips"``, or ``"driver_stats__trips"`` with
            full feature names).
        reference: ``"<view>:<feature>"``.
        version: the view's version the training set read.
        on_demand: whether the view is an on-demand view.

    Example:
        >>> FeatureUse("trips", "driver_stats:trips", 2).view
        'driver_stats'
    """

    column: str
    reference: str
    version: int
    on_demand: bool = False

    @property
    def view(self) -> str:
        """The (on-demand) feature view's name."""
        return self.reference.partition(":")[0]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "column": self.column,
            "reference": self.reference,
            "version": self.version,
            "on_demand": self.on_demand,
        }


@dataclass(frozen=True, slots=True)
class ResolvedFeatures:
    """Feature references resolved against the current definitions.

    Attributes:
        columns: ``{column: "<view>:<feature>"}`` in the order asked (wildcards expanded).
        join_keys: every join key a lookup of them needs.
        request_fields: the request fields their on-demand views need.

    Example:
        >>> ResolvedFeatures({"trips": "driver_stats:trips"}, ("driver_id",), ()).references
        ['driver_stats:trips']
    """

    columns: dict[str, str]
    join_keys: tuple[str, ...]
    request_fields: tuple[str, ...]

    @property
    def references(self) -> list[str]:
        """One ``"<view>:<feature>"`` per column."""
        return list(self.columns.values())
