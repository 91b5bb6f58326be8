"""Delayed labels: stored once per request id (last write wins), joined to the payload log."""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

import loopml
from loopml.clock import use_clock
from loopml.config import Settings
from loopml.errors import InvalidInputError
from loopml.monitoring import (
    FeedbackResult,
    PayloadWriter,
    join_labels,
    label_coverage,
    log_feedback,
    read_feedback,
    read_predictions,
)
from loopml.monitoring.feedback import parse_items
from loopml.testing import FakeClock

from .conftest import DEPLOYMENT, T0, MakePrediction

OpenWriter = Callable[..., PayloadWriter]


def test_one_and_many_labels_are_stored_and_read_back(settings: Settings) -> None:
    with use_clock(FakeClock(T0 / 1000)):
        assert log_feedback(DEPLOYMENT, "r1", 1, settings=settings) == FeedbackResult(1, 0, 0)
    with use_clock(FakeClock((T0 + 1_000) / 1000)):
        result = log_feedback(
            DEPLOYMENT,
            ["r2", "r3", "r4"],
            ["yes", [0.5, 1.5], {"churn": True, "value": 12}],
            settings=settings,
        )
    assert result.to_dict() == {"stored": 3, "replaced": 0, "duplicates": 0}
    frame = read_feedback(DEPLOYMENT, settings=settings)
    assert list(frame.columns) == ["request_id", "label", "time_ms"]
    assert list(frame.request_id) == ["r1", "r2", "r3", "r4"]
    assert list(frame.label) == [1, "yes", [0.5, 1.5], {"churn": True, "value": 12}]
    assert list(frame.time_ms) == [T0, T0 + 1_000, T0 + 1_000, T0 + 1_000]
    assert list(read_feedback(DEPLOYMENT, since=T0 + 1, settings=settings).request_id) == [
        "r2",
        "r3",
        "r4",
    ]
    assert list(read_feedback(DEPLOYMENT, until=T0 + 1, settings=settings).request_id) == ["r1"]
    assert read_feedback("other", settings=settings).empty


def test_a_label_sent_twice_is_stored_once_and_the_last_wins(settings: Settings) -> None:
    with use_clock(FakeClock(T0 / 1000)):
        log_feedback(DEPLOYMENT, ["r1", "r2"], [0, 0], settings=settings)
    with use_clock(FakeClock((T0 + 5) / 1000)):
        again = log_feedback(DEPLOYMENT, ["r1", "r3", "r3"], [1, 0, 1], settings=settings)
    assert again == FeedbackResult(stored=2, replaced=1, duplicates=1)
    frame = read_feedback(DEPLOYMENT, settings=settings)
    assert sorted(frame.request_id) == ["r1", "r2", "r3"]
    labels = dict(zip(frame.request_id, frame.label, strict=True))
    assert labels == {"r1": 1, "r2": 0, "r3": 1}
    assert dict(zip(frame.request_id, frame.time_ms, strict=True))["r1"] == T0 + 5


def test_concurrent_senders_of_the_same_ids_leave_one_label_each(settings: Settings) -> None:
    ids = [f"r{i}" for i in range(400)]
    errors: list[BaseException] = []

    def send(seed: int) -> None:
        order = random.Random(seed).sample(ids, len(ids))
        try:
            log_feedback(DEPLOYMENT, order, [seed] * len(order), settings=settings)
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=send, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    frame = read_feedback(DEPLOYMENT, settings=settings)
    assert sorted(frame.request_id) == sorted(ids)
    assert set(frame.label) <= {0, 1, 2, 3}


def test_deployments_keep_their_own_labels(settings: Settings) -> None:
    log_feedback("a", "r1", 1, settings=settings)
    log_feedback("b", "r1", 2, settings=settings)
    assert list(read_feedback("a", settings=settings).label) == [1]
    assert list(read_feedback("b", settings=settings).label) == [2]


