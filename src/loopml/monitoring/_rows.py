"""Predictions to Arrow tables: the payload log's row shape.

One row per predicted row. A request of 32 rows gives 32 rows that share its
``request_id`` and count ``row`` 0-31; a shadow call adds 32 more with ``role="shadow"``.

======================  ==========  ===============================================
column                  type        holds
======================  ==========  ===============================================
``request_id``          string      the request's id (shadow and primary share it)
``row``                 int32       the row's index inside its request
``time_ms``             int64       when the request arrived (Unix ms, UTC)
``deployment``          string      the deployment
``model``, ``version``  string,     the model version that answered
                        int64
``role``                string      ``primary`` or ``shadow``
``status``              int32       the HTTP status (a shadow's failure is 500)
``latency_ms``          float64     the model's share of the request
``error``               string      the failure's message, else null
``input.<name>``        as sent     each input column or tensor (unless excluded)
``feature.<name>``      as looked   each feature value looked up (excluded with inputs)
``output.<name>``       as made     each output (null when the call failed)
======================  ==========  ===============================================

A value's first dimension is the row: a tensor of shape ``(32, 4)`` is 32 rows of a
list of 4. A scalar is repeated on every row. When a request's values disagree on the
number of rows, the request is one row holding each value whole, as a list. Values
Arrow cannot type (mixed kinds, integers beyond 64 bits) are kept as their text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from loopml.monitoring.payload import ColumnBlock, Prediction

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "BASE_COLUMNS",
    "FEATURE_PREFIX",
    "INPUT_PREFIX",
    "OUTPUT_PREFIX",
    "Batch",
    "base_schema",
    "build_tables",
]

BASE_COLUMNS = (
    "request_id",
    "row",
    "time_ms",
    "deployment",
    "model",
    "version",
    "role",
    "status",
    "latency_ms",
    "error",
)
INPUT_PREFIX, FEATURE_PREFIX, OUTPUT_PREFIX = "input.", "feature.", "output."
_INT64 = (-(2**63), 2**63 - 1)
_INT32 = (-(2**31), 2**31 - 1)
_FAST = "biufUSmM"  # numpy kinds Arrow takes as they are (not objects, not records)
_SLICE = 64  # predictions looked at between two pauses
_COLUMN_SLICE = 4  # columns concatenated between two pauses


def _no_pause() -> None:
    """The default pause between slices of work: none."""


def base_schema() -> pa.Schema:
    """The columns every segment has, with their types."""
    import pyarrow as pa

    types = [pa.string(), pa.int32(), pa.int64(), pa.string(), pa.string(), pa.int64(),
             pa.string(), pa.int32(), pa.float64(), pa.string()]  # fmt: skip
    return pa.schema(list(zip(BASE_COLUMNS, types, strict=True)))


@dataclass
class Batch:
    """Predictions turned into tables, and those refused on the way."""

    tables: list[tuple[pa.Table, int]]  # (table, how many predictions it holds)
    rejected: list[tuple[object, str]]  # (what was handed in, why it was refused)


@dataclass
class _Converted:
    prediction: Prediction
    rows: int
    columns: dict[str, Any]  # numpy arrays (the fast path) or Arrow arrays
    key: tuple[object, ...]  # predictions with equal keys concatenate column by column

    def arrays(self) -> tuple[Any, ...]:
        return tuple(self.columns.values())


_Member: TypeAlias = "_Fast | _Converted"


def build_tables(
    predictions: Iterable[object],
    *,
    deployment: str,
    log_inputs: bool,
    log_features: bool,
    pause: Callable[[], None] = _no_pause,
) -> Batch:
    """The tables one batch of predictions is written as: one if their columns agree.

    Predictions with the same columns and types are concatenated; groups whose types
    cannot be unified (a column that is a number here and a list there) become tables
    of their own, so nothing is lost to one odd request. ``pause`` is called between
    slices of the work (a few hundred microseconds each), so that a caller sharing the
    interpreter with request threads can let them run.
    """
    import pyarrow as pa

    groups: dict[tuple[object, ...], list[_Member]] = {}
    layouts: dict[tuple[object, ...], _Layout | None] = {}
    rejected: list[tuple[object, str]] = []
    sections = _sections(log_inputs, log_features)
    for index, item in enumerate(predictions):
        if index % _SLICE == _SLICE - 1:
            pause()
        try:
            member: _Member | None = _fast_member(item, deployment, sections, layouts)
            if member is None:
                member = _convert(item, deployment, log_inputs, log_features)
        except (TypeError, ValueError, OverflowError, pa.ArrowException) as err:
            rejected.append((item, str(err)))
            continue
        groups.setdefault(member.key, []).append(member)
    tables: list[tuple[pa.Table, int]] = []
    for group in groups.values():
        pause()
        table = _group_table(group, pause)
        for index, (merged, count) in enumerate(tables):
            try:
                joined = pa.concat_tables([merged, table], promote_options="permissive")
                tables[index] = (joined, count + len(group))
                break
            except (pa.ArrowException, TypeError):
                continue  # incompatible types: try the next table, else one of its own
        else:
            tables.append((table, len(group)))
    return Batch(tables=tables, rejected=rejected)


# -- the fast path: a prediction of numpy arrays in plain dicts or column blocks ---------
#
# A served request's values are numpy arrays in dicts (or a frame's columns as one
# ColumnBlock), and the requests of one deployment look alike. Such a prediction is
# described by a cheap key (its names, and its arrays' types, dtypes and shapes, read in C
# by ``map``); each distinct key is checked once per batch, and the arrays are read only
# when the group's columns are concatenated: blocks with one concatenation per batch. The
# general path (:func:`_convert`) builds a dict of prefixed names per prediction, which
# cost ~0.15 ms for 60 columns: more than the request itself.


@dataclass(frozen=True)
class _Layout:
    key: tuple[object, ...]  # the group key, as _convert makes it for numpy values
    rows: int
    widths: tuple[int, ...]  # columns in each kept part (inputs, features, outputs)


@dataclass
class _Fast:
    prediction: Prediction
    rows: int
    key: tuple[object, ...]
    parts: tuple[Mapping[str, Any], ...]  # the kept dicts or blocks, in column order
    widths: tuple[int, ...]

    def arrays(self) -> tuple[Any, ...]:
        values: tuple[Any, ...] = ()
        for part in self.parts:
            values += tuple(part.values())
        return values


def _sections(log_inputs: bool, log_features: bool) -> tuple[tuple[str, str], ...]:
    kept = [("inputs", INPUT_PREFIX)] if log_inputs else []
    kept += [("features", FEATURE_PREFIX)] if log_features else []
    return (*kept, ("outputs", OUTPUT_PREFIX))


def _fast_member(
    item: object,
    deployment: str,
    sections: tuple[tuple[str, str], ...],
    layouts: dict[tuple[object, ...], _Layout | None],
) -> _Fast | None:
    """``item`` on the fast path, or None when it needs the general path."""
    if type(item) is not Prediction or not _plainly_valid(item, deployment):
        return None
    described: list[object] = []
    parts: list[Mapping[str, Any]] = []
    for field, _ in sections:
        values = getattr(item, field)
        if values is None or (type(values) in (dict, ColumnBlock) and not values):  # no columns
            described.append(None)
            continue
        if type(values) is ColumnBlock:
            block = values.block
            described.append((ColumnBlock, values.names, type(block), block.dtype, block.shape))
        elif type(values) is dict:
            arrays = values.values()
            try:
                described.append((dict, tuple(values), *(tuple(map(f, arrays)) for f in _DESCRIBE)))
            except AttributeError:  # not arrays
                return None
        else:
            return None
        parts.append(values)
    cheap = tuple(described)
    if cheap not in layouts:
        layouts[cheap] = _layout(cheap, sections)
    layout = layouts[cheap]
    if layout is None:
        return None
    return _Fast(item, layout.rows, layout.key, tuple(parts), layout.widths)


_DESCRIBE = (attrgetter("__class__"), attrgetter("dtype"), attrgetter("shape"))


def _layout(cheap: tuple[Any, ...], sections: tuple[tuple[str, str], ...]) -> _Layout | None:
    """The group key and row count of predictions described by ``cheap``, if fast."""
    columns: list[tuple[object, ...]] = []
    rows: set[int] = set()
    widths: list[int] = []
    for described, (_, prefix) in zip(cheap, sections, strict=True):
        if described is None:
            continue
        names: tuple[Any, ...]
        if described[0] is ColumnBlock:  # one 2-D array
            _, names, kind, dtype, shape = described
            if kind is not np.ndarray or len(shape) != 2:
                return None
            count = len(names)
            kinds, dtypes, shapes = (kind,) * count, (dtype,) * count, ((shape[0],),) * count
        else:
            _, names, kinds, dtypes, shapes = described
        for name, kind, dtype, shape in zip(names, kinds, dtypes, shapes, strict=True):
            if type(name) is not str or kind is not np.ndarray or not shape:
                return None
            if dtype.kind not in _FAST:
                return None
            rows.add(shape[0])
            columns.append((prefix + name, dtype.kind if dtype.kind in "US" else dtype, shape[1:]))
        widths.append(len(names))
    if len(rows) > 1:
        return None
    return _Layout(key=("numpy", *columns), rows=rows.pop() if rows else 1, widths=tuple(widths))


def _plainly_valid(item: Prediction, deployment: str) -> bool:
    """Whether ``item``'s own fields are plainly fine (else :func:`_check_prediction`)."""
    return (
        item.deployment == deployment
        and type(item.request_id) is str
        and type(item.model) is str
        and type(item.time_ms) is int
        and type(item.version) is int
        and type(item.status) is int
        and type(item.latency_ms) is float
        and (item.error is None or type(item.error) is str)
        and item.role in ("primary", "shadow")
        and _INT64[0] <= item.time_ms <= _INT64[1]
        and _INT64[0] <= item.version <= _INT64[1]
        and _INT32[0] <= item.status <= _INT32[1]
    )


