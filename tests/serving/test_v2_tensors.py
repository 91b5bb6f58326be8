"""V2 tensors: binary and JSON data round-trip for every datatype; bad sizes are refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from loopml.errors import InvalidInputError
from loopml.serving._tensors import (
    DATATYPES,
    datatype_of,
    decode_binary,
    decode_json,
    encode_binary,
    json_data,
)

NUMERIC = [name for name in DATATYPES if name != "BYTES"]
_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4)


@given(
    values=st.sampled_from(NUMERIC).flatmap(
        lambda name: hnp.arrays(np.dtype(DATATYPES[name]), _shapes)
    )
)
def test_numeric_tensors_round_trip_through_binary(values: np.ndarray) -> None:
    datatype = datatype_of(values)
    raw = encode_binary(values)
    back = decode_binary("x", datatype, list(values.shape), raw)
    np.testing.assert_array_equal(back, values)
    assert back.dtype == values.dtype


@given(items=st.lists(st.binary(max_size=8), max_size=6))
def test_bytes_tensors_round_trip_through_binary(items: list[bytes]) -> None:
    values = np.empty(len(items), dtype=object)
    values[:] = items
    back = decode_binary("x", "BYTES", [len(items)], encode_binary(values))
    assert back.tolist() == items


@given(
    values=st.sampled_from(["INT8", "UINT16", "INT64", "UINT64", "FP64", "BOOL"]).flatmap(
        lambda name: hnp.arrays(
            np.dtype(DATATYPES[name]),
            _shapes,
            elements={"allow_nan": False, "allow_infinity": False} if name == "FP64" else None,
        )
    )
)
def test_json_data_decodes_back_to_the_same_tensor(values: np.ndarray) -> None:
    data = np.asarray(json_data(values)).tolist()
    back = decode_json("x", datatype_of(values), list(values.shape), data)
    np.testing.assert_array_equal(back, values)


@given(extra=st.integers(1, 7), datatype=st.sampled_from(NUMERIC))
def test_binary_sizes_that_do_not_fit_the_shape_are_refused(extra: int, datatype: str) -> None:
    size = np.dtype(DATATYPES[datatype]).itemsize * 3
    with pytest.raises(InvalidInputError, match="needs"):
        decode_binary("x", datatype, [3], b"\x00" * (size + extra))


@pytest.mark.parametrize(
    "raw",
    [b"\x05\x00\x00", b"\x05\x00\x00\x00ab", b"\x01\x00\x00\x00a\x01\x00\x00\x00b"],
    ids=["truncated length", "element past the end", "more elements than the shape"],
)
def test_malformed_bytes_tensors_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidInputError, match="BYTES"):
        decode_binary("x", "BYTES", [1], raw)


def test_bool_bytes_other_than_0_and_1_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="0 or 1"):
        decode_binary("x", "BOOL", [2], b"\x01\x07")
