"""Materializers: every supported type comes back equal; others are refused clearly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from loopml.artifacts import ArtifactStore
from loopml.errors import InvalidInputError, NotFoundError
from loopml.pipelines import register_materializer
from loopml.pipelines._task import INLINE_LIMIT, load_ref, store_value
from loopml.pipelines.materializers import (
    choose_materializer,
    get_materializer,
    unregister_materializer,
)


@pytest.fixture
def blobs() -> ArtifactStore:
    return ArtifactStore.from_url("memory://")


def _roundtrip(value: Any, blobs: ArtifactStore, **options: Any) -> tuple[Any, Any]:
    ref = store_value(value, blobs, Path.cwd(), step="s", output="o", **options)
    return ref, load_ref(ref, blobs)


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ({"a": [1, 2.5, None, "x"]}, "json"),
        (list(range(5000)), "json"),
        (pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}, index=[10, 20]), "parquet"),
        (pd.Series([1.5, 2.5], name="price"), "parquet"),
        (pa.table({"a": [1, 2]}), "parquet"),
        (np.arange(12, dtype=np.float32).reshape(3, 4), "numpy"),
    ],
)
def test_values_round_trip(value: Any, name: str, blobs: ArtifactStore) -> None:
    ref, back = _roundtrip(value, blobs)
    assert ref.materializer == name
    if isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(back, value)
    elif isinstance(value, pd.Series):
        pd.testing.assert_series_equal(back, value)
    elif isinstance(value, pa.Table):
        assert back.equals(value)
    elif isinstance(value, np.ndarray):
        np.testing.assert_array_equal(back, value)
        assert back.dtype == value.dtype
    else:
        assert back == value


def test_small_json_is_inline_and_large_json_is_a_blob(blobs: ArtifactStore) -> None:
    small, _ = _roundtrip({"k": 1}, blobs)
    large, _ = _roundtrip(list(range(INLINE_LIMIT)), blobs)
    assert small.is_inline
    assert not blobs.exists(small.digest)
    assert not large.is_inline
    assert blobs.exists(large.digest)


def test_equal_tables_have_equal_digests(blobs: ArtifactStore) -> None:
    frame = pd.DataFrame({"a": np.arange(100), "b": np.linspace(0, 1, 100)})
    first, _ = _roundtrip(frame, blobs)
    second, _ = _roundtrip(frame.copy(), blobs)
    assert first.digest == second.digest


def test_sklearn_estimators_use_skops(blobs: ArtifactStore) -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    ref, back = _roundtrip(model, blobs)
    assert ref.materializer == "skops"
    assert back.predict([[3.0]]) == model.predict([[3.0]])


def test_unknown_types_are_refused_unless_pickle_is_allowed(blobs: ArtifactStore) -> None:
    value = {1, 2, 3}
    with pytest.raises(InvalidInputError, match="of type set, which no materializer stores"):
        _roundtrip(value, blobs)
    ref, back = _roundtrip(value, blobs, allow_pickle=True)
    assert ref.materializer == "pickle"
    assert back == value


def test_custom_and_forced_materializers(blobs: ArtifactStore) -> None:
    class Upper:
        name, extension = "upper-text", ".txt"

        def accepts(self, value: Any) -> bool:
            return isinstance(value, bytes)

        def save(self, value: Any, path: Path) -> None:
            path.write_bytes(value.upper())

        def load(self, path: Path) -> Any:
            return path.read_bytes()

    register_materializer(Upper())
    try:
        ref, back = _roundtrip(b"abc", blobs)
    finally:
        unregister_materializer("upper-text")
    assert (ref.materializer, back) == ("upper-text", b"ABC")
    with pytest.raises(InvalidInputError, match="of type bytes"):
        _roundtrip(b"abc", blobs)
    with pytest.raises(InvalidInputError, match="does not accept"):
        choose_materializer("x", step="s", output="o", allow_pickle=False, forced="numpy")
    with pytest.raises(NotFoundError, match="materializer 'parquett' not found"):
        get_materializer("parquett")
    with pytest.raises(InvalidInputError, match="is not a materializer"):
        register_materializer(object())  # type: ignore[arg-type]
