"""Predictions to Arrow tables: every row read back is the row sent, however it was sent.

The writer converts predictions of numpy arrays (in dicts or as one ColumnBlock) on a fast
path that reads each prediction's layout once and its arrays only when joining a batch's
columns; anything else takes the general path. These tests hold both to the row shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.errors import InvalidInputError
from loopml.monitoring import Prediction
from loopml.monitoring._rows import build_tables
from loopml.monitoring.payload import ColumnBlock

from .conftest import DEPLOYMENT, T0

DTYPES = ("int64", "float32", "float64", "bool", "<U3")
NAMES = ("a", "b", "mean radius")


def _values(draw: st.DrawFn, dtype: str, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    count = int(np.prod(shape))
    if dtype == "<U3":
        texts = st.text("xyz", max_size=3)
        items: list[Any] = draw(st.lists(texts, min_size=count, max_size=count))
    elif dtype == "bool":
        items = draw(st.lists(st.booleans(), min_size=count, max_size=count))
    else:
        items = draw(st.lists(st.integers(-1000, 1000), min_size=count, max_size=count))
    return np.array(items, dtype=dtype).reshape(shape)


@st.composite
def predictions(draw: st.DrawFn, index: int) -> Prediction:
    """A prediction of 1-3 rows: inputs as a dict of arrays or as one block; outputs a dict."""
    rows = draw(st.integers(1, 3))
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
    dtype = draw(st.sampled_from(DTYPES))
    inputs: Any
    if draw(st.booleans()):
        inputs = ColumnBlock(names, _values(draw, dtype, (rows, len(names))))
    else:
        inputs = {name: _values(draw, draw(st.sampled_from(DTYPES)), (rows,)) for name in names}
    outputs = {"p": _values(draw, draw(st.sampled_from(DTYPES[:3])), (rows,))}
    if draw(st.booleans()):  # a tensor output: a list per row
        outputs["t"] = _values(draw, "float32", (rows, 2))
    return Prediction(
        request_id=f"r{index}",
        time_ms=T0 + index,
        deployment=DEPLOYMENT,
        model="churn",
        version=draw(st.integers(1, 3)),
        role=draw(st.sampled_from(("primary", "shadow"))),
        inputs=inputs,
        outputs=outputs,
        latency_ms=0.5,
        status=200,
    )


@st.composite
def batches(draw: st.DrawFn) -> list[Prediction]:
    count = draw(st.integers(1, 12))
    return [draw(predictions(index)) for index in range(count)]


def _expected(prediction: Prediction) -> list[dict[str, Any]]:
    rows = []
    assert prediction.inputs is not None
    assert prediction.outputs is not None
    columns = {f"input.{k}": v for k, v in prediction.inputs.items()}
    columns |= {f"output.{k}": v for k, v in prediction.outputs.items()}
    for row in range(len(next(iter(columns.values())))):
        values = {name: array[row].tolist() for name, array in columns.items()}
        base = {"request_id": prediction.request_id, "row": row, "role": prediction.role}
        base |= {"version": prediction.version, "time_ms": prediction.time_ms}
        rows.append({**base, **values})
    return rows


def _read(tables: list[tuple[pa.Table, int]]) -> list[dict[str, Any]]:
    rows = []
    for table, _ in tables:
        for row in table.to_pylist():
            rows.append({k: v for k, v in row.items() if v is not None})
    return rows


def _key(row: dict[str, Any]) -> tuple[str, str, int]:
    return (row["request_id"], row["role"], row["row"])


@settings(max_examples=60)
@given(batches())
def test_every_row_read_back_is_the_row_sent(batch: list[Prediction]) -> None:
    built = build_tables(batch, deployment=DEPLOYMENT, log_inputs=True, log_features=True)
    assert built.rejected == []
    assert sum(count for _, count in built.tables) == len(batch)
    got = {_key(row): row for row in _read(built.tables)}
    want = {_key(row): row for prediction in batch for row in _expected(prediction)}
    assert got.keys() == want.keys()
    for key, row in want.items():
        kept = {name: got[key][name] for name in row}
        assert kept == row, key


def _pair(index: int, rows: int) -> tuple[Prediction, Prediction]:
    """The same prediction twice: inputs as a dict of column arrays, and as one block."""
    block = np.arange(rows * 3, dtype=np.float64).reshape(rows, 3) + index
    names = ["x", "y", "z"]
    common: dict[str, Any] = {
        "time_ms": T0 + index, "deployment": DEPLOYMENT, "model": "churn", "version": 1,
        "role": "primary", "outputs": {"p": block[:, 0] * 2}, "latency_ms": 0.25, "status": 200,
    }  # fmt: skip
    as_dict = {name: block[:, i] for i, name in enumerate(names)}
    return (
        Prediction(request_id=f"r{index}", inputs=as_dict, **common),
        Prediction(request_id=f"r{index}", inputs=ColumnBlock(names, block), **common),
    )


def test_a_block_and_a_dict_of_its_columns_give_the_same_table() -> None:
    pairs = [_pair(index, 1 + index % 3) for index in range(50)]
    options: dict[str, Any] = {"deployment": DEPLOYMENT, "log_inputs": True, "log_features": True}
    dicts = build_tables([a for a, _ in pairs], **options).tables
    blocks = build_tables([b for _, b in pairs], **options).tables
    mixed = build_tables([pair[i % 2] for i, pair in enumerate(pairs)], **options).tables
    assert len(dicts) == len(blocks) == len(mixed) == 1
    assert dicts[0][0].equals(blocks[0][0])
    assert dicts[0][0].equals(mixed[0][0])
    assert dicts[0][0].column("input.y").to_pylist()[:3] == [1.0, 2.0, 5.0]


def test_the_conversion_pauses_between_slices_and_gives_the_same_table() -> None:
    batch = [_pair(index, 1)[1] for index in range(300)]
    options: dict[str, Any] = {"deployment": DEPLOYMENT, "log_inputs": True, "log_features": True}
    pauses = []
    paused = build_tables(batch, pause=lambda: pauses.append(1), **options)
    assert len(pauses) >= 300 // 64  # at least one per slice of predictions
    assert paused.tables[0][0].equals(build_tables(batch, **options).tables[0][0])


def test_odd_fields_leave_the_fast_path_and_keep_their_values() -> None:
    pair = _pair(1, 2)[1]
    odd = Prediction(
        request_id="r2", time_ms=np.int64(T0), deployment=DEPLOYMENT, model="churn",
        version=np.int32(4), role="primary", inputs=pair.inputs, outputs=pair.outputs,
        latency_ms=np.float32(0.5), status=200,
    )  # fmt: skip
    built = build_tables([pair, odd], deployment=DEPLOYMENT, log_inputs=True, log_features=True)
    ((table, count),) = built.tables
    assert count == 2
    assert table.column("version").to_pylist() == [1, 1, 4, 4]
    assert table.column("latency_ms").to_pylist() == [0.25, 0.25, 0.5, 0.5]


def test_no_inputs_and_empty_inputs_share_a_table() -> None:
    empty, missing = (
        Prediction(request_id=f"r{i}", time_ms=T0, deployment=DEPLOYMENT, model="churn",
                   version=1, role="primary", inputs=inputs, outputs={"p": np.array([0.5, 1.5])},
                   latency_ms=0.5, status=200)
        for i, inputs in enumerate(({}, None))
    )  # fmt: skip
    built = build_tables(
        [empty, missing, empty], deployment=DEPLOYMENT, log_inputs=True, log_features=True
    )
    ((table, count),) = built.tables
    assert count == 3
    assert table.column("output.p").to_pylist() == [0.5, 1.5] * 3


def test_inputs_that_are_not_a_mapping_are_refused_saying_so() -> None:
    odd = Prediction(request_id="r1", time_ms=T0, deployment=DEPLOYMENT, model="churn",
                     version=1, role="primary", inputs=np.zeros((2, 2)),  # type: ignore[arg-type]
                     outputs={"p": np.array([0.5, 1.5])}, latency_ms=0.5, status=200)  # fmt: skip
    built = build_tables([odd], deployment=DEPLOYMENT, log_inputs=True, log_features=True)
    assert built.tables == []
    ((item, reason),) = built.rejected
    assert item is odd
    assert "inputs must be a mapping" in reason


def test_inputs_left_out_leave_no_input_columns() -> None:
    batch = [_pair(index, 2)[1] for index in range(3)]
    built = build_tables(batch, deployment=DEPLOYMENT, log_inputs=False, log_features=False)
    ((table, _),) = built.tables
    assert [name for name in table.column_names if "." in name] == ["output.p"]


def test_a_column_block_is_a_read_only_mapping_of_its_columns() -> None:
    block = ColumnBlock(["age", "income"], np.array([[31, 1], [45, 2]], dtype=np.int64))
    assert list(block) == ["age", "income"]
    assert len(block) == 2
    assert block["income"].tolist() == [1, 2]
    assert dict(block).keys() == {"age", "income"}
    with pytest.raises(KeyError):
        block["city"]


@pytest.mark.parametrize(
    ("names", "array", "message"),
    [
        (["a"], np.zeros(3), "2-D"),
        (["a", "b"], np.zeros((2, 3)), "one column per name"),
        (["a", "a"], np.zeros((2, 2)), "unique"),
    ],
)
def test_a_column_block_refuses_names_that_do_not_fit(
    names: list[str], array: np.ndarray[Any, Any], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        ColumnBlock(names, array)
