"""SIGKILL in the middle of a pipeline run: the run ends ``killed``, resume finishes it.

A child process runs a pipeline from ``_killable_pipeline`` against a store under
``tmp_path``; the test kills it (the whole process group, so pool workers die too)
once the first steps have finished, then checks from this process what is stored and
resumes the run. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import _killable_pipeline as killable
import numpy as np
import pytest
from sqlalchemy import select

from loopml.artifacts._atomic import TEMP_PREFIX
from loopml.artifacts._hashing import hash_stream
from loopml.config import Settings
from loopml.pipelines import PipelineRunInfo, StepStatus, records, resume
from loopml.store.schema import step_runs
from loopml.tracking import RunStatus, TrackingClient

pytestmark = pytest.mark.timeout(180)

HERE = Path(__file__).parent
WAIT_S = 60.0


def _start(how: str, args: list[str], settings: Settings, cwd: Path) -> subprocess.Popen[bytes]:
    """Run ``_killable_pipeline`` as a module or as a script, in its own process group."""
    if how == "script":
        argv = [sys.executable, str(HERE / "_killable_pipeline.py"), *args]
    else:
        argv = [sys.executable, "-c", "import _killable_pipeline as k; k.main()", *args]
    env = {
        **os.environ,
        "LOOPML_HOME": str(settings.home),
        "LOOPML_DB_URL": settings.db_url,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _wait_until(
    proc: subprocess.Popen[bytes], ready: Callable[[], bool], poll_s: float = 0.01
) -> None:
    deadline = time.monotonic() + WAIT_S
    while not ready():
        if proc.poll() is not None:
            stderr = proc.stderr.read().decode() if proc.stderr else ""
            pytest.fail(f"the pipeline process exited with {proc.returncode}:\n{stderr}")
        if time.monotonic() > deadline:
            _kill(proc)
            pytest.fail(f"the pipeline did not get there within {WAIT_S:g}s")
        time.sleep(poll_s)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """kill -9 the process and everything it started (pool workers)."""
    with contextlib.suppress(ProcessLookupError):  # it may have exited already
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)


def _only_run(client: TrackingClient, pipeline: str) -> PipelineRunInfo:
    # The client marked the dead run killed; its unfinished step rows are marked by
    # records.reconcile, which every reader of steps runs first (the CLI, resume).
    client.store.transact(records.reconcile)
    with client.store.read() as conn:
        runs = records.list_pipeline_runs(conn, pipeline)
    assert len(runs) == 1, runs
    with client.store.read() as conn:
        return records.get_pipeline_run(conn, runs[0].id)


@pytest.mark.parametrize(
    ("how", "executor"),
    [
        ("module", "local"),
        ("module", "process://2"),
        # A script runs as __main__ and resume imports it under another module name:
        # cache keys name it by its file, so its finished steps are still reused.
        ("script", "local"),
    ],
)
def test_a_killed_run_is_marked_killed_and_resumes_without_redoing_finished_steps(
    how: str, executor: str, tmp_path: Path, settings: Settings
) -> None:
    marks, gate = tmp_path / "marks", tmp_path / "gate"
    proc = _start(how, ["gated", executor, str(marks), str(gate)], settings, tmp_path)
    _wait_until(proc, lambda: killable.executions(marks, "gate") == 1)
    _kill(proc)

    client = TrackingClient(settings)  # a new process's client notices the dead run
    try:
        killed = _only_run(client, "gated")
        assert killed.status == RunStatus.KILLED.value
        assert killed.ended_at is not None
        steps = killed.steps
        assert steps["load"].status is StepStatus.COMPLETED
        assert steps["enrich"].status is StepStatus.COMPLETED
        for node in ("wait_for_gate", "report"):
            assert steps[node].status is StepStatus.KILLED, (node, steps[node])
        assert client.get_run(steps["wait_for_gate"].run_id or "").status is RunStatus.KILLED
    finally:
        client.close()

    gate.touch()
    resumed = resume(killed.id, settings=settings)
    assert resumed.status == "finished"
    assert resumed.info.resumed_from == killed.id
    for node in ("load", "enrich"):
        info = resumed.steps[node]
        assert info.status is StepStatus.CACHED, node
        assert info.reason is not None
        assert "resume" in info.reason
        assert info.cached_from == steps[node].run_id
    assert resumed.steps["wait_for_gate"].status is StepStatus.COMPLETED
    assert resumed.load("report") == "total=150"
    counts = {n: killable.executions(marks, n) for n in ("load", "enrich", "gate", "report")}
    assert counts == {"load": 1, "enrich": 1, "gate": 2, "report": 1}


def _temp_blobs(home: Path) -> list[Path]:
    """Blob files being written now (or left half-written by a kill)."""
    return list((home / "artifacts" / "blobs").glob(f"*/{TEMP_PREFIX}*"))


@pytest.mark.parametrize("moment", ["materializing", "storing"])
def test_a_half_written_output_is_never_used(
    moment: str, tmp_path: Path, settings: Settings
) -> None:
    marks = tmp_path / "marks"
    proc = _start("module", ["big", "local", str(marks)], settings, tmp_path)
    if moment == "materializing":  # the step returned; its output is being saved
        _wait_until(proc, lambda: killable.executions(marks, "big") == 1, poll_s=0.001)
    else:  # the output's bytes are being copied into the artifact store
        _wait_until(proc, lambda: bool(_temp_blobs(settings.home)), poll_s=0.001)
    _kill(proc)
    if moment == "storing":
        assert _temp_blobs(settings.home), "the kill should leave the half-written blob"

    client = TrackingClient(settings)
    try:
        killed = _only_run(client, "big")
        assert killed.status == RunStatus.KILLED.value
        assert killed.steps["big_array"].status is StepStatus.KILLED
        assert killed.steps["big_array"].outputs == {}
        store = client.run_artifacts.artifact_store
        # Every blob under a digest name holds exactly those bytes (writes are atomic)…
        for blob in store.blob_store.iter_blobs():
            with store.blob_store.open(blob.digest) as stream:
                assert hash_stream(stream)[0] == blob.digest
        # …and every output a step row names is stored.
        with client.store.read() as conn:
            rows = conn.execute(select(step_runs.c.node, step_runs.c.outputs)).all()
        for node, outputs in rows:
            for ref in (outputs or {}).values():
                assert "inline" in ref or store.exists(ref["digest"]), (node, ref)
    finally:
        client.close()

    resumed = resume(killed.id, settings=settings)
    assert resumed.status == "finished"
    assert resumed.steps["load"].status is StepStatus.CACHED
    assert resumed.steps["big_array"].status is StepStatus.COMPLETED
    assert resumed.load("checksum") == killable.expected_checksum(3)
    np.testing.assert_array_equal(
        resumed.load("big_array"), np.arange(killable.BIG_ITEMS, dtype=np.float64) * 3
    )
    counts = {n: killable.executions(marks, n) for n in ("load", "big", "checksum")}
    assert counts == {"load": 1, "big": 2, "checksum": 1}


def test_killing_only_the_parent_of_a_process_pool_takes_its_workers_down(
    tmp_path: Path, settings: Settings
) -> None:
    """kill -9 of the orchestrator alone (not its process group): the forked workers
    notice and die, so they stop holding the run's journal lock and it shows killed."""
    psutil = pytest.importorskip("psutil")
    marks, gate = tmp_path / "marks", tmp_path / "gate"
    proc = _start("module", ["gated", "process://2", str(marks), str(gate)], settings, tmp_path)
    _wait_until(proc, lambda: killable.executions(marks, "gate") == 1)
    workers = psutil.Process(proc.pid).children(recursive=True)
    assert workers, "the process executor should have started worker processes"
    proc.kill()  # the parent only: its workers are left to notice by themselves
    proc.wait(timeout=30)  # not communicate(): live workers would hold its stderr open

    def alive(worker: psutil.Process) -> bool:
        try:
            return worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    deadline = time.monotonic() + WAIT_S
    try:
        while any(alive(w) for w in workers):
            if time.monotonic() > deadline:
                pytest.fail(f"workers outlived their parent: {[w.pid for w in workers]}")
            time.sleep(0.05)
    finally:
        for worker in workers:
            with contextlib.suppress(psutil.NoSuchProcess):
                worker.kill()
        if proc.stderr is not None:
            proc.stderr.close()

    # A worker the pool forked after the snapshot above also holds the run's journal lock
    # until it notices its parent is gone: the run shows killed once the last one has.
    client = TrackingClient(settings)
    try:
        killed = _only_run(client, "gated")
        while killed.status != RunStatus.KILLED.value and time.monotonic() < deadline:
            time.sleep(0.1)
            client.reconcile_dead_runs()
            killed = _only_run(client, "gated")
        assert killed.status == RunStatus.KILLED.value
        assert killed.steps["wait_for_gate"].status is StepStatus.KILLED
    finally:
        client.close()
    gate.touch()
    resumed = resume(killed.id, settings=settings)
    assert resumed.status == "finished"
    assert resumed.load("report") == "total=150"
