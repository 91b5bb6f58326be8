"""The payload writer: what it keeps, what it drops and counts, and that it never raises."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from loopml.artifacts import ArtifactStore
from loopml.artifacts.memory import MemoryBlobStore
from loopml.config import Settings
from loopml.errors import InvalidInputError
from loopml.monitoring import (
    PayloadWriter,
    PredictionSink,
    is_sampled,
    list_segments,
    read_predictions,
)
from loopml.monitoring.payload import ColumnBlock
from loopml.store import open_store
from loopml.store.schema import artifact_files
from loopml.tracking.run_artifacts import collect_garbage

from .conftest import DEPLOYMENT, T0, MakePrediction

OpenWriter = Callable[..., PayloadWriter]


class StalledBlobStore(MemoryBlobStore):
    """A memory store whose writes wait until the test lets them through."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.writing = threading.Event()

    def put_bytes(self, digest: str, data: bytes) -> None:
        self.writing.set()
        self.release.wait(timeout=60)
        super().put_bytes(digest, data)


def test_a_writer_is_a_prediction_sink(local: Settings, open_writers: OpenWriter) -> None:
    assert isinstance(open_writers(local), PredictionSink)


def test_read_back_equals_what_was_sent(
    local: Settings, open_writers: OpenWriter, predict: MakePrediction
) -> None:
    images = np.arange(12, dtype=np.float32).reshape(3, 2, 2)
    inputs = {
        "age": np.array([31, 45, 52], dtype=np.int64),
        "income": np.array([1.5, 2.5, 3.5], dtype=np.float32),
        "active": np.array([True, False, True]),
        "city": ["Oslo", "Lyon", "Łódź"],
        "blob": [b"\x00a", b"", b"\xff\x00"],
        "image": images,
        "channel": "web",  # a scalar: repeated on every row
    }
    sent = [
        predict(1, inputs=inputs, outputs={"predict": np.array([1, 0, 1])},
                features={"trips": np.array([7, 8, 9], dtype=np.int32)}),
        predict(1, role="shadow", version=4, inputs=inputs,
                outputs={"predict": np.array([0, 0, 1])}, latency_ms=1.25),
        predict(2, inputs={"age": [60]}, outputs=None, status=500, error="model crashed"),
    ]  # fmt: skip
    writer = open_writers(local)
    for prediction in sent:
        writer.record(prediction)
    writer.close()

    assert writer.stats().written == 3
    assert writer.stats().lost == 0
    frame = read_predictions(DEPLOYMENT, settings=local)
    assert len(frame) == 3 + 3 + 1
    assert list(frame.columns[:10]) == [
        "request_id", "row", "time_ms", "deployment", "model",
        "version", "role", "status", "latency_ms", "error",
    ]  # fmt: skip
    primary = frame[(frame.request_id == "r1") & (frame.role == "primary")]
    shadow = frame[(frame.request_id == "r1") & (frame.role == "shadow")]
    assert primary["row"].tolist() == [0, 1, 2] == shadow["row"].tolist()
    assert primary["version"].tolist() == [3, 3, 3]
    assert shadow["version"].tolist() == [4, 4, 4]
    assert primary["output.predict"].tolist() == [1, 0, 1]
    assert shadow["output.predict"].tolist() == [0, 0, 1]
    assert shadow["latency_ms"].tolist() == [1.25] * 3
    assert primary["time_ms"].tolist() == [T0 + 1] * 3
    assert primary["input.age"].tolist() == [31, 45, 52]
    assert primary["input.income"].dtype == np.float32
    assert primary["input.income"].tolist() == [1.5, 2.5, 3.5]
    assert primary["input.active"].tolist() == [True, False, True]
    assert primary["input.city"].tolist() == ["Oslo", "Lyon", "Łódź"]
    assert primary["input.blob"].tolist() == [b"\x00a", b"", b"\xff\x00"]
    assert primary["input.channel"].tolist() == ["web"] * 3
    for cell, image in zip(primary["input.image"], images, strict=True):
        assert np.stack(list(cell)).tolist() == image.tolist()
    assert primary["feature.trips"].tolist() == [7, 8, 9]
    assert shadow["feature.trips"].isna().all()  # the shadow looked nothing up
    failed = frame[frame.request_id == "r2"].iloc[0]
    assert (failed["status"], failed["error"], failed["input.age"]) == (500, "model crashed", 60)
    assert pd.isna(failed["output.predict"])
    assert frame["deployment"].unique().tolist() == [DEPLOYMENT]