def _convert(item: object, deployment: str, log_inputs: bool, log_features: bool) -> _Converted:
    if not isinstance(item, Prediction):
        raise TypeError(f"expected a Prediction, got {type(item).__name__}")
    _check_prediction(item, deployment)
    values: dict[str, Any] = {}
    if log_inputs and item.inputs is not None:
        values.update(_prefixed(INPUT_PREFIX, item.inputs))
    if log_features and item.features is not None:
        values.update(_prefixed(FEATURE_PREFIX, item.features))
    if item.outputs is not None:
        values.update(_prefixed(OUTPUT_PREFIX, item.outputs))
    fast = _numpy_columns(values)
    if fast is not None:  # numpy arrays of one length: joined per column, converted once
        rows, arrays = fast
        key = ("numpy", *((name, _dtype_key(a), a.shape[1:]) for name, a in arrays.items()))
        return _Converted(item, rows, arrays, key)
    converted = {name: _to_arrow(value) for name, value in values.items()}
    rows, columns = _align(converted, {name for name, v in values.items() if _is_scalar(v)})
    key = ("arrow", *((name, str(array.type)) for name, array in columns.items()))
    return _Converted(item, rows, columns, key)


def _numpy_columns(values: dict[str, Any]) -> tuple[int, dict[str, np.ndarray[Any, Any]]] | None:
    """The values when all are numpy arrays (not of objects) with one first dimension."""
    rows = None
    for value in values.values():
        if not isinstance(value, np.ndarray) or value.ndim == 0 or value.dtype.kind not in _FAST:
            return None
        if rows is None:
            rows = value.shape[0]
        elif value.shape[0] != rows:
            return None
    return (1 if rows is None else rows), values


