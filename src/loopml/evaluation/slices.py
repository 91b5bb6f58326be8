"""Slices: the same metrics, measured per group of rows.

A slice is a column (one group per distinct value, missing values in a group of their
own named ``<missing>``) or a named condition, a pandas query string, whose groups are
the rows where it holds (``"true"``) and the rest (``"false"``). Fairness gates
(``gap(recall, by=sex) <= 0.05``) compare a metric across the groups of a slice.

Example:
    >>> [piece.name for piece in parse_slices(["sex", {"name": "senior", "where": "age >= 60"}])]
    ['sex', 'senior']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from loopml.errors import InvalidInputError, close_matches
from loopml.evaluation.models import SliceMetrics
from loopml.metrics import Task, compute_metrics

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import NDArray

__all__ = [
    "MAX_GROUPS",
    "MISSING",
    "Slice",
    "SliceSpec",
    "check_slice_columns",
    "parse_slices",
    "slice_groups",
    "slice_metrics",
]

MAX_GROUPS = 100
MISSING = "<missing>"


@dataclass(frozen=True, slots=True)
class Slice:
    """One way to split the rows: by a column's values, or by a condition.

    Attributes:
        name: how results name it (the column, or the name given to the condition).
        column: the column whose values form the groups.
        where: a pandas query string (``"age >= 60"``); groups ``"true"`` and ``"false"``.

    Example:
        >>> Slice.of("region").column
        'region'
    """

    name: str
    column: str | None = None
    where: str | None = None

    @classmethod
    def of(cls, spec: SliceSpec) -> Slice:
        """A slice from a column name, a ``{"name": …, "where": …}`` mapping or a slice."""
        if isinstance(spec, Slice):
            return spec
        if isinstance(spec, str):
            if not spec.strip():
                raise InvalidInputError("a slice column name is empty; name a column of the data")
            return cls(name=spec, column=spec)
        if isinstance(spec, Mapping):
            return _from_mapping(spec)
        raise InvalidInputError(
            f"a slice must be a column name or {{'name': ..., 'where': ...}}, got {spec!r}"
        )

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns a column slice needs (a condition's columns are checked by pandas)."""
        return (self.column,) if self.column is not None else ()


SliceSpec = str | Slice | Mapping[str, Any]


def _from_mapping(spec: Mapping[str, Any]) -> Slice:
    unknown = set(spec) - {"name", "where", "column"}
    if unknown:
        raise InvalidInputError(
            f"unknown slice key(s) {sorted(unknown)}; a slice is a column name, "
            "{'name': 'senior', 'where': 'age >= 60'} or {'column': 'sex'}"
        )
    if "column" in spec and "where" not in spec:
        column = str(spec["column"])
        return Slice(name=str(spec.get("name", column)), column=column)
    if "where" not in spec or "name" not in spec:
        raise InvalidInputError(
            f"slice {dict(spec)!r} needs both 'name' and 'where' "
            "(e.g. {'name': 'senior', 'where': 'age >= 60'})"
        )
    return Slice(name=str(spec["name"]), where=str(spec["where"]))


def parse_slices(specs: Iterable[SliceSpec]) -> list[Slice]:
    """Slices from their specs, refusing two slices with one name.

    Raises:
        InvalidInputError: a malformed spec or a repeated name.
    """
    found: dict[str, Slice] = {}
    for spec in specs:
        piece = Slice.of(spec)
        if piece.name in found and found[piece.name] != piece:
            raise InvalidInputError(f"two different slices are named {piece.name!r}; rename one")
        found[piece.name] = piece
    return list(found.values())


def slice_groups(frame: pd.DataFrame, piece: Slice) -> list[tuple[str, NDArray[np.intp]]]:
    """The groups of ``piece`` in ``frame``: (group label, row positions), by label.

    Raises:
        InvalidInputError: an unknown column (with close matches), a column with more
            than :data:`MAX_GROUPS` values, or a condition pandas cannot evaluate.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"sex": ["F", "M", "F"]})
        >>> [(label, rows.tolist()) for label, rows in slice_groups(frame, Slice.of("sex"))]
        [('F', [0, 2]), ('M', [1])]
    """
    if piece.where is not None:
        mask = _condition(frame, piece)
        groups = [("true", np.flatnonzero(mask)), ("false", np.flatnonzero(~mask))]
        return [(label, rows) for label, rows in groups if len(rows)]
    assert piece.column is not None
    _check_columns(frame, [piece.column])
    indices = frame.groupby(piece.column, dropna=False, sort=True, observed=True).indices
    if len(indices) > MAX_GROUPS:
        raise InvalidInputError(
            f"slice column {piece.column!r} has {len(indices)} distinct values (at most "
            f"{MAX_GROUPS}); slice by a column with few values, or by a condition such as "
            f"{{'name': 'high', 'where': '{piece.column} >= 60'}}"
        )
    # groupby sorts by value (numbers as numbers), missing values last.
    return [(_label(value), np.asarray(rows)) for value, rows in indices.items()]


def slice_metrics(
    task: Task,
    frame: pd.DataFrame,
    slices: Sequence[Slice],
    y_true: NDArray[Any],
    y_pred: NDArray[Any],
    proba: NDArray[Any] | None = None,
    classes: NDArray[Any] | None = None,
) -> tuple[SliceMetrics, list[str]]:
    """Metrics per group of each slice (each with ``rows``), and notes on those left out.

    Example:
        >>> import numpy as np, pandas as pd
        >>> frame = pd.DataFrame({"sex": ["F", "M", "F", "M"]})
        >>> values, _ = slice_metrics("classification", frame, [Slice.of("sex")],
        ...                           np.array([1, 1, 0, 0]), np.array([1, 0, 0, 1]))
        >>> values["sex"]["F"]["accuracy"], values["sex"]["M"]["rows"]
        (1.0, 2.0)
    """
    result: SliceMetrics = {}
    notes: list[str] = []
    for piece in slices:
        result[piece.name] = {}
        for label, rows in slice_groups(frame, piece):
            part_proba = None if proba is None else np.asarray(proba)[rows]
            values, left_out = compute_metrics(
                task, y_true[rows], y_pred[rows], part_proba, classes
            )
            result[piece.name][label] = {"rows": float(len(rows)), **values}
            notes.extend(f"slice {piece.name}={label}: {note}" for note in left_out)
    return result, notes


def check_slice_columns(frame: pd.DataFrame, slices: Sequence[Slice]) -> None:
    """Refuse slices naming columns ``frame`` does not have (before any model runs)."""
    _check_columns(frame, [column for piece in slices for column in piece.columns])


def _check_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    have = [str(c) for c in frame.columns]
    for column in columns:
        if column not in frame.columns:
            near = close_matches(column, have)
            hint = f"; did you mean {' or '.join(near)}?" if near else ""
            raise InvalidInputError(
                f"slice column {column!r} is not in the data{hint}; columns: {', '.join(have)}"
            )


def _condition(frame: pd.DataFrame, piece: Slice) -> NDArray[np.bool_]:
    assert piece.where is not None
    try:
        mask = frame.eval(piece.where)
    except Exception as err:
        raise InvalidInputError(
            f"slice {piece.name!r}: pandas could not evaluate {piece.where!r}: {err}"
        ) from err
    values = np.asarray(mask)
    if values.shape != (len(frame),) or values.dtype != np.bool_:
        raise InvalidInputError(
            f"slice {piece.name!r}: {piece.where!r} must give one True/False per row "
            "(a condition such as 'age >= 60')"
        )
    return values


def _label(value: Any) -> str:
    import pandas as pd

    return MISSING if pd.isna(value) else str(value)