def test_a_full_queue_drops_and_counts_without_blocking(
    local: Settings, open_writers: OpenWriter, predict: MakePrediction
) -> None:
    blobs = StalledBlobStore()
    writer = open_writers(local, queue_size=5, batch_size=1, artifact_store=ArtifactStore(blobs))
    writer.record(predict(0))
    assert blobs.writing.wait(timeout=30)  # the writer holds prediction 0, stalled

    for i in range(1, 50):
        writer.record(predict(i))  # returns although nothing can be written

    assert writer.queue_depth == 6  # five queued, one in flight
    assert writer.dropped == 44
    blobs.release.set()
    writer.close()
    stats = writer.stats()
    assert (stats.written, stats.dropped, stats.queued, stats.segments) == (6, 44, 0, 6)
    frame = read_predictions(DEPLOYMENT, settings=local, artifact_store=ArtifactStore(blobs))
    assert sorted(set(frame.request_id)) == [f"r{i}" for i in range(6)]


def test_sampling_keeps_or_drops_a_request_with_its_shadow(
    local: Settings, open_writers: OpenWriter, predict: MakePrediction
) -> None:
    writer = open_writers(local, sample_rate=0.5)
    for i in range(400):
        writer.record(predict(i))
        writer.record(predict(i, role="shadow", version=4))
    writer.close()

    frame = read_predictions(DEPLOYMENT, settings=local)
    kept = set(frame.request_id)
    roles = frame.groupby("request_id")["role"].agg(lambda r: tuple(sorted(set(r))))
    assert set(roles) == {("primary", "shadow")}  # never one without the other
    assert 140 <= len(kept) <= 260  # 400 draws at p=0.5: 200 +- 6 sigma
    assert kept == {f"r{i}" for i in range(400) if is_sampled(f"r{i}", 0.5)}
    assert writer.stats().sampled_out == 2 * (400 - len(kept))
    assert writer.dropped == 0


def test_sample_rate_zero_keeps_nothing(
    local: Settings, open_writers: OpenWriter, predict: MakePrediction
) -> None:
    writer = open_writers(local, sample_rate=0.0)
    for i in range(10):
        writer.record(predict(i))
    writer.close()
    assert writer.stats().sampled_out == 10
    assert list_segments(DEPLOYMENT, settings=local) == []


def test_log_inputs_false_keeps_outputs_only(
    local: Settings, open_writers: OpenWriter, predict: MakePrediction
) -> None:
    writer = open_writers(local, log_inputs=False)
    writer.record(predict(1, features={"trips": [4, 5]}))
    writer.close()

    frame = read_predictions(DEPLOYMENT, settings=local)
    assert not [c for c in frame.columns if c.startswith(("input.", "feature."))]
    assert frame["output.predict"].tolist() == [0.25, 0.75]
    assert frame["row"].tolist() == [0, 1]  # still one row per predicted row
    assert "input.tenure" not in list_segments(DEPLOYMENT, settings=local)[0].columns


def test_features_can_be_kept_without_inputs(
    local: Settings, open_writers: OpenWriter, predict: MakePrediction
) -> None:
    writer = open_writers(local, log_inputs=False, log_features=True)
    writer.record(predict(1, features={"trips": [4, 5]}))
    writer.close()
    frame = read_predictions(DEPLOYMENT, settings=local)
    assert frame["feature.trips"].tolist() == [4, 5]
    assert "input.tenure" not in frame.columns


def test_a_quiet_deployment_is_flushed_by_time(
    local: Settings, open_writers: OpenWriter, predict: MakePrediction
) -> None:
    writer = open_writers(local, flush_seconds=0.05, batch_size=1000)
    writer.record(predict(1))
    deadline = time.monotonic() + 30
    while not list_segments(DEPLOYMENT, settings=local) and time.monotonic() < deadline:
        time.sleep(0.01)  # no flush, no close: the interval alone must write it
    assert [s.row_count for s in list_segments(DEPLOYMENT, settings=local)] == [2]


