"""The reference profile a schema keeps: a small sketch of the data it was inferred from.

An inferred schema remembers, per comparable column, what its values looked like, so
``validate`` checks drift by default, with no reference data at hand:

- a number: the counts of its values between the reference's deciles (``deciles``:
  the distinct 0 %, 10 %, …, 100 % quantiles, a value ``x`` in slot ``i`` when
  ``edges[i-1] < x <= edges[i]``, a slot below the minimum and one above the maximum),
  computed by :mod:`loopml.data.drift`'s :func:`~loopml.data.drift.quantile_edges` and
  :func:`~loopml.data.drift.bin_counts`, exactly as :func:`~loopml.data.drift.psi` bins
  numbers (this module measures no drift itself); plus 20 equal-width
  bins (``histogram``) for the picture;
- a category (string, categorical, bool with at most 50 distinct values): the count of
  each value.

Drift against a profile compares those counts with the data's counts in the same bins,
by ``chi2`` (at most :data:`~loopml.data.drift.AUTO_SAMPLE_LIMIT` values) or ``js``
(more), or by ``psi``/``js``/``chi2`` when the schema's ``[drift]`` names one.

The profile is saved next to the schema file, as ``<schema stem>.reference.json`` (sorted,
indented JSON: one number per line, so a diff shows what moved), and the schema's
``[drift]`` section names it (``profile = "schema.reference.json"``); the schema file
itself stays short.

Example:
    >>> import pyarrow as pa
    >>> sketch = reference_profile(pa.table({"x": [1.0, 2.0, 3.0, 4.0]}))
    >>> sketch["columns"]["x"]["deciles"]["counts"]
    [1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loopml.data._check_types import family_of, plain
from loopml.data.drift import bin_counts, quantile_edges
from loopml.errors import InvalidInputError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "CATEGORY_LIMIT",
    "REFERENCE_VERSION",
    "category_counts",
    "check_profile",
    "distribution",
    "numbers",
    "reference_profile",
    "sketch_column",
]

REFERENCE_VERSION = 1
CATEGORY_LIMIT = 50
_HISTOGRAM_BINS = 20


def reference_profile(table: pa.Table) -> dict[str, Any]:
    """The sketch of each comparable column of ``table`` (shape in the module docstring)."""
    columns: dict[str, Any] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        sketch = sketch_column(column)
        if sketch is not None:
            columns[str(name)] = sketch
    return {"reference_version": REFERENCE_VERSION, "row_count": table.num_rows, "columns": columns}


def sketch_column(column: pa.ChunkedArray) -> dict[str, Any] | None:
    """One column's sketch, or ``None`` when it has no values or too many categories."""
    family = family_of(column.type)
    if family in ("int", "float"):
        values = numbers(column)
        if not values.size:
            return None
        edges = quantile_edges(values, 10)
        return {
            "kind": "numeric",
            "deciles": {"edges": edges.tolist(), "counts": bin_counts(values, edges)},
            "histogram": _histogram(values),
        }
    if family in ("string", "categorical", "bool"):
        counts = category_counts(column)
        if not counts or len(counts) > CATEGORY_LIMIT:
            return None
        return {"kind": "categorical", "counts": [[value, n] for value, n in counts.items()]}
    return None


def numbers(column: pa.ChunkedArray) -> NDArray[np.float64]:
    """The finite values of a number column, as float64."""
    values = pc.cast(plain(column), pa.float64(), safe=False).to_numpy(zero_copy_only=False)
    finite: NDArray[np.float64] = np.asarray(values, dtype=np.float64)
    return finite[np.isfinite(finite)]


def category_counts(column: pa.ChunkedArray) -> dict[Any, int]:
    """Each non-null value of a column and how often it occurs, most frequent first."""
    counted = pc.value_counts(plain(column))
    pairs = [
        (value, int(n))
        for value, n in zip(
            counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True
        )
        if value is not None
    ]
    pairs.sort(key=lambda pair: (-pair[1], str(pair[0])))
    return dict(pairs)


def check_profile(profile: Any, source: str) -> Mapping[str, Any]:
    """``profile`` if it has the shape :func:`reference_profile` writes.

    Raises:
        InvalidInputError: naming ``source`` (the file) and what is wrong.
    """
    columns = profile.get("columns") if isinstance(profile, Mapping) else None
    if not isinstance(columns, Mapping):
        raise InvalidInputError(
            f"reference profile {source} has no 'columns' table; infer the schema again "
            "(loopml data validate DATA --schema FILE --infer) to rewrite it"
        )
    for name, sketch in columns.items():
        kind = sketch.get("kind") if isinstance(sketch, Mapping) else None
        ok = (kind == "numeric" and isinstance(sketch.get("deciles"), Mapping)) or (
            kind == "categorical" and isinstance(sketch.get("counts"), list)
        )
        if not ok:
            raise InvalidInputError(
                f"reference profile {source}: column {name!r} is not a numeric or "
                "categorical sketch; infer the schema again to rewrite the file"
            )
    return profile  # type: ignore[no-any-return]


def _histogram(values: NDArray[np.float64]) -> dict[str, list[Any]]:
    low, high = float(values.min()), float(values.max())
    if high - low <= 1e-9 * max(1.0, abs(low), abs(high)):
        pad = max(0.5, abs(low) * 1e-6)
        low, high = low - pad, high + pad
    counts, edges = np.histogram(values, bins=_HISTOGRAM_BINS, range=(low, high))
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def distribution(sketch: Mapping[str, Any], column: pa.ChunkedArray) -> dict[str, Any]:
    """A column's values beside its reference sketch, binned alike, for a picture.

    Numbers: the reference's equal-width bins, widened (same width, at most 60 bins in
    all) to cover the data's range; categories: the reference's values, then the new
    ones, at most 30 (the rest summed as ``(other)``).
    """
    if sketch["kind"] == "numeric":
        edges = np.asarray(sketch["histogram"]["edges"], dtype=np.float64)
        reference = list(sketch["histogram"]["counts"])
        values = numbers(column)
        width = float(edges[1] - edges[0])
        if values.size and width > 0:
            below = int(np.clip(np.ceil((edges[0] - values.min()) / width), 0, 20))
            above = int(np.clip(np.ceil((values.max() - edges[-1]) / width), 0, 20))
            edges = np.concatenate(
                [edges[0] - width * np.arange(below, 0, -1), edges,
                 edges[-1] + width * np.arange(1, above + 1)]
            )  # fmt: skip
            reference = [0] * below + reference + [0] * above
        inner = np.clip(values, edges[0], edges[-1])
        current, _ = np.histogram(inner, bins=edges)
        return {
            "kind": "numeric",
            "edges": edges.tolist(),
            "reference": reference,
            "current": current.tolist(),
        }
    ref = {_key(value): int(n) for value, n in sketch["counts"]}
    cur = {_key(value): n for value, n in category_counts(column).items()}
    names = list(ref) + [value for value in cur if value not in ref]
    shown, rest = names[:30], names[30:]
    ref_counts = [ref.get(value, 0) for value in shown]
    cur_counts = [cur.get(value, 0) for value in shown]
    if rest:
        shown.append("(other)")
        ref_counts.append(sum(ref.get(value, 0) for value in rest))
        cur_counts.append(sum(cur.get(value, 0) for value in rest))
    return {"kind": "categorical", "values": shown, "reference": ref_counts, "current": cur_counts}


def _key(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