def _dtype_key(array: np.ndarray[Any, Any]) -> object:
    dtype = array.dtype  # the dtype itself: hashing it is cheap, building its name is not
    return dtype.kind if dtype.kind in "US" else dtype  # any string width joins the others


def _check_prediction(item: Prediction, deployment: str) -> None:
    if item.deployment != deployment:
        raise ValueError(
            f"prediction of deployment {item.deployment!r} handed to the payload log of "
            f"{deployment!r}"
        )
    for name, bounds in (("time_ms", _INT64), ("version", _INT64), ("status", _INT32)):
        value = getattr(item, name)
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{name} must be an int, got {value!r}")
        if not bounds[0] <= value <= bounds[1]:
            raise OverflowError(f"{name} {value} is out of range")
    if not isinstance(item.request_id, str) or not isinstance(item.model, str):
        raise TypeError("request_id and model must be strings")
    if item.role not in ("primary", "shadow"):
        raise ValueError(f"role must be 'primary' or 'shadow', got {item.role!r}")
    if not isinstance(item.latency_ms, int | float | np.number):
        raise TypeError(f"latency_ms must be a number, got {item.latency_ms!r}")
    if item.error is not None and not isinstance(item.error, str):
        raise TypeError(f"error must be a string or None, got {item.error!r}")


