"""Reading the payload log back: windows filtered exactly, segments unioned, bad input refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

import loopml
from loopml.clock import use_clock
from loopml.config import Settings
from loopml.errors import InvalidInputError
from loopml.monitoring import PayloadWriter, list_segments, read_predictions
from loopml.testing import FakeClock

from .conftest import DEPLOYMENT, T0, MakePrediction

OpenWriter = Callable[..., PayloadWriter]


@pytest.fixture
def two_segments(local: Settings, open_writers: OpenWriter, predict: MakePrediction) -> Settings:
    """Requests r0-r9 at T0+0 … T0+9 ms in one segment, r10-r19 in another; r15 has a shadow."""
    writer = open_writers(local)
    for i in range(10):
        writer.record(predict(i))
    assert writer.flush()
    for i in range(10, 20):
        writer.record(predict(i))
    writer.record(predict(15, role="shadow", version=4))
    writer.close()
    assert len(list_segments(DEPLOYMENT, settings=local)) == 2
    return local


def ids(frame: object) -> list[str]:
    return list(dict.fromkeys(frame.request_id))  # type: ignore[attr-defined]


def test_the_window_is_since_inclusive_until_exclusive(two_segments: Settings) -> None:
    frame = read_predictions(DEPLOYMENT, T0 + 8, T0 + 12, settings=two_segments)
    assert ids(frame) == ["r8", "r9", "r10", "r11"]
    assert frame["time_ms"].between(T0 + 8, T0 + 11).all()


def test_open_ends(two_segments: Settings) -> None:
    assert ids(read_predictions(DEPLOYMENT, until=T0 + 2, settings=two_segments)) == ["r0", "r1"]
    assert ids(read_predictions(DEPLOYMENT, since=T0 + 18, settings=two_segments)) == [
        "r18",
        "r19",
    ]
    assert len(read_predictions(DEPLOYMENT, settings=two_segments)) == 2 * 21


def test_only_overlapping_segments_are_listed(two_segments: Settings) -> None:
    assert len(list_segments(DEPLOYMENT, T0 + 10, T0 + 11, settings=two_segments)) == 1
    assert len(list_segments(DEPLOYMENT, T0 + 9, T0 + 11, settings=two_segments)) == 2
    assert list_segments(DEPLOYMENT, T0 + 20, settings=two_segments) == []
    assert list_segments(DEPLOYMENT, until=T0, settings=two_segments) == []


def test_times_as_datetimes_and_iso_strings(two_segments: Settings) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=3)
    naive = datetime(2026, 1, 1) + timedelta(milliseconds=5)  # naive means UTC
    frame = read_predictions(DEPLOYMENT, start, naive, settings=two_segments)
    assert ids(frame) == ["r3", "r4"]
    iso = read_predictions(
        DEPLOYMENT, "2026-01-01T00:00:00.003Z", "2026-01-01T01:00:00.005+01:00",
        settings=two_segments,
    )  # fmt: skip
    assert ids(iso) == ["r3", "r4"]


def test_relative_times_follow_the_clock(two_segments: Settings) -> None:
    clock = FakeClock((T0 + 20) / 1000)
    with use_clock(clock):
        assert ids(read_predictions(DEPLOYMENT, "5ms", settings=two_segments)) == [
            f"r{i}" for i in range(15, 20)
        ]
        clock.advance(hours=2)
        assert len(read_predictions(DEPLOYMENT, "1h", settings=two_segments)) == 0
        assert len(read_predictions(DEPLOYMENT, "3h ago", "now", settings=two_segments)) == 42


def test_role_and_limit(two_segments: Settings) -> None:
    shadow = read_predictions(DEPLOYMENT, settings=two_segments, role="shadow")
    assert ids(shadow) == ["r15"]
    assert set(shadow["version"]) == {4}
    both = read_predictions(DEPLOYMENT, T0 + 15, T0 + 16, settings=two_segments)
    assert both["role"].tolist() == ["primary", "primary", "shadow", "shadow"]  # primary first
    assert len(read_predictions(DEPLOYMENT, settings=two_segments, limit=3)) == 3
    assert read_predictions(DEPLOYMENT, settings=two_segments, limit=0).empty


def test_an_unknown_deployment_gives_an_empty_frame_with_the_base_columns(
    local: Settings,
) -> None:
    frame = read_predictions("nobody", settings=local)
    assert frame.empty
    assert list(frame.columns[:3]) == ["request_id", "row", "time_ms"]
    assert frame["time_ms"].dtype == np.int64


def test_a_name_sharing_a_prefix_is_another_deployment(
    local: Settings, open_writers: OpenWriter, predict: MakePrediction
) -> None:
    writer = open_writers(local, deployment="churn-api-2")
    writer.record(predict(1, deployment="churn-api-2"))
    writer.close()
    assert read_predictions(DEPLOYMENT, settings=local).empty
    assert len(read_predictions("churn-api-2", settings=local)) == 2


def test_segments_with_different_columns_are_unioned(
    local: Settings, open_writers: OpenWriter, predict: MakePrediction
) -> None:
    writer = open_writers(local)
    writer.record(predict(1, inputs={"a": [1.0]}, outputs={"p": [1]}))
    assert writer.flush()
    writer.record(predict(2, inputs={"b": ["x"]}, outputs={"p": [0]}))
    writer.close()
    frame = read_predictions(DEPLOYMENT, settings=local)
    assert frame["input.a"].tolist()[0] == 1.0
    assert np.isnan(frame["input.a"].tolist()[1])
    assert frame["input.b"].isna().tolist() == [True, False]
    assert frame["input.b"].tolist()[1] == "x"
    assert frame["output.p"].tolist() == [1, 0]


def test_segments_that_disagree_on_a_type_are_still_read(
    local: Settings, open_writers: OpenWriter, predict: MakePrediction
) -> None:
    writer = open_writers(local)
    writer.record(predict(1, inputs={"x": np.array([1.5, 2.5])}))
    assert writer.flush()
    writer.record(predict(2, inputs={"x": np.ones((2, 3))}))  # a list per row here
    writer.close()
    frame = read_predictions(DEPLOYMENT, settings=local)
    assert ids(frame) == ["r1", "r2"]
    assert frame["input.x"].tolist()[:2] == ["1.5", "2.5"]  # the clash is read as text
    assert len(read_predictions(DEPLOYMENT, settings=local, limit=3)) == 3


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"since": "yesterday"}, "since 'yesterday' is not a time"),
        ({"until": 2**63}, "out of range"),
        ({"since": "2**70"}, "not a time"),
        ({"since": "99999999999999999999"}, "out of range"),
        ({"since": True}, "not a time"),
        ({"since": 1.5}, "not a time"),
        ({"since": 10, "until": 5}, "after until"),
        ({"role": "boss"}, "role"),
        ({"limit": -1}, "limit"),
    ],
)
def test_bad_arguments_are_refused(
    local: Settings, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        read_predictions(DEPLOYMENT, settings=local, **arguments)  # type: ignore[arg-type]


def test_the_sdk_face_reads_the_default_store(
    open_writers: OpenWriter, predict: MakePrediction
) -> None:
    writer = open_writers(None)  # LOOPML_HOME's store
    writer.record(predict(1))
    writer.close()
    frame = loopml.read_predictions(DEPLOYMENT)
    assert frame["request_id"].tolist() == ["r1", "r1"]


def test_the_log_on_each_database(
    settings: Settings, open_writers: OpenWriter, predict: MakePrediction
) -> None:
    writer = open_writers(settings)
    writer.record(predict(1))
    writer.record(predict(1, role="shadow", version=4))
    writer.close()
    (segment,) = list_segments(DEPLOYMENT, settings=settings)
    assert segment.models == (("churn", 3), ("churn", 4))
    frame = read_predictions(DEPLOYMENT, T0, T0 + 2, settings=settings)
    assert frame["role"].tolist() == ["primary", "primary", "shadow", "shadow"]