def test_batches_are_cut_by_size(
    local: Settings, open_writers: OpenWriter, predict: MakePrediction
) -> None:
    writer = open_writers(local, batch_size=10, flush_seconds=60)
    for i in range(25):
        writer.record(predict(i))
    writer.close()
    segments = list_segments(DEPLOYMENT, settings=local)
    assert sum(s.prediction_count for s in segments) == 25
    assert max(s.prediction_count for s in segments) <= 10
    assert sum(s.row_count for s in segments) == 50


def test_segment_index_describes_the_segment(
    local: Settings, open_writers: OpenWriter, predict: MakePrediction
) -> None:
    writer = open_writers(local)
    writer.record(predict(5))
    writer.record(predict(9, role="shadow", version=4))
    writer.close()
    (segment,) = list_segments(DEPLOYMENT, settings=local)
    assert (segment.start_ms, segment.end_ms) == (T0 + 5, T0 + 9)
    assert (segment.row_count, segment.prediction_count) == (4, 2)
    assert segment.models == (("churn", 3), ("churn", 4))
    assert segment.writer == writer.writer_id
    assert ArtifactStore.from_url(local.artifacts_url).exists(segment.digest)


def test_gc_keeps_the_segments(
    local: Settings, open_writers: OpenWriter, predict: MakePrediction
) -> None:
    writer = open_writers(local)
    writer.record(predict(1))
    writer.close()
    blobs = ArtifactStore.from_url(local.artifacts_url)
    report = collect_garbage(open_store(local.db_url), blobs, grace_seconds=0)
    assert report.deleted == 0
    assert len(read_predictions(DEPLOYMENT, settings=local)) == 2


def test_an_unwritable_artifact_store_is_counted_never_raised(
    tmp_path: Path, open_writers: OpenWriter, predict: MakePrediction
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the artifact store's folder should be")
    settings = Settings.load(home=tmp_path / "home", artifacts_url=str(blocker))
    writer = open_writers(settings, batch_size=5)
    for i in range(12):
        writer.record(predict(i))  # must not raise
    writer.close()

    stats = writer.stats()
    assert (stats.written, stats.failed, stats.segments) == (0, 12, 0)
    assert stats.errors >= 3  # one per batch, of at most five predictions each
    assert list_segments(DEPLOYMENT, settings=settings) == []
    with open_store(settings.db_url).read() as conn:
        assert conn.execute(artifact_files.select()).all() == []


@pytest.mark.parametrize(
    "bad",
    [
        "not a prediction",
        None,
        {"request_id": "r1"},
    ],
)
def test_what_is_not_a_prediction_is_refused_and_counted(
    local: Settings, open_writers: OpenWriter, predict: MakePrediction, bad: Any
) -> None:
    writer = open_writers(local)
    writer.record(bad)
    writer.record(predict(1))
    writer.close()
    assert writer.stats().rejected == 1
    assert read_predictions(DEPLOYMENT, settings=local)["request_id"].unique().tolist() == ["r1"]


def test_hostile_predictions_are_refused_and_odd_values_kept_as_text(
    local: Settings, open_writers: OpenWriter, predict: MakePrediction
) -> None:
    writer = open_writers(local)
    writer.record(predict(1, time_ms=2**70))  # beyond int64
    writer.record(predict(2, deployment="someone-else"))  # another deployment's
    writer.record(predict(3, role="boss"))
    writer.record(predict(4, inputs="not a mapping"))
    writer.record(predict(5, outputs={"predict": [2**70, 1]}))  # beyond int64: kept as text
    writer.record(predict(6, inputs={"mixed": [1, "a"]}))  # mixed kinds: kept as text
    writer.record(predict(7, inputs={"a": [1, 2, 3]}, outputs={"p": [1]}))  # rows disagree
    writer.record(predict(8, inputs={"z": np.array([1 + 2j, 3j])}))  # no Arrow type: as text
    writer.record(predict(9, inputs={"h": np.array([0.5, 1.5], dtype=np.float16)}))
    writer.close()

    stats = writer.stats()
    assert (stats.rejected, stats.written, stats.errors) == (4, 5, 0)
    frame = read_predictions(DEPLOYMENT, settings=local)
    by_id = dict(list(frame.groupby("request_id")))
    assert by_id["r5"]["output.predict"].tolist() == [str(2**70), "1"]
    assert by_id["r6"]["input.mixed"].tolist() == ["1", "a"]
    assert len(by_id["r7"]) == 1  # one row holding each value whole
    assert list(by_id["r7"]["input.a"].iloc[0]) == [1, 2, 3]
    assert by_id["r8"]["input.z"].tolist() == ["(1+2j)", "3j"]
    assert by_id["r9"]["input.h"].tolist() == [0.5, 1.5]
    assert by_id["r9"]["input.h"].dtype == np.float32


def test_record_after_close_is_dropped(
    local: Settings, open_writers: OpenWriter, predict: MakePrediction
) -> None:
    writer = open_writers(local)
    writer.close()
    writer.record(predict(1))
    assert writer.dropped == 1
    assert writer.queue_depth == 0


def test_flush_writes_now(
    local: Settings, open_writers: OpenWriter, predict: MakePrediction
) -> None:
    writer = open_writers(local, flush_seconds=3600)
    writer.record(predict(1))
    assert writer.flush(timeout=30)
    assert len(list_segments(DEPLOYMENT, settings=local)) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"deployment": ""}, "deployment"),
        ({"deployment": "x" * 251}, "deployment"),
        ({"sample_rate": 1.5}, "sample_rate"),
        ({"sample_rate": True}, "sample_rate"),
        ({"queue_size": 0}, "queue_size"),
        ({"batch_size": 10**9}, "batch_size"),
        ({"flush_seconds": 0}, "flush_seconds"),
    ],
)
def test_bad_settings_are_refused(local: Settings, options: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"deployment": DEPLOYMENT, **options}
    with pytest.raises(InvalidInputError, match=message):
        PayloadWriter(local, arguments.pop("deployment"), **arguments)


