"""``loopml.monitoring.drift``: the one-call drift for notebooks and CI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import loopml.monitoring as monitoring
from loopml.data.sketch import sketch_table
from loopml.errors import InvalidInputError


def _frames(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    reference = pd.DataFrame(
        {"age": rng.normal(40, 10, 5000), "plan": rng.choice(["basic", "pro"], 5000)}
    )
    current = pd.DataFrame(
        {"age": rng.normal(48, 10, 800), "plan": rng.choice(["basic", "pro"], 800)}
    )
    return reference, current


def test_two_frames() -> None:
    reference, current = _frames()
    result = monitoring.drift(reference, current)
    assert isinstance(result, monitoring.TableDrift)
    assert result.drifted_columns == ("age",)
    assert isinstance(result.columns[0], monitoring.ColumnDrift)
    assert "<table" in result._repr_html_()


def test_a_sketch_file_gives_the_same_result_as_the_sketch(tmp_path: Path) -> None:
    reference, current = _frames(1)
    sketch = sketch_table(reference)
    path = tmp_path / "reference.sketch.json"
    path.write_bytes(sketch.to_bytes())
    from_file = monitoring.drift(path, current, correction="bonferroni")
    assert from_file == monitoring.drift(sketch, current, correction="bonferroni")
    assert from_file.correction == "bonferroni"


def test_a_parquet_reference_is_sketched(tmp_path: Path) -> None:
    reference, current = _frames(2)
    pq.write_table(
        pa.Table.from_pandas(reference, preserve_index=False), tmp_path / "reference.parquet"
    )
    result = monitoring.drift(str(tmp_path / "reference.parquet"), current, columns=["age"])
    assert [column.column for column in result.columns] == ["age"]


def test_a_missing_or_broken_reference_file_is_reported(tmp_path: Path) -> None:
    _, current = _frames()
    with pytest.raises(InvalidInputError, match="is not a file"):
        monitoring.drift(tmp_path / "nowhere.json", current)
    (tmp_path / "bad.json").write_text('{"version": 99}')
    with pytest.raises(InvalidInputError, match=r"bad\.json"):
        monitoring.drift(tmp_path / "bad.json", current)
