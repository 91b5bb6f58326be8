"""Schema files: TOML and JSON round trips, and clear errors for malformed files."""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopml.data.schema import (
    COLUMN_CHECKS,
    ColumnSchema,
    DataSchema,
    DriftConfig,
    load_schema,
    save_schema,
)
from loopml.errors import InvalidInputError

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
SEVERITY: st.SearchStrategy[Literal["error", "warn"]] = st.sampled_from(["error", "warn"])
ZONES = st.sampled_from(
    [
        None,
        dt.UTC,
        dt.timezone(dt.timedelta(hours=5, minutes=30)),
        dt.timezone(-dt.timedelta(hours=8)),
    ]
)
BOUNDS: dict[str, st.SearchStrategy[Any]] = {
    "int": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(allow_nan=False),
    "date": st.dates(),
}
CATEGORIES: dict[str, st.SearchStrategy[Any]] = {
    "int": st.integers(-(2**63), 2**63 - 1),
    "bool": st.booleans(),
    "string": TEXT,
    "categorical": st.one_of(TEXT, st.integers(-1000, 1000)),
}


@st.composite
def bounds(draw: st.DrawFn, dtype: str) -> tuple[Any, Any]:
    if dtype == "timestamp":
        zone = draw(ZONES)
        values = st.datetimes(
            min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)
        ).map(lambda d: d.replace(tzinfo=zone))
    else:
        values = BOUNDS[dtype]
    low, high = sorted([draw(values), draw(values)])
    return (draw(st.sampled_from([low, None])), draw(st.sampled_from([high, None])))


@st.composite
def columns(draw: st.DrawFn, name: str) -> ColumnSchema:
    dtype = draw(
        st.sampled_from(["int", "float", "bool", "string", "categorical", "timestamp", "date"])
    )
    low, high = (
        draw(bounds(dtype)) if dtype in ("int", "float", "timestamp", "date") else (None, None)
    )
    categories = None
    if dtype in CATEGORIES and draw(st.booleans()):
        categories = tuple(draw(st.lists(CATEGORIES[dtype], max_size=5)))
    nullable = draw(st.booleans())
    return ColumnSchema(
        name=name,
        dtype=dtype,  # type: ignore[arg-type]
        required=draw(st.booleans()),
        nullable=nullable,
        max_null_fraction=draw(st.one_of(st.none(), st.floats(0, 1))) if nullable else None,
        min_value=low,
        max_value=high,
        categories=categories,
        unique=draw(st.booleans()),
        severity=draw(SEVERITY),
        severities=draw(st.dictionaries(st.sampled_from(COLUMN_CHECKS), SEVERITY, max_size=3)),
        description=draw(TEXT),
    )


@st.composite
def schemas(draw: st.DrawFn) -> DataSchema:
    names = draw(st.lists(TEXT, min_size=1, max_size=5, unique=True))
    cols = tuple(draw(columns(name)) for name in names)
    rows = sorted(draw(st.lists(st.integers(0, 2**40), min_size=2, max_size=2)))
    keys = draw(st.lists(st.lists(st.sampled_from(names), min_size=1, max_size=3), max_size=2))
    drift = None
    if draw(st.booleans()):
        drift = DriftConfig(
            reference=draw(st.one_of(st.none(), TEXT)),
            method=draw(st.sampled_from(["auto", "ks", "chi2", "psi", "js", "wasserstein"])),
            threshold=draw(st.one_of(st.none(), st.floats(0, 10))),
            columns=tuple(draw(st.lists(st.sampled_from(names), max_size=3))),
            severity=draw(SEVERITY),
        )
    return DataSchema(
        columns=cols,
        min_rows=draw(st.sampled_from([rows[0], None])),
        max_rows=draw(st.sampled_from([rows[1], None])),
        extra_columns=draw(st.sampled_from(["error", "warn", "ignore"])),
        unique_keys=tuple(tuple(key) for key in keys),
        severity=draw(SEVERITY),
        drift=drift,
        description=draw(TEXT),
    )


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(schema=schemas(), suffix=st.sampled_from([".toml", ".json"]))
def test_any_schema_round_trips_through_its_file(
    schema: DataSchema, suffix: str, tmp_path: Path
) -> None:
    path = save_schema(schema, tmp_path / f"schema{suffix}")
    assert load_schema(path) == schema


