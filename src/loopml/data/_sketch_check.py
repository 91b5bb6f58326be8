"""The strict reading of a stored reference sketch (:mod:`loopml.data.sketch`).

A sketch comes back from a file or a store someone else wrote: every key, type, size and
number is checked before drift trusts it, and a problem is reported with the file's name
and what to do (sketch the reference again).

Example:
    >>> check_sketch({"version": 1}, "ref.json", 1)
    Traceback (most recent call last):
    ...
    loopml.errors.InvalidInputError: reference sketch ref.json: missing keys chunk_rows, \
chunks, columns, row_count; sketch the reference again (loopml.data.sketch.sketch_table) \
and save it with ReferenceSketch.to_bytes
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

from loopml.errors import InvalidInputError

__all__ = ["check_sketch"]

_TOP_KEYS = frozenset({"version", "row_count", "chunk_rows", "chunks", "columns"})
_COLUMN_KEYS = frozenset(
    {
        "name", "kind", "count", "missing", "quantiles", "minimum", "maximum", "mean", "std",
        "histogram", "deciles", "categories", "other", "calibration",
    }
)  # fmt: skip
_MAX_COLUMNS = 100_000
_MAX_QUANTILES = 100_001
_MAX_CATEGORIES = 100_000
_MAX_BINS = 1_000
_FIX = "sketch the reference again (loopml.data.sketch.sketch_table) and save it with "
_FIX += "ReferenceSketch.to_bytes"


def check_sketch(data: Any, source: str, version: int) -> dict[str, Any]:
    """``data`` as a checked copy, if it is a sketch of ``version``.

    Raises:
        InvalidInputError: naming ``source`` and the first problem found.
    """
    where = f"reference sketch {source}"
    top = _mapping(data, where, _TOP_KEYS)
    if top["version"] != version or isinstance(top["version"], bool):
        raise InvalidInputError(
            f"{where} has version {top['version']!r}; this loopml reads version {version}: " + _FIX
        )
    out: dict[str, Any] = {"version": version}
    for key in ("row_count", "chunk_rows", "chunks"):
        out[key] = _count(top[key], f"{where}: {key}")
    columns = top["columns"]
    if not isinstance(columns, Mapping) or len(columns) > _MAX_COLUMNS:
        raise InvalidInputError(f"{where}: 'columns' must map names to column sketches; " + _FIX)
    out["columns"] = {
        str(name): _column(name, column, f"{where}: column {name!r}")
        for name, column in columns.items()
    }
    return out


def _mapping(data: Any, where: str, keys: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"{where} is not a JSON object; " + _FIX)
    missing, extra = sorted(keys - set(data)), sorted(set(data) - keys)
    if missing:
        raise InvalidInputError(f"{where}: missing keys {', '.join(missing)}; " + _FIX)
    if extra:
        raise InvalidInputError(f"{where}: unknown keys {', '.join(map(str, extra))}; " + _FIX)
    return data


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"{where} must be a whole number >= 0, got {value!r}; " + _FIX)
    return value


def _number(value: Any, where: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"{where} must be a finite number, got {value!r}; " + _FIX)
    return float(value)


def _numbers(value: Any, where: str, limit: int) -> list[float]:
    if not isinstance(value, list) or len(value) > limit:
        size = len(value) if isinstance(value, list) else type(value).__name__
        raise InvalidInputError(
            f"{where} must be a list of at most {limit} numbers, got {size}; " + _FIX
        )
    return [float(_number(item, where) or 0.0) for item in value]


def _column(name: Any, data: Any, where: str) -> dict[str, Any]:
    column = dict(_mapping(data, where, _COLUMN_KEYS))
    if column["name"] != name:
        raise InvalidInputError(f"{where} is named {column['name']!r}; " + _FIX)
    if column["kind"] not in ("numeric", "categorical"):
        raise InvalidInputError(f"{where}: kind {column['kind']!r} is not numeric or categorical")
    for key in ("count", "missing", "other"):
        column[key] = _count(column[key], f"{where}: {key}")
    for key in ("minimum", "maximum", "mean", "std"):
        column[key] = _number(column[key], f"{where}: {key}", optional=True)
    quantiles = _numbers(column["quantiles"], f"{where}: quantiles", _MAX_QUANTILES)
    if any(b < a for a, b in itertools.pairwise(quantiles)):
        raise InvalidInputError(f"{where}: quantiles must not decrease; " + _FIX)
    if column["kind"] == "numeric" and column["count"] and len(quantiles) < 2:
        raise InvalidInputError(f"{where}: a column with values needs >= 2 quantiles; " + _FIX)
    column["quantiles"] = quantiles
    column["histogram"] = _bins(column["histogram"], f"{where}: histogram", extra_edge=True)
    column["deciles"] = _bins(column["deciles"], f"{where}: deciles", extra_edge=False)
    if column["kind"] == "numeric" and column["count"] and not column["deciles"]:
        raise InvalidInputError(f"{where}: a column with values needs its deciles; " + _FIX)
    column["categories"] = _categories(column["categories"], f"{where}: categories")
    column["calibration"] = _calibration(column["calibration"], f"{where}: calibration")
    return column


def _bins(data: Any, where: str, *, extra_edge: bool) -> dict[str, list[Any]]:
    if data == {}:
        return {}
    bins = _mapping(data, where, frozenset({"edges", "counts"}))
    edges = _numbers(bins["edges"], f"{where} edges", _MAX_BINS)
    counts = bins["counts"]
    if not isinstance(counts, list) or len(counts) > _MAX_BINS + 1:
        raise InvalidInputError(f"{where}: counts must be a short list; " + _FIX)
    whole = [_count(n, f"{where} counts") for n in counts]
    # A histogram has one count per gap (edges - 1), deciles one per slot (edges + 1).
    expected = len(edges) - 1 if extra_edge else len(edges) + 1
    if len(whole) != expected or any(b < a for a, b in itertools.pairwise(edges)):
        raise InvalidInputError(f"{where}: {len(edges)} edges do not fit {len(whole)} counts")
    return {"edges": edges, "counts": whole}


def _categories(data: Any, where: str) -> dict[str, int]:
    if not isinstance(data, Mapping) or len(data) > _MAX_CATEGORIES:
        raise InvalidInputError(
            f"{where} must map at most {_MAX_CATEGORIES} values to counts; " + _FIX
        )
    return {str(value): _count(n, f"{where}[{value!r}]") for value, n in data.items()}


def _calibration(data: Any, where: str) -> dict[str, dict[str, float]]:
    if not isinstance(data, Mapping) or len(data) > 10:
        raise InvalidInputError(f"{where} must map methods to mean, std, threshold; " + _FIX)
    out: dict[str, dict[str, float]] = {}
    for method, figures in data.items():
        checked = _mapping(figures, f"{where}[{method!r}]", frozenset({"mean", "std", "threshold"}))
        out[str(method)] = {
            key: float(_number(checked[key], f"{where}[{method!r}].{key}") or 0.0)
            for key in ("mean", "std", "threshold")
        }
    return out
