"""Counting, merging and splitting model inputs and outputs by rows (the batcher's helpers)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml.serving._rows import UnsplittableError, concat, describe, split


@given(st.lists(st.integers(0, 5), min_size=1, max_size=12), st.integers(1, 3))
def test_merging_arrays_and_splitting_the_result_gives_each_part_back(
    sizes: list[int], width: int
) -> None:
    parts = [np.full((size, width), n, dtype="int64") for n, size in enumerate(sizes)]
    layouts = {describe(part)[1] for part in parts if len(part)}
    assert len(layouts) <= 1
    back = split(concat(parts), sizes)
    for part, got in zip(parts, back, strict=True):
        np.testing.assert_array_equal(got, part)


@given(st.lists(st.integers(1, 4), min_size=1, max_size=8))
def test_frames_columns_and_records_round_trip(sizes: list[int]) -> None:
    frames = [pd.DataFrame({"a": [n] * size, "b": [f"{n}"] * size}) for n, size in enumerate(sizes)]
    for part, got in zip(frames, split(concat(frames), sizes), strict=True):
        pd.testing.assert_frame_equal(got, part)
    columns = [{"a": frame["a"].to_numpy(), "b": frame["b"].tolist()} for frame in frames]
    for part, got in zip(columns, split(concat(columns), sizes), strict=True):
        assert got["a"].tolist() == part["a"].tolist()
        assert got["b"] == part["b"]
    records = [frame.to_dict("records") for frame in frames]
    assert split(concat(records), sizes) == records


@pytest.mark.parametrize(
    ("inputs", "rows"),
    [
        (np.float64(3.0), 1),  # a 0-d value has no rows
        (np.array(5), 1),
        ({"a": [1, 2], "b": [1]}, 1),  # columns of different lengths
        ({"a": 1, "b": 2}, 1),  # one record as a dict of scalars
        ({}, 1),
        ("abc", 1),
        (b"abc", 1),
        (object(), 1),
        ([], 0),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), 1),  # duplicate columns
    ],
)
def test_inputs_without_clear_rows_are_never_merged(inputs: Any, rows: int) -> None:
    assert describe(inputs) == (rows, None)


def test_layouts_differ_by_dtype_trailing_shape_columns_and_item_kind() -> None:
    def layout(value: Any) -> Any:
        return describe(value)[1]

    assert layout(np.zeros((2, 3))) == layout(np.ones((5, 3)))
    assert layout(np.zeros((2, 3))) != layout(np.zeros((2, 4)))
    assert layout(np.zeros((2, 3))) != layout(np.zeros((2, 3), dtype="float32"))
    assert layout(pd.DataFrame({"a": [1.0]})) != layout(pd.DataFrame({"a": [1]}))
    assert layout(pd.DataFrame({"a": [1], "b": [2]})) != layout(pd.DataFrame({"b": [2], "a": [1]}))
    assert layout([{"a": 1}]) != layout([{"b": 1}])
    assert layout([[1, 2]]) != layout([[1, 2, 3]])
    assert layout({"a": [1]}) != layout({"a": [1.0]})
    assert layout({"a": np.array([1])}) != layout({"a": [1]})


@pytest.mark.parametrize(
    "outputs",
    [
        3.5,
        "abc",
        np.array(1.0),
        np.arange(4),  # 4 rows for 5 input rows
        {"y": np.arange(5), "z": np.arange(4)},
        [1, 2],
    ],
)
def test_an_output_without_one_item_per_row_cannot_be_split(outputs: Any) -> None:
    with pytest.raises(UnsplittableError):
        split(outputs, [2, 3])