def test_many_labels_are_written_in_chunks_in_one_call(settings: Settings) -> None:
    ids = [f"r{i}" for i in range(2_345)]
    assert log_feedback(DEPLOYMENT, ids, np.arange(2_345) % 2, settings=settings).stored == 2_345
    again = log_feedback(DEPLOYMENT, pd.Series(ids), pd.Series([1] * 2_345), settings=settings)
    assert again.replaced == 2_345
    frame = read_feedback(DEPLOYMENT, settings=settings)
    assert len(frame) == 2_345
    assert set(frame.label) == {1}


def test_numpy_labels_become_plain_json(local: Settings) -> None:
    log_feedback(
        DEPLOYMENT,
        ["a", "b", "c"],
        [np.int64(3), np.float32(0.5), np.array([1, 2])],
        settings=local,
    )
    assert list(read_feedback(DEPLOYMENT, settings=local).label) == [3, 0.5, [1, 2]]


@pytest.mark.parametrize(
    ("ids", "labels", "says"),
    [
        ("", 1, "request id is empty"),
        ("   ", 1, "request id is empty"),
        ("x" * 201, 1, "over 200"),
        (7, 1, "must be a string"),
        ("r1", math.nan, "is nan"),
        ("r1", math.inf, "is inf"),
        ("r1", None, "missing (null)"),
        ("r1", object(), "not a JSON value"),
        ("r1", {1: "a"}, "keys must be strings"),
        ("r1", [1, [2, math.nan]], "label[1][1] is nan"),
        ("r1", "x" * 70_000, "over 65536"),
        (["r1", "r2"], [1], "2 request ids but 1 labels"),
        (["r1", "r2"], 1, "need a sequence of 2 labels"),
        ([], [], "no request ids"),
        (["r1", "", "r3"], [1, 2, math.nan], "item 1: request id is empty"),
    ],
)
def test_bad_input_is_refused_and_nothing_of_the_call_is_stored(
    local: Settings, ids: Any, labels: Any, says: str
) -> None:
    log_feedback(DEPLOYMENT, "kept", 1, settings=local)
    with pytest.raises(InvalidInputError) as caught:
        log_feedback(DEPLOYMENT, ids, labels, settings=local)
    assert says in str(caught.value)
    assert list(read_feedback(DEPLOYMENT, settings=local).request_id) == ["kept"]


