"""An inferred schema keeps a sketch of its data, so validate checks drift by default."""

from __future__ import annotations

import dataclasses
import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loopml.data.report import render_html
from loopml.data.schema import DriftConfig, infer_schema, load_schema, save_schema
from loopml.data.validate import validate
from loopml.errors import InvalidInputError


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "id": np.arange(600),
            "age": rng.integers(18, 80, 600),
            "income": rng.normal(50_000, 8_000, 600),
            "plan": rng.choice(["basic", "pro", "team"], 600, p=[0.6, 0.3, 0.1]),
            "active": rng.random(600) > 0.3,
        }
    )


def test_a_column_scaled_by_1_5_drifts_against_the_inferred_schema(frame: pd.DataFrame) -> None:
    schema = infer_schema(frame)
    result = validate(frame.assign(income=frame["income"] * 1.5), schema)

    assert set(result.drift) == {"age", "income", "plan", "active"}  # id is unique: no drift
    assert result.drift["income"].drifted
    assert not any(result.drift[name].drifted for name in ("age", "plan", "active"))
    assert [(v.column, v.check) for v in result.violations if v.check == "drift"] == [
        ("income", "drift")
    ]
    columns = render_html(result).split('id="columns"')[1]
    row = columns.split("<code>income</code>")[1].split("</tr>")[0]
    assert html.escape(result.drift["income"].summary) in row  # a value in the cell, not "-"


def test_the_profile_is_saved_beside_the_schema_and_read_back(
    frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = save_schema(infer_schema(frame), tmp_path / "orders.toml")
    sidecar = tmp_path / "orders.reference.json"
    text = path.read_text()
    assert 'profile = "orders.reference.json"' in text
    assert len(text.splitlines()) < 80  # the schema stays short; the numbers are beside it
    stored = json.loads(sidecar.read_text())
    assert stored["columns"]["plan"]["counts"][0] == ["basic", int((frame.plan == "basic").sum())]

    loaded = load_schema(path)
    assert loaded.reference_profile == stored
    result = validate(frame.assign(income=frame["income"] * 1.5), loaded)
    assert [name for name, found in result.drift.items() if found.drifted] == ["income"]
    assert validate(frame, loaded).passed


def test_a_missing_profile_file_is_named(frame: pd.DataFrame, tmp_path: Path) -> None:
    path = save_schema(infer_schema(frame), tmp_path / "s.toml")
    (tmp_path / "s.reference.json").unlink()
    with pytest.raises(InvalidInputError, match=r"s\.reference\.json', which does not exist"):
        load_schema(path)


def test_a_method_that_needs_the_reference_data_says_so(frame: pd.DataFrame) -> None:
    schema = dataclasses.replace(infer_schema(frame), drift=DriftConfig(method="ks"))
    with pytest.raises(InvalidInputError, match="'ks' needs the reference data itself"):
        validate(frame, schema)
