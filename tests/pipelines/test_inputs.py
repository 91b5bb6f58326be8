"""``loopml.dataset``: a dataset input's URI is one the URI parser accepts, with one meaning,
and the version a run reads (the latest, or a pinned one)."""

from __future__ import annotations

import string

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import loopml
from loopml.config import Settings
from loopml.data import DatasetClient
from loopml.errors import InvalidInputError
from loopml.pipelines.inputs import DatasetInput
from loopml.tracking import TrackingClient
from loopml.uris import parse_uri

names = st.builds(
    str.__add__,
    st.sampled_from(string.ascii_letters + string.digits + "_"),
    st.text(alphabet=string.ascii_letters + string.digits + "_.-", max_size=20),
)


@given(names, st.none() | st.integers(1, 10**9))
def test_the_uri_of_a_dataset_input_parses_back_to_the_same_input(
    name: str, version: int | None
) -> None:
    spec = loopml.dataset(name, version)
    uri = parse_uri(spec.uri)
    assert (uri.scheme, uri.name, uri.version) == ("datasets", name, version)
    assert uri.alias == (None if version else "latest")
    assert loopml.dataset(spec.uri) == spec


def test_latest_and_explicit_versions_mean_what_they_say() -> None:
    assert loopml.dataset("iris").uri == "datasets:/iris@latest"
    assert loopml.dataset("datasets:/iris@latest") == DatasetInput("iris", None)
    assert loopml.dataset("datasets:/iris/3") == DatasetInput("iris", 3)
    assert loopml.dataset("datasets:/iris/3").uri == "datasets:/iris/3"
    assert loopml.dataset("iris", 3) == DatasetInput("iris", 3)


@pytest.mark.parametrize(
    ("given_name", "version", "message"),
    [
        ("datasets:/iris@anything", None, "datasets have no alias 'anything'; use @latest"),
        ("iris@prod", None, "datasets have no alias 'prod'"),
        ("datasets:/iris/3", 4, "names version 3, not 4"),
        ("datasets:/iris/3/data.csv", None, "names a file inside a dataset version"),
        ("models:/iris/3", None, "is a models URI"),
        ("bad name", None, "invalid dataset name 'bad name'"),
        ("iris", 0, "dataset versions start at 1"),
    ],
)
def test_a_dataset_input_that_would_mean_something_else_is_refused(
    given_name: str, version: int | None, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        loopml.dataset(given_name, version)


@loopml.step
def count_latest(data: pd.DataFrame) -> int:
    return len(data)


@loopml.step
def count_first(data: pd.DataFrame) -> int:
    return len(data)


@loopml.pipeline
def counting() -> None:
    count_latest(loopml.dataset("rows"))
    count_first(loopml.dataset("rows", 1))


def test_dataset_versions_pin_the_inputs_that_ask_for_the_latest(sqlite_settings: Settings) -> None:
    datasets = DatasetClient(sqlite_settings)
    for rows in (1, 2, 3):
        datasets.log("rows", pd.DataFrame({"x": range(rows)}))

    run = counting.run(
        settings=sqlite_settings,
        dataset_versions={"rows": 2},
        tags={"loopml.reproduces": "models:/m/1"},
    )
    assert (run.load("count_latest"), run.load("count_first")) == (2, 1)
    assert (
        TrackingClient(sqlite_settings).get_run(run.id).tags["loopml.reproduces"] == "models:/m/1"
    )
    # Without pins, the latest is the latest.
    assert counting.run(settings=sqlite_settings).load("count_latest") == 3
