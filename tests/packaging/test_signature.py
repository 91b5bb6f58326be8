"""Signatures: inferring them from examples, and holding input up against them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml.errors import InvalidInputError, SignatureError
from loopml.packaging.signature import (
    ColumnSpec,
    Signature,
    TensorSpec,
    check_input,
    infer_signature,
)


def _every_type() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "f64": [1.5, 2.5],
            "f32": np.array([1, 2], dtype="float32"),
            "i64": [1, 2],
            "i32": np.array([1, 2], dtype="int32"),
            "flag": [True, False],
            "name": ["a", "b"],
            "when": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "blob": [b"x", b"y"],
            "gappy": pd.array([1, None], dtype="Int64"),
        }
    )


def test_a_dataframe_gives_named_typed_columns() -> None:
    signature = infer_signature(_every_type(), np.array([0, 1]))
    assert signature.to_dict() == {
        "inputs": {
            "type": "dataframe",
            "columns": [
                {"name": "f64", "type": "double"},
                {"name": "f32", "type": "float"},
                {"name": "i64", "type": "long"},
                {"name": "i32", "type": "integer"},
                {"name": "flag", "type": "boolean"},
                {"name": "name", "type": "string"},
                {"name": "when", "type": "datetime"},
                {"name": "blob", "type": "binary"},
                {"name": "gappy", "type": "double"},  # an integer column with gaps needs NaN
            ],
        },
        "outputs": {"type": "tensor", "dtype": "int64", "shape": [-1]},
    }
    assert Signature.from_dict(signature.to_dict()) == signature


def test_arrays_give_tensors_with_a_free_batch_dimension_and_dicts_named_tensors() -> None:
    image = infer_signature(np.zeros((3, 28, 28), dtype="float32"))
    assert image.inputs == TensorSpec("float32", (-1, 28, 28))
    assert image.input_names is None
    named = infer_signature({"ids": [[1, 2]], "mask": np.ones((1, 2), dtype=bool)})
    assert named.inputs == (
        TensorSpec("int64", (-1, 2), "ids"),
        TensorSpec("bool", (-1, 2), "mask"),
    )
    assert named.input_names == ["ids", "mask"]
    assert Signature.from_dict(named.to_dict()) == named


def test_what_a_signature_cannot_describe_is_refused_by_name() -> None:
    with pytest.raises(InvalidInputError, match="column 'mixed' holds mixed values"):
        infer_signature(pd.DataFrame({"mixed": [1, "a"]}))
    with pytest.raises(InvalidInputError, match="single value"):
        infer_signature(np.float64(3.0))
    with pytest.raises(InvalidInputError, match="unknown type 'decimal'; use one of double"):
        ColumnSpec("x", "decimal")
    with pytest.raises(InvalidInputError, match="named TensorSpec"):
        Signature([TensorSpec("float32", (-1,))])


def test_every_problem_is_reported_at_once() -> None:
    signature = infer_signature(_every_type())
    bad = pd.DataFrame(
        {
            "f64": ["1.5", "2"],  # a string is never parsed as a number
            "f32": [1.0, 2.0],
            "i64": [1.5, 2.0],  # a float is never truncated
            "i32": [1, 2],
            "flag": [1, 0],  # a number is not a boolean
            "name": [1, 2],
            "when": ["2024-01-01", "2024-01-02"],
            "blob": [b"x", b"y"],
        }
    )
    with pytest.raises(SignatureError) as caught:
        check_input(signature, bad)
    assert caught.value.problems == [
        "column 'f64' (double): str cannot become float64; only numbers widen, nothing else casts",
        "column 'i64' (long): float64 -> int64 would drop the fraction; round and cast the "
        "values first",
        "column 'flag' (boolean): int64 cannot become bool; only numbers widen, nothing else casts",
        "column 'name' (string): int64 values are not string; convert them first",
        "column 'when' (datetime): str is not a datetime; parse it first (pandas.to_datetime)",
        "missing column 'gappy' (double)",
    ]
    assert "6 problems" in caught.value.message
    assert caught.value.details == {"problems": caught.value.problems}


def test_safe_casts_are_applied_extra_columns_dropped_and_order_fixed() -> None:
    signature = Signature(
        [ColumnSpec("age", "long"), ColumnSpec("income", "double"), ColumnSpec("w", "float")]
    )
    data = pd.DataFrame(
        {
            "w": [0.5, 1.5],  # float64 -> float32 is allowed: it only rounds
            "extra": ["dropped", "too"],
            "income": np.array([10, 20], dtype="int32"),  # int -> float
            "age": np.array([30, 40], dtype="int16"),  # int16 -> int64
        }
    )
    out = check_input(signature, data)
    assert list(out.columns) == ["age", "income", "w"]
    assert out.dtypes.astype(str).tolist() == ["int64", "float64", "float32"]
    assert out["income"].tolist() == [10.0, 20.0]
    records = check_input(signature, data.to_dict("records"))
    assert records.equals(out.reset_index(drop=True))
    assert check_input(signature, out) is out  # nothing to change: the same frame back


def test_integer_column_labels_are_named_as_text_but_stay_integers() -> None:
    frame = pd.DataFrame(np.zeros((2, 2)))  # what a model fitted on DataFrame(array) saw
    signature = infer_signature(frame)
    assert signature.input_names == ["0", "1"]
    out = check_input(signature, frame[[1, 0]].astype("float32"))
    assert list(out.columns) == [0, 1]


def test_narrowing_is_refused_only_when_values_do_not_fit() -> None:
    small = Signature([ColumnSpec("n", "integer"), ColumnSpec("x", "float")])
    fits = check_input(small, pd.DataFrame({"n": [1, 2], "x": [1.0, 2.0]}))
    assert fits.dtypes.astype(str).tolist() == ["int32", "float32"]
    with pytest.raises(SignatureError) as caught:
        check_input(small, pd.DataFrame({"n": [1, 2**40], "x": [1e300, 1.0]}))
    assert caught.value.problems == [
        "column 'n' (integer): values outside the int32 range [-2147483648, 2147483647] "
        "cannot become int32",
        "column 'x' (float): values beyond ±3.403e+38 do not fit float32",
    ]


def test_tensors_check_dtype_and_every_dimension_but_the_batch() -> None:
    signature = infer_signature(np.zeros((2, 3, 4), dtype="float64"))
    out = check_input(signature, np.ones((7, 3, 4), dtype="float32"))
    assert out.dtype == np.float64
    assert out.shape == (7, 3, 4)
    assert check_input(signature, [[[1] * 4] * 3]).dtype == np.float64
    with pytest.raises(SignatureError, match=r"input: expected shape \(\?, 3, 4\), got \(7, 4\)"):
        check_input(signature, np.ones((7, 4)))
    with pytest.raises(SignatureError, match="bool cannot become float64"):
        check_input(signature, np.ones((1, 3, 4), dtype=bool))


def test_named_tensors_need_a_dict_with_each_name() -> None:
    signature = infer_signature({"ids": np.zeros((2, 3), dtype="int64"), "w": np.zeros(2)})
    out = check_input(signature, {"ids": np.ones((1, 3), dtype="int8"), "w": [1], "x": 0})
    assert set(out) == {"ids", "w"}
    assert out["ids"].dtype == np.int64
    assert out["w"].dtype == np.float64
    with pytest.raises(SignatureError) as caught:
        check_input(signature, {"ids": np.ones((1, 2))})
    assert caught.value.problems == [
        "tensor 'ids': expected shape (?, 3), got (1, 2)",
        "missing tensor 'w' (float64, shape (-1,))",
    ]
    with pytest.raises(SignatureError, match="expected a dict of tensors 'ids', 'w', got list"):
        check_input(signature, [1, 2])


def test_a_table_signature_refuses_what_is_not_a_table() -> None:
    signature = Signature([ColumnSpec("a", "double")])
    with pytest.raises(SignatureError, match=r"expected a table with columns a .* got ndarray"):
        check_input(signature, np.zeros((2, 1)))
    with pytest.raises(SignatureError, match="do not make a table"):
        check_input(signature, {"a": 1.0})


_DTYPES = st.sampled_from(["float64", "float32", "int64", "int32", "int8", "bool", "str"])


@given(
    columns=st.dictionaries(
        st.text("abcxyz_", min_size=1, max_size=6), _DTYPES, min_size=1, max_size=5
    ),
    rows=st.integers(0, 4),
    seed=st.integers(0, 2**16),
)
def test_an_example_always_fits_its_own_signature(
    columns: dict[str, str], rows: int, seed: int
) -> None:
    random = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            name: random.integers(-50, 50, rows).astype(str)
            if dtype == "str"
            else random.integers(-50, 50, rows).astype(dtype)
            for name, dtype in columns.items()
        }
    )
    checked = check_input(infer_signature(frame), frame)  # no SignatureError
    assert list(checked.columns) == list(frame.columns)
    for name in frame.columns:  # int8 may widen to the signature's int32: same values
        assert checked[name].tolist() == frame[name].tolist()


_NUMERIC_KINDS = st.sampled_from(["double", "float", "long", "integer"])
_NUMBERS = st.one_of(
    st.integers(-(2**40), 2**40), st.floats(allow_nan=True, allow_infinity=False, width=64)
)


@given(
    kinds=st.lists(_NUMERIC_KINDS, min_size=1, max_size=5),
    rows=st.integers(1, 4),
    data=st.data(),
)
def test_numeric_columns_and_records_take_the_same_path_as_a_frame(
    kinds: list[str], rows: int, data: st.DataObject
) -> None:
    """A server's columns and records (the fast path) give what the DataFrame path gives."""
    signature = Signature([ColumnSpec(f"c{i}", kind) for i, kind in enumerate(kinds)])
    columns = {
        f"c{i}": data.draw(st.lists(_NUMBERS, min_size=rows, max_size=rows), label=f"c{i}")
        for i in range(len(kinds))
    }
    records = [{name: values[row] for name, values in columns.items()} for row in range(rows)]
    try:
        expected = check_input(signature, pd.DataFrame(columns))
    except SignatureError as err:
        refused = err.problems
    else:
        refused = None
    for given_as in (columns, records):
        if refused is not None:
            with pytest.raises(SignatureError) as caught:
                check_input(signature, given_as)
            assert caught.value.problems == refused
            continue
        got = check_input(signature, given_as)
        assert got.columns.tolist() == expected.columns.tolist()
        assert got.dtypes.tolist() == expected.dtypes.tolist()
        np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())


def test_columns_or_records_that_are_not_plain_numbers_are_checked_in_full() -> None:
    signature = Signature([ColumnSpec("a", "double"), ColumnSpec("b", "long")])
    out = check_input(signature, {"b": [1, 2], "a": [1, 2.5]})  # order fixed, ints widened
    assert out.columns.tolist() == ["a", "b"]
    assert out.dtypes.astype(str).tolist() == ["float64", "int64"]
    extra = check_input(signature, [{"a": 1.0, "b": 2, "note": "x"}])  # an extra key: dropped
    assert extra.columns.tolist() == ["a", "b"]
    with pytest.raises(SignatureError) as caught:
        check_input(signature, {"a": ["1.0"], "b": [1.5]})
    assert caught.value.problems == [
        "column 'a' (double): str cannot become float64; only numbers widen, nothing else casts",
        "column 'b' (long): float64 -> int64 would drop the fraction; round and cast the values "
        "first",
    ]
    with pytest.raises(SignatureError, match="missing column 'b'"):
        check_input(signature, [{"a": 1.0}])