def test_numpy_and_plain_values_share_one_segment(
    local: Settings, open_writers: OpenWriter, predict: MakePrediction
) -> None:
    writer = open_writers(local, flush_seconds=3600)
    one = {"outputs": {"p": np.array([0.5])}}
    writer.record(predict(1, inputs={"city": np.array(["Oslo"]), "n": np.array([1])}, **one))
    writer.record(predict(2, inputs={"city": np.array(["Reykjavik"]), "n": np.array([2])}, **one))
    writer.record(predict(3, inputs={"city": ["Lyon"], "n": [3]}, outputs={"p": [0.5]}))
    writer.record(predict(4, inputs={"city": np.array(["Rome", "Nice"]), "n": np.array([4, 5])}))
    writer.close()
    (segment,) = list_segments(DEPLOYMENT, settings=local)
    assert segment.prediction_count == 4
    frame = read_predictions(DEPLOYMENT, settings=local)
    assert frame["input.city"].tolist() == ["Oslo", "Reykjavik", "Lyon", "Rome", "Nice"]
    assert frame["input.n"].tolist() == [1, 2, 3, 4, 5]


def test_a_refusal_on_the_request_path_is_logged_not_raised(
    local: Settings, open_writers: OpenWriter, caplog: pytest.LogCaptureFixture
) -> None:
    writer = open_writers(local, sample_rate=0.5)  # sampling reads the request id at once
    with caplog.at_level("WARNING", logger="loopml.monitoring.writer"):
        for _ in range(20):
            writer.record(None)  # type: ignore[arg-type]
    assert writer.stats().rejected == 20
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 10  # the first ten, then one in a thousand
    assert "AttributeError" in refusals[0].getMessage()


def test_a_frames_columns_as_one_block_read_back_as_sent(
    local: Settings, open_writers: OpenWriter, predict: MakePrediction
) -> None:
    writer = open_writers(local, flush_seconds=3600)
    for i in range(1, 4):
        block = np.arange(6, dtype=np.float64).reshape(2, 3) * i
        writer.record(predict(i, inputs=ColumnBlock(["x", "y", "z"], block)))
    columns = {"x": np.array([1.0]), "y": np.array([2.0]), "z": np.array([3.0])}
    writer.record(predict(4, inputs=columns, outputs={"predict": np.array([0.5])}))
    writer.close()
    assert writer.stats().written == 4
    (segment,) = list_segments(DEPLOYMENT, settings=local)
    frame = read_predictions(DEPLOYMENT, settings=local).sort_values(["request_id", "row"])
    assert frame["input.y"].tolist() == [1.0, 4.0, 2.0, 8.0, 3.0, 12.0, 2.0]
    assert frame["output.predict"].tolist() == [0.25, 0.75] * 3 + [0.5]
    assert {"input.x", "input.y", "input.z"} <= set(segment.columns)
