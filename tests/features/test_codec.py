"""The online packing: every dtype round-trips, layouts are told apart, keys agree with DuckDB."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.errors import InvalidInputError
from loopml.features._codec import RowCodec, entity_key, key_sql

ALL_TYPES = [
    ("i32", "int32"),
    ("i64", "int64"),
    ("f32", "float32"),
    ("f64", "float64"),
    ("ok", "bool"),
    ("name", "string"),
    ("blob", "bytes"),
    ("at", "timestamp"),
]
WHEN = datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


def _batch(rows: list[tuple[object, ...]], layout: list[tuple[str, str]]) -> pa.RecordBatch:
    from loopml.features._types import arrow_type

    columns = list(zip(*rows, strict=True)) if rows else [()] * len(layout)
    return pa.record_batch(
        [pa.array(list(c), type=arrow_type(d)) for c, (_, d) in zip(columns, layout, strict=True)],
        names=[n for n, _ in layout],
    )


def test_every_dtype_round_trips_with_nulls() -> None:
    codec = RowCodec(ALL_TYPES)
    rows = [
        (-(2**31), -(2**63), 1.5, 0.1, True, "Oslo ✈", b"\x00\xff", WHEN),
        (None, None, None, None, None, None, None, None),
        (7, 2**63 - 1, -0.0, math.inf, False, "", b"", datetime(1970, 1, 1, tzinfo=UTC)),
    ]
    decoded = [codec.decode(p) for p in codec.encode(_batch(rows, ALL_TYPES))]
    assert decoded == rows


def test_nan_stays_nan_and_is_not_null() -> None:
    codec = RowCodec([("x", "float64")])
    (value,) = codec.decode(codec.encode(_batch([(math.nan,)], [("x", "float64")]))[0]) or (None,)
    assert value is not None
    assert math.isnan(value)


def test_empty_batch_packs_to_nothing() -> None:
    assert RowCodec([("x", "int64")]).encode(_batch([], [("x", "int64")])) == []


def test_many_features_use_a_wider_null_bitmap() -> None:
    layout = [(f"f{i}", "int64") for i in range(19)]
    row = tuple(None if i % 3 == 0 else i for i in range(19))
    codec = RowCodec(layout)
    assert codec.decode(codec.encode(_batch([row], layout))[0]) == row


def test_another_layout_reads_as_absent_never_as_wrong_values() -> None:
    old = RowCodec([("trips", "int64")])
    payload = old.encode(_batch([(5,)], [("trips", "int64")]))[0]
    assert RowCodec([("trips", "float64")]).decode(payload) is None
    assert RowCodec([("trips", "int64"), ("rating", "float64")]).decode(payload) is None
    assert RowCodec([("rides", "int64")]).decode(payload) is None
    assert old.decode(b"\x02" + payload[1:]) is None  # a future format version


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.none() | st.integers(-(2**63), 2**63 - 1),
            st.none() | st.floats(allow_nan=False),
            st.none() | st.text(max_size=20),
            st.none() | st.booleans(),
        ),
        max_size=30,
    )
)
def test_round_trip_property(rows: list[tuple[object, ...]]) -> None:
    layout = [("a", "int64"), ("b", "float64"), ("c", "string"), ("d", "bool")]
    codec = RowCodec(layout)
    assert [codec.decode(p) for p in codec.encode(_batch(rows, layout))] == rows


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(-(2**63), 2**63 - 1), st.text(max_size=10).filter(lambda s: "\x1f" not in s)
        ),
        min_size=1,
        max_size=20,
    )
)
def test_python_keys_equal_duckdb_keys(rows: list[tuple[int, str]]) -> None:
    table = pa.table({"n": [r[0] for r in rows], "s": [r[1] for r in rows]})
    con = duckdb.connect()
    con.register("t", table)
    single = [r[0] for r in con.sql(f"SELECT {key_sql(['n'])} FROM t").fetchall()]
    double = [r[0] for r in con.sql(f"SELECT {key_sql(['n', 's'])} FROM t").fetchall()]
    con.close()
    assert single == [entity_key({"n": n}, ["n"]) for n, _ in rows]
    assert double == [entity_key({"n": n, "s": s}, ["n", "s"]) for n, s in rows]


def test_entity_keys_of_numpy_ints_and_strings() -> None:
    import numpy as np

    assert entity_key({"id": np.int32(7)}, ["id"]) == "7"
    assert entity_key({"id": "007"}, ["id"]) == "007"
    assert entity_key({"a": 1, "b": "x"}, ["a", "b"]) == "1\x1fx"


@pytest.mark.parametrize("value", [1.0, True, None, b"1"])
def test_entity_keys_refuse_other_types(value: object) -> None:
    with pytest.raises(InvalidInputError, match="integers or strings"):
        entity_key({"id": value}, ["id"])


def test_composite_keys_refuse_the_separator() -> None:
    with pytest.raises(InvalidInputError, match="U\\+001F"):
        entity_key({"a": "x\x1fy", "b": 1}, ["a", "b"])