def _prefixed(prefix: str, values: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(values, Mapping):
        raise TypeError(f"{prefix.rstrip('.')}s must be a mapping of name -> values")
    return {prefix + str(name): value for name, value in values.items()}


def _is_scalar(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.ndim == 0
    if isinstance(value, str | bytes | bytearray | Mapping) or value is None:
        return True
    return not hasattr(value, "__len__") and not hasattr(value, "__array__")


def _to_arrow(value: Any) -> pa.Array:
    """One value as an Arrow array whose first dimension is the rows."""
    import pyarrow as pa

    if isinstance(value, pa.ChunkedArray):
        return value.combine_chunks()
    if isinstance(value, pa.Array):
        return value
    if _is_scalar(value):
        return _list_to_arrow([value.item() if isinstance(value, np.generic) else value])
    if isinstance(value, np.ndarray) or hasattr(value, "__array__"):
        return _numpy_to_arrow(np.asarray(value))
    return _list_to_arrow(list(value))


def _numpy_to_arrow(array: np.ndarray[Any, Any]) -> pa.Array:
    import pyarrow as pa

    if array.ndim == 0:
        array = array.reshape(1)
    if array.dtype == np.float16:  # Parquet readers disagree on half floats
        array = array.astype(np.float32)
    if array.ndim == 1:
        if array.dtype == object:
            return _list_to_arrow(list(array))
        try:
            return pa.array(array)
        except (pa.ArrowException, TypeError, ValueError):  # complex, records: as text
            return _list_to_arrow([str(v) for v in array.tolist()])
    inner = _numpy_to_arrow(array.reshape(array.shape[0] * array.shape[1], *array.shape[2:]))
    offsets = np.arange(0, inner.__len__() + 1, array.shape[1], dtype=np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), inner)


def _list_to_arrow(values: list[Any]) -> pa.Array:
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _align(arrays: dict[str, pa.Array], scalars: set[str]) -> tuple[int, dict[str, pa.Array]]:
    """The request's row count, and every array stretched (scalars) or packed to it."""
    import pyarrow as pa

    lengths = {len(array) for name, array in arrays.items() if name not in scalars}
    if len(lengths) > 1:  # the values disagree on the rows: one row, each value whole
        return 1, {
            name: array
            if name in scalars
            else pa.ListArray.from_arrays(pa.array([0, len(array)], pa.int32()), array)
            for name, array in arrays.items()
        }
    rows = lengths.pop() if lengths else 1
    if rows == 1:
        return 1, arrays
    repeat = pa.array(np.zeros(rows, dtype=np.int64))
    return rows, {
        name: array.take(repeat) if name in scalars else array for name, array in arrays.items()
    }


def _group_table(group: list[_Member], pause: Callable[[], None] = _no_pause) -> pa.Table:
    import pyarrow as pa

    counts = [member.rows for member in group]
    predictions = [member.prediction for member in group]
    plain = all(type(member) is _Fast for member in group)  # else: int(), float() first
    table = pa.table(_base_columns(predictions, counts, plain))
    if group[0].key[0] == "arrow":
        names = list(group[0].columns)  # type: ignore[union-attr]
        columns = _transposed(group)
        for name, arrays in zip(names, columns, strict=True):
            table = table.append_column(name, pa.concat_arrays(arrays))
        return table
    names = [column[0] for column in group[0].key[1:]]  # type: ignore[index]
    joined = _joined_fast(group, pause) if plain else _joined(_transposed(group), pause)  # type: ignore[arg-type]
    for index, (name, values) in enumerate(zip(names, joined, strict=True)):
        if index % _COLUMN_SLICE == _COLUMN_SLICE - 1:
            pause()
        table = table.append_column(str(name), _numpy_to_arrow(values))
    return table


def _transposed(group: list[_Member]) -> Iterable[tuple[Any, ...]]:
    """One tuple of arrays per column (a prediction's tuples transposed, in C)."""
    return zip(*(member.arrays() for member in group), strict=True)


def _joined(columns: Iterable[tuple[Any, ...]], pause: Callable[[], None]) -> Iterator[Any]:
    for index, arrays in enumerate(columns):
        if index % _COLUMN_SLICE == _COLUMN_SLICE - 1:
            pause()
        yield np.concatenate(arrays)


def _joined_fast(group: list[_Fast], pause: Callable[[], None]) -> Iterator[Any]:
    """The group's columns, each concatenated: a part that is a block in every
    prediction (a frame's columns) with one concatenation of the blocks."""
    for index in range(len(group[0].widths)):
        parts = [member.parts[index] for member in group]
        if all(type(part) is ColumnBlock for part in parts):
            block = np.concatenate([part.block for part in parts])  # type: ignore[attr-defined]
            pause()
            yield from (block[:, column] for column in range(block.shape[1]))
        else:
            yield from _joined(zip(*(tuple(p.values()) for p in parts), strict=True), pause)


def _base_columns(
    predictions: list[Prediction], counts: list[int], plain: bool
) -> dict[str, pa.Array]:
    import pyarrow as pa

    repeat = None if all(count == 1 for count in counts) else np.array(counts, dtype=np.int64)
    cast = {"time_ms": int, "version": int, "status": int, "latency_ms": float}

    def column(field: str, kind: pa.DataType) -> pa.Array:
        values: list[Any] = list(map(attrgetter(field), predictions))
        if not plain and field in cast:  # numpy scalars, int subclasses
            values = list(map(cast[field], values))
        if repeat is None:
            return pa.array(values, type=kind)
        return pa.array(np.repeat(np.array(values, dtype=object), repeat), type=kind)

    if repeat is None:
        rows = pa.array(np.zeros(len(predictions), dtype=np.int32))
    else:
        rows = pa.array(np.concatenate([np.arange(n, dtype=np.int32) for n in counts]))
    return {
        "request_id": column("request_id", pa.string()),
        "row": rows,
        "time_ms": column("time_ms", pa.int64()),
        "deployment": column("deployment", pa.string()),
        "model": column("model", pa.string()),
        "version": column("version", pa.int64()),
        "role": column("role", pa.string()),
        "status": column("status", pa.int32()),
        "latency_ms": column("latency_ms", pa.float64()),
        "error": column("error", pa.string()),
    }