def test_the_toml_file_is_commented_ordered_and_editable(tmp_path: Path) -> None:
    schema = DataSchema(
        (
            ColumnSchema("zeta", "int", nullable=False, min_value=0, unique=True),
            ColumnSchema("signup date", "timestamp", min_value=dt.datetime(2024, 1, 1)),
            ColumnSchema(
                "plan", "string", categories=("a", "b"), severities={"categories": "warn"}
            ),
        ),
        min_rows=10,
        max_rows=20,
    )
    path = save_schema(schema, tmp_path / "schema.toml")
    text = path.read_text()
    assert text.startswith("# loopml data schema")
    assert text.index("[columns.zeta]") < text.index('[columns."signup date"]')
    assert "min_value = 2024-01-01T00:00:00\n" in text  # a native TOML datetime
    assert '[columns.plan.severities]\ncategories = "warn"' in text
    assert "# [drift]" in text  # a commented example to enable
    edited = text.replace("min_rows = 10", "min_rows = 12  # raised by hand")
    path.write_text(edited)
    assert load_schema(path).min_rows == 12
    assert tomllib.loads(text)["table"] == {
        "min_rows": 10,
        "max_rows": 20,
        "extra_columns": "warn",
        "severity": "error",
    }


def test_json_files_hold_dates_as_iso_text(tmp_path: Path) -> None:
    schema = DataSchema((ColumnSchema("d", "date", min_value=dt.date(2024, 5, 1)),))
    path = save_schema(schema, tmp_path / "schema.json")
    assert json.loads(path.read_text())["columns"]["d"]["min_value"] == "2024-05-01"


MALFORMED = [
    ("columns = [", "is not valid TOML"),
    ("format = 2", "format = 2 is not a schema format"),
    ("format = true", "format = True is not a schema format"),
    ("[colums.x]\ndtype = 'int'", "unknown key 'colums'; did you mean columns?"),
    ("[columns.x]\nnullable = true", "columns.x has no dtype"),
    ("[columns.x]\ndtype = 'integer'", "columns.x.dtype must be one of int, float"),
    ("[columns.x]\ndtype = 'int'\nmin_value = 'low'", "columns.x.min_value must be a number"),
    ("[columns.x]\ndtype = 'int'\nnullable = 'yes'", "columns.x.nullable must be true or false"),
    ("[columns.x]\ndtype = 'int'\nseverity = 'fatal'", "columns.x.severity must be one of"),
    ("[columns.x]\ndtype = 'int'\nmaxvalue = 3", "unknown key 'maxvalue'; did you mean max_value?"),
    ("[columns.x]\ndtype = 'int'\nmin_value = 9\nmax_value = 1", "min_value 9 is above"),
    ("[columns.x]\ndtype = 'float'\ncategories = [1.5]", "categories apply to"),
    ("[columns.x]\ndtype = 'int'\ncategories = 'a'", "columns.x.categories must be a list"),
    ("[columns.x]\ndtype = 'date'\nmin_value = 'May 1st'", "must be an ISO date"),
    ("[columns.x]\ndtype = 'int'\n[columns.x.severities]\nrange = 1", "severities.range must be"),
    ("[columns.x]\ndtype = 'int'\nmax_null_fraction = 1.5", "must be in [0, 1]"),
    ("columns = 3", "columns must be a table"),
    ("[table]\nmin_rows = -1", "table.min_rows must be a whole number >= 0"),
    ("[table]\nextra_columns = 'allow'", "table.extra_columns must be one of error, warn"),
    ("[table]\nunique_keys = ['a']", "table.unique_keys must be a list of column-name lists"),
    ("[table]\nunique_keys = [['a']]", "table.unique_keys names 'a', which is not"),
    ("[drift]\nmethod = 'kstest'", "drift.method must be one of auto, ks"),
    ("[drift]\nthreshold = 'high'", "drift.threshold must be a number"),
    ("[drift]\ncolumns = ['nope']", "drift.columns names 'nope'"),
    ('[columns."a.b"]\ndtype = "int"\nunique = 1', 'columns."a.b".unique must be true or false'),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_toml_names_the_key_and_the_fix(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "schema.toml"
    path.write_text(text)
    with pytest.raises(InvalidInputError) as caught:
        load_schema(path)
    assert message in caught.value.message
    assert str(path) in caught.value.message
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "is not valid JSON"),
        ("[1, 2]", "must hold a table of settings"),
        ('{"columns": {"x": {"dtype": "int", "min_value": NaN}}}', "must be a number"),
        ('{"columns": {"x": {"dtype": "timestamp", "max_value": 5}}}', "must be a datetime"),
    ],
)
def test_malformed_json_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "schema.json"
    path.write_text(text)
    with pytest.raises(InvalidInputError, match=message.replace("[", r"\[")):
        load_schema(path)


def test_a_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="--infer"):
        load_schema(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("schema.toml", ""),
        ("schema.toml", "# loopml data schema\nformat = 1\ndescription = 'todo'\n"),
        ("schema.toml", "[table]\nextra_columns = 'warn'\n"),
        ("schema.json", "{}"),
    ],
)
def test_a_schema_file_that_checks_nothing_is_refused(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InvalidInputError) as caught:
        load_schema(path)
    assert str(caught.value).startswith(
        f"schema file '{path}' declares no columns or checks; it would pass any data"
    )


def test_a_schema_with_only_table_checks_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "schema.toml"
    path.write_text("[table]\nmin_rows = 1\n")
    assert load_schema(path).min_rows == 1
