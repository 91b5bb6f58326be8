"""Bad input to the tracking API fails when it is given, with a message that says what to do.

Each case here once got through: it was stored as garbage, broke a later call (``end_run``,
journal recovery) or surfaced as a raw Python traceback.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest

import loopml
from loopml.errors import InvalidInputError, NotFoundError
from loopml.tracking import TrackingClient


@pytest.mark.parametrize(
    ("step", "timestamp", "message"),
    [
        (2**63, None, r"metric step 9223372036854775808 is out of range: it must fit in 64 bits"),
        (-(2**63) - 1, None, "out of range"),
        (0, 2**70, r"metric timestamp 1180591620717411303424 is out of range"),
        (0, "now", r"metric timestamp must be Unix time in milliseconds.*got str 'now'"),
        (0, True, r"metric timestamp must be .*got bool True"),
        (True, None, r"metric step must be an integer.*got bool True"),
        ("3", None, r"metric step must be an integer.*got str '3'"),
        (0, math.nan, r"metric timestamp must be .*got nan"),
        (0, math.inf, r"metric timestamp must be .*got inf"),
        (1.5, None, r"metric step must be an integer.*got 1.5"),
    ],
)
def test_bad_step_or_timestamp_is_refused_when_logged(
    client: TrackingClient, step: object, timestamp: object, message: str
) -> None:
    run = client.create_run()
    with pytest.raises(InvalidInputError, match=message):
        client.log_metric(run.id, "m", 1.0, step=step, timestamp=timestamp)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=message):
        client.log_batch(run.id, [("m", 1.0, step, timestamp)])  # type: ignore[list-item]
    client.end_run(run.id)  # once broke with a raw OverflowError
    assert client.get_run(run.id).metrics == {}


def test_log_metrics_checks_its_timestamp(client: TrackingClient) -> None:
    run = client.create_run()
    with pytest.raises(InvalidInputError, match="got str 'now'"):
        client.log_metrics(run.id, {"a": 1.0}, timestamp="now")  # type: ignore[arg-type]
    client.end_run(run.id)


def test_float_timestamps_are_rounded_down_to_the_millisecond(client: TrackingClient) -> None:
    run = client.create_run()
    now = time.time() * 1000
    client.log_metric(run.id, "m", 1.0, timestamp=now)  # type: ignore[arg-type]
    client.log_metric(run.id, "m", 2.0, step=np.int64(1), timestamp=np.float64(1234.9))  # type: ignore[arg-type]
    client.log_metric(run.id, "m", 3.0, step=2.0, timestamp=np.int64(5))  # type: ignore[arg-type]
    client.end_run(run.id)
    history = client.get_metric_history(run.id, "m")
    assert [(p.step, p.timestamp) for p in history] == [(0, math.floor(now)), (1, 1234), (2, 5)]
    assert all(type(p.timestamp) is int and type(p.step) is int for p in history)


def test_int64_limits_themselves_are_accepted(client: TrackingClient) -> None:
    run = client.create_run()
    client.log_metric(run.id, "m", 1.0, step=2**63 - 1, timestamp=2**63 - 1)
    client.log_metric(run.id, "m", 1.0, step=-(2**63), timestamp=0)
    client.end_run(run.id)
    assert [p.step for p in client.get_metric_history(run.id, "m")] == [-(2**63), 2**63 - 1]


def test_a_huge_metric_value_is_a_clear_error(client: TrackingClient) -> None:
    run = client.create_run()
    with pytest.raises(InvalidInputError, match=r"metric 'm' value 1000.*too large for a 64-bit"):
        client.log_metric(run.id, "m", 10**400)
    client.log_metric(run.id, "nan", math.nan)  # NaN and infinities stay allowed
    client.log_metric(run.id, "inf", -math.inf)
    client.end_run(run.id)
    assert math.isnan(client.get_run(run.id).metrics["nan"])


@pytest.mark.parametrize(
    "value", [object(), [1, 2], {"a": 1}, Path("x"), b"bytes", np.array([1, 2])]
)
def test_params_must_be_plain_values(client: TrackingClient, value: object) -> None:
    run = client.create_run()
    with pytest.raises(InvalidInputError, match=r"param 'p' must be a string, number, boolean"):
        client.log_param(run.id, "p", value)
    with pytest.raises(InvalidInputError, match=r"json\.dumps"):
        client.create_run(params={"p": value})
    assert client.get_run(run.id).params == {}


def test_plain_params_are_stored_as_text(client: TrackingClient) -> None:
    run = client.create_run()
    values = {
        "s": "rf",
        "i": 3,
        "f": 0.5,
        "b": True,
        "none": None,
        "np_int": np.int64(7),
        "np_float": np.float32(0.25),
        "np_bool": np.bool_(False),
    }
    client.log_params(run.id, values)
    assert client.get_run(run.id).params == {
        "s": "rf",
        "i": "3",
        "f": "0.5",
        "b": "True",
        "none": "None",
        "np_int": "7",
        "np_float": "0.25",
        "np_bool": "False",
    }


@pytest.mark.parametrize("bad", ["two\nlines", "nul\x00byte", "tab\there", "bell\x07", "del\x7f"])
def test_experiment_and_run_names_refuse_control_characters(
    client: TrackingClient, bad: str
) -> None:
    with pytest.raises(InvalidInputError, match=r"experiment name .* contains the control"):
        client.create_experiment(bad)
    with pytest.raises(InvalidInputError, match=r"experiment name .* contains the control"):
        client.create_run(bad)
    with pytest.raises(InvalidInputError, match=r"run name .* contains the control character"):
        client.create_run("fine", name=bad)
    assert client.list_experiments() == []


def test_wrong_types_for_names_and_ids_are_clear_errors(client: TrackingClient) -> None:
    with pytest.raises(InvalidInputError, match=r"experiment name must be a string, got int 5"):
        client.create_run(5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"run id must be a non-empty string, got NoneType"):
        client.get_run(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="experiment name must be a string"):
        client.get_experiment(None)  # type: ignore[arg-type]


def test_a_huge_name_is_quoted_shortened_with_its_length(client: TrackingClient) -> None:
    huge = "a" * 100_000
    calls = [
        (lambda: client.get_run(huge), NotFoundError),
        (lambda: client.create_run(huge), InvalidInputError),
        (lambda: client.create_run("e", name=huge), InvalidInputError),
        (lambda: client.log_metric(client.create_run("e").id, huge, 1.0), InvalidInputError),
    ]
    for call, kind in calls:
        with pytest.raises(kind) as caught:
            call()
        message = str(caught.value)
        assert len(message) < 400, message
        assert "…' (100000 characters)" in message


# -- the fluent API ---------------------------------------------------------------------


@pytest.fixture
def _fluent(tmp_path: Path) -> None:
    loopml.configure(home=str(tmp_path / "home"))


@pytest.mark.usefixtures("_fluent")
def test_fluent_calls_that_once_raised_raw_tracebacks() -> None:
    with pytest.raises(InvalidInputError, match="experiment name must be a string, got int 5"):
        loopml.start_run(experiment=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="run id must be a non-empty string"):
        loopml.get_run(None)  # type: ignore[arg-type]
    with loopml.start_run() as run:
        with pytest.raises(InvalidInputError, match="too large for a 64-bit float"):
            loopml.log_metric("m", 10**400)
        with pytest.raises(InvalidInputError, match="out of range"):
            loopml.log_metric("m", 1.0, step=2**63)
        with pytest.raises(InvalidInputError, match="got str 'now'"):
            loopml.log_metric("m", 1.0, timestamp="now")  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="param 'p' must be a string"):
            loopml.log_param("p", object())
        loopml.log_metric("m", 1.0, timestamp=time.time() * 1000)  # type: ignore[arg-type]
    assert loopml.get_run(run.id).metrics == {"m": 1.0}


@pytest.mark.usefixtures("_fluent")
@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"loss": math.nan}, "data['loss'] = nan"),
        ({"a": {"b": [1.0, math.inf]}}, "data['a']['b'][1] = inf"),
        ({"a": (-math.inf,)}, "data['a'][0] = -inf"),
    ],
)
def test_log_dict_refuses_nan_and_names_where_it_is(data: dict[str, object], where: str) -> None:
    with loopml.start_run() as run:
        with pytest.raises(InvalidInputError, match=r"log_dict cannot write .* as JSON") as caught:
            loopml.log_dict(data, "d.json")
        assert where in str(caught.value)
        loopml.log_dict({"ok": 1.5, "none": None}, "ok.json")
    paths = [e.path for e in run.client.run_artifacts.list(run.id)]
    assert paths == ["ok.json"]
    text = run.client.run_artifacts.read_bytes(run.id, "ok.json").decode()
    assert json.loads(text) == {"ok": 1.5, "none": None}


@pytest.mark.usefixtures("_fluent")
def test_other_wrong_argument_types_are_clear_errors() -> None:
    with pytest.raises(InvalidInputError, match="max_results must be a whole number"):
        loopml.search_runs(max_results="5")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="filter must be a string"):
        loopml.search_runs(filter=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="run name must be a string, got int 5"):
        loopml.start_run(name=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="tags must be a mapping"):
        loopml.start_run(tags=["a"])  # type: ignore[arg-type]
    with loopml.start_run():
        with pytest.raises(InvalidInputError, match="params must be a mapping"):
            loopml.log_params(5)  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="metrics must be a mapping"):
            loopml.log_metrics([1.0])  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="log_text takes a string, got NoneType"):
            loopml.log_text(None, "notes.txt")  # type: ignore[arg-type]
