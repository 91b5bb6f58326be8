"""Many writers, killed writers, S3: the payload log as replicas of a server write it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from loopml.artifacts import ArtifactStore
from loopml.config import Settings
from loopml.monitoring import PayloadWriter, list_segments, read_predictions

from .conftest import DEPLOYMENT, MakePrediction

if TYPE_CHECKING:
    from conftest import S3Server

# A writer process: WRITER_ID names its requests; COUNT predictions (0: until killed).
WRITER = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from loopml.config import Settings
    from loopml.monitoring import PayloadWriter, Prediction

    name, count = sys.argv[1], int(sys.argv[2])
    writer = PayloadWriter(Settings.load(), "churn-api", flush_seconds=0.02, batch_size=20)
    i = 0
    while count == 0 or i < count:
        writer.record(Prediction(
            request_id=f"{name}-{i}", time_ms=1_767_225_600_000 + i, deployment="churn-api",
            model="churn", version=3, role="primary",
            inputs={"x": np.arange(3, dtype=np.float32) + i}, outputs={"p": np.array([i] * 3)},
            latency_ms=0.1, status=200))
        i += 1
        if count == 0 and i % 20 == 0:
            import time; time.sleep(0.005)
    writer.close(timeout=60)
    print(writer.stats().written, flush=True)
    """
)


def _writer(home: Path, name: str, count: int) -> subprocess.Popen[str]:
    env = {**os.environ, "LOOPML_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, name, str(count)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_write_one_deployment(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = Settings.load(home=home)
    processes = [_writer(home, name, 300) for name in ("a", "b")]
    for process in processes:
        out, err = process.communicate(timeout=240)
        assert process.returncode == 0, err
        assert out.strip() == "300"

    frame = read_predictions(DEPLOYMENT, settings=settings)
    assert len(frame) == 2 * 300 * 3
    expected = {f"{name}-{i}" for name in ("a", "b") for i in range(300)}
    assert set(frame.request_id) == expected
    assert len({s.writer for s in list_segments(DEPLOYMENT, settings=settings)}) == 2
    one = frame[frame.request_id == "b-7"]
    assert one["output.p"].tolist() == [7, 7, 7]
    assert one["input.x"].tolist() == [7.0, 8.0, 9.0]


def test_a_writer_killed_mid_write_leaves_a_readable_log(
    tmp_path: Path, predict: MakePrediction
) -> None:
    home = tmp_path / "home"
    settings = Settings.load(home=home)
    process = _writer(home, "k", 0)
    try:
        deadline = time.monotonic() + 120
        while len(list_segments(DEPLOYMENT, settings=settings)) < 5:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the writer wrote no segments"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)  # in the middle of writing, most likely
    finally:
        process.kill()
        process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL

    segments = list_segments(DEPLOYMENT, settings=settings)
    frame = read_predictions(DEPLOYMENT, settings=settings)
    assert len(frame) == sum(s.row_count for s in segments)
    # What was written is whole and in order: request k-0 … k-(n-1), three rows each.
    count = len(frame) // 3
    assert list(dict.fromkeys(frame.request_id)) == [f"k-{i}" for i in range(count)]

    # The log takes new segments after the crash.
    writer = PayloadWriter(settings, DEPLOYMENT)
    writer.record(predict(10**6))
    writer.close()
    assert len(read_predictions(DEPLOYMENT, settings=settings)) == len(frame) + 2


def test_the_log_on_s3(
    s3_server: S3Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    predict: MakePrediction,
) -> None:
    monkeypatch.setenv("LOOPML_S3_ENDPOINT_URL", s3_server.endpoint_url)
    prefix = f"payload-{tmp_path.name}"
    settings = Settings.load(
        home=tmp_path / "home", artifacts_url=f"s3://{s3_server.bucket}/{prefix}"
    )
    writer = PayloadWriter(settings, DEPLOYMENT, flush_seconds=0.05, batch_size=4)
    for i in range(10):
        writer.record(predict(i))
    writer.close(timeout=60)
    assert writer.stats().written == 10

    segments = list_segments(DEPLOYMENT, settings=settings)
    assert len(segments) >= 3
    blobs = ArtifactStore(s3_server.store(prefix))
    assert all(blobs.exists(segment.digest) for segment in segments)
    frame = read_predictions(DEPLOYMENT, settings=settings)
    assert list(dict.fromkeys(frame.request_id)) == [f"r{i}" for i in range(10)]


FORKING = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from loopml.config import Settings
    from loopml.monitoring import PayloadWriter, Prediction

    def record(writer, name):
        for i in range(50):
            writer.record(Prediction(
                request_id=f"{name}-{i}", time_ms=1_767_225_600_000 + i,
                deployment="churn-api", model="churn", version=3, role="primary",
                inputs={"x": np.array([i])}, outputs={"p": np.array([i])},
                latency_ms=0.1, status=200))

    writer = PayloadWriter(Settings.load(), "churn-api", flush_seconds=0.02)
    record(writer, "before")
    assert writer.flush(30)
    pid = os.fork()  # a pre-fork server: the writer was made before its workers
    if pid == 0:
        record(writer, "child")
        writer.close(timeout=60)
        os._exit(0 if writer.stats().written == 50 else 3)
    record(writer, "parent")
    writer.close(timeout=60)
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status))
    """
)


def test_a_forked_worker_writes_with_its_own_thread(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = subprocess.run(
        [sys.executable, "-c", FORKING],
        env={**os.environ, "LOOPML_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    settings = Settings.load(home=home)
    frame = read_predictions(DEPLOYMENT, settings=settings)
    names = {request_id.split("-")[0] for request_id in frame.request_id}
    assert names == {"before", "child", "parent"}
    assert len(frame) == 150
    assert len({s.writer for s in list_segments(DEPLOYMENT, settings=settings)}) == 2