@pytest.mark.parametrize(
    ("ids", "labels", "says"),
    [
        ("a\x00b", 1, "holds a NUL"),
        ("a\ud800", 1, "holds a NUL or an unpaired surrogate"),
        ("r1", "a\x00b", "label holds a NUL"),
        ("r1", ["ok", "\udfff"], "label[1] holds a NUL"),
        ("r1", {"k\x00": 1}, "keys must be strings"),
        ("r1", pd.NA, "missing (null)"),
    ],
)
def test_text_no_database_takes_is_refused_on_both_backends(
    settings: Settings, ids: Any, labels: Any, says: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        log_feedback(DEPLOYMENT, ids, labels, settings=settings)
    assert says in str(caught.value)
    log_feedback(DEPLOYMENT, "r\u00e9-\u2603", {"text": "caf\u00e9 \U0001f600"}, settings=settings)
    frame = read_feedback(DEPLOYMENT, settings=settings)
    assert frame.to_dict("records")[0]["label"] == {"text": "caf\u00e9 \U0001f600"}
    assert list(frame.request_id) == ["r\u00e9-\u2603"]


def test_every_bad_item_is_named_and_the_list_is_capped(local: Settings) -> None:
    ids = ["ok", "", "r2", *[""] * 50]
    labels = [1, 1, math.inf, *[1] * 50]
    with pytest.raises(InvalidInputError) as caught:
        log_feedback(DEPLOYMENT, ids, labels, settings=local)
    message = str(caught.value)
    assert "item 1: request id is empty" in message
    assert "item 2: label is inf" in message
    assert "and more" in message
    assert message.count("item ") <= 11
    assert read_feedback(DEPLOYMENT, settings=local).empty


def test_a_hostile_nesting_is_refused_not_a_recursion_error(local: Settings) -> None:
    label: Any = 1
    for _ in range(5_000):
        label = [label]
    with pytest.raises(InvalidInputError, match="nested deeper than 32"):
        log_feedback(DEPLOYMENT, "r1", label, settings=local)


def test_a_bad_deployment_name_is_refused(local: Settings) -> None:
    for name in ("", "x" * 251, 3):
        with pytest.raises(InvalidInputError, match="deployment"):
            log_feedback(name, "r1", 1, settings=local)  # type: ignore[arg-type]


def test_parse_items_takes_one_object_or_a_list_and_id_as_an_alias() -> None:
    assert parse_items({"request_id": "r1", "label": 1}) == [("r1", 1)]
    assert parse_items([{"id": "r1", "label": [1, 2]}, {"request_id": "r2", "label": "x"}]) == [
        ("r1", [1, 2]),
        ("r2", "x"),
    ]
    for body, says in [
        ([], "non-empty list"),
        ("r1", "non-empty list"),
        ([3], "item 0: expected an object"),
        ([{"request_id": "r1"}], "item 0: no label"),
        ([{"request_id": "r1", "label": 1, "extra": 2}], "unknown field(s) ['extra']"),
        ([{"request_id": "r1", "id": "r2", "label": 1}], "request_id and id differ"),
    ]:
        with pytest.raises(InvalidInputError) as caught:
            parse_items(body)
        assert says in str(caught.value), (body, str(caught.value))


def test_labels_join_the_logged_predictions_exactly_once_per_request(
    settings: Settings, open_writers: OpenWriter, predict: MakePrediction
) -> None:
    writer = open_writers(settings)
    for i in range(6):
        writer.record(predict(i))
    writer.record(predict(2, role="shadow", version=4))
    writer.record(predict(5, status=500, outputs=None, error="boom"))
    writer.close()
    log_feedback(DEPLOYMENT, ["r0", "r2", "nobody"], [1, 0, 1], settings=settings)
    log_feedback(DEPLOYMENT, ["r2", "r2"], [1, 1], settings=settings)  # sent twice, again

    frame = read_predictions(DEPLOYMENT, settings=settings, with_labels=True)
    assert len(frame) == len(read_predictions(DEPLOYMENT, settings=settings))  # no row added
    by_request = frame.groupby("request_id")["label"].agg(lambda s: list(s))
    assert by_request["r0"] == [1, 1]
    assert by_request["r2"] == [1, 1, 1, 1]  # two rows each of primary and shadow, one label
    assert by_request["r1"] == [None, None]
    assert "nobody" not in by_request.index

    joined = join_labels(
        read_predictions(DEPLOYMENT, settings=settings),
        read_feedback(DEPLOYMENT, settings=settings),
    )
    assert list(joined["label"]) == list(frame["label"])

    coverage = label_coverage(DEPLOYMENT, settings=settings)
    assert (coverage.requests, coverage.labelled) == (6, 2)  # r5's 500 is not counted once more
    assert coverage.share == pytest.approx(2 / 6)
    assert label_coverage(DEPLOYMENT, since=T0 + 100, settings=settings).share is None


def test_an_empty_window_with_labels_has_the_label_column(local: Settings) -> None:
    frame = read_predictions(DEPLOYMENT, settings=local, with_labels=True)
    assert frame.empty
    assert "label" in frame.columns


def test_join_labels_refuses_a_frame_without_the_columns() -> None:
    with pytest.raises(InvalidInputError, match="request_id and label"):
        join_labels(pd.DataFrame({"request_id": ["r1"]}), pd.DataFrame({"id": ["r1"]}))


def test_log_feedback_is_public_at_the_top(local: Settings) -> None:
    loopml.log_feedback(DEPLOYMENT, "r1", 1, settings=local)
    assert list(read_feedback(DEPLOYMENT, settings=local).label) == [1]
