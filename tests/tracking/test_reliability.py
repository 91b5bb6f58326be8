"""Nothing acknowledged is lost: SIGKILL mid-logging, and many processes on one store."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest
from _procs import python, run_python

from loopml.config import Settings
from loopml.tracking import RunStatus, TrackingClient

LOGGER = """
import os, sys
from loopml.tracking import TrackingClient
client = TrackingClient()
run = client.create_run("kill", name="victim")
os.write(1, (run.id + "\\n").encode())
for i in range(1_000_000):
    client.log_metric(run.id, "m", float(i), step=i)
    if i % 7 == 0:
        client.log_metric(run.id, "n", float(i), step=i)
    os.write(1, f"{i}\\n".encode())  # written only after log_metric returned
"""


def _read_acks(proc_stdout: bytes) -> tuple[str, list[int]]:
    lines = proc_stdout.decode().split("\n")
    run_id = lines[0]
    acked = [int(line) for line in lines[1:-1]]  # the last piece may be torn by the kill
    return run_id, acked


@pytest.mark.parametrize("attempt", range(5))
def test_sigkill_while_logging_loses_no_acknowledged_metric(tmp_path: Path, attempt: int) -> None:
    rng = random.Random(attempt)
    home = tmp_path / "home"
    # A short flush interval makes the kill land inside ingestion transactions too.
    proc = python(LOGGER, home, LOOPML_METRICS_FLUSH_S=str(rng.choice([0.001, 0.01, 0.2])))
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.strip(), proc.stderr.read().decode() if proc.stderr else ""
    time.sleep(rng.uniform(0.05, 1.5))
    os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    run_id, acked = _read_acks(first + out)
    assert len(acked) > 10, "the logger did not get going before the kill"

    client = TrackingClient(Settings.load(home=home))  # recovers the dead process's journal
    try:
        steps = [int(m.step) for m in client.get_metric_history(run_id, "m")]
        assert len(steps) == len(set(steps)), "a point was ingested twice"
        assert set(acked) <= set(steps), f"lost {len(set(acked) - set(steps))} acknowledged points"
        n_steps = {m.step for m in client.get_metric_history(run_id, "n")}
        assert {i for i in acked if i % 7 == 0} <= n_steps
        assert client.get_run(run_id).status is RunStatus.KILLED
        leftovers = [p for p in (home / "journal").glob("*.jnl") if f"-{proc.pid}-" in p.name]
        assert leftovers == [], "the dead process's journal was not retired"
    finally:
        client.close()


WRITER = """
import sys
from loopml.tracking import TrackingClient
client = TrackingClient()
run = client.create_run("crowd", name=f"writer-{sys.argv[1] if len(sys.argv) > 1 else ''}")
client.log_params(run.id, {f"p{i}": i for i in range(50)})
for i in range(3000):
    client.log_metric(run.id, "loss", 1.0 / (i + 1), step=i)
    if i % 500 == 0:
        client.set_tag(run.id, "progress", str(i))
client.log_batch(run.id, [("batch", float(i), i, 0) for i in range(2000)])
client.end_run(run.id)
print(run.id)
"""


def test_eight_processes_share_one_embedded_store_without_lock_errors(tmp_path: Path) -> None:
    home = tmp_path / "home"  # a fresh store: the 8 also race to create and migrate it
    procs = [python(WRITER, home, LOOPML_METRICS_FLUSH_S="0.02") for _ in range(8)]
    results = [p.communicate(timeout=240) for p in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err.decode()
        assert b"locked" not in err, err.decode()
    run_ids = [out.decode().strip() for out, _ in results]
    client = TrackingClient(Settings.load(home=home))
    try:
        for run_id in run_ids:
            run = client.get_run(run_id)
            assert run.status is RunStatus.FINISHED
            assert len(run.params) == 50
            assert len(client.get_metric_history(run_id, "loss")) == 3000
            assert len(client.get_metric_history(run_id, "batch")) == 2000
    finally:
        client.close()


@pytest.mark.parametrize(
    ("body", "status", "exit_code"),
    [
        ("run.log_metric('a', 1.0)", RunStatus.FINISHED, 0),
        ("raise RuntimeError('boom')", RunStatus.FAILED, 1),
        ("import sys; sys.exit(0)", RunStatus.FINISHED, 0),
        ("raise KeyboardInterrupt", RunStatus.KILLED, -signal.SIGINT),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", RunStatus.KILLED, -9),
    ],
    ids=["normal-exit", "uncaught-exception", "sys-exit", "ctrl-c", "sigkill"],
)
def test_run_status_is_right_however_the_process_ends(
    tmp_path: Path, body: str, status: RunStatus, exit_code: int
) -> None:
    home = tmp_path / "home"
    code = f"import loopml\nrun = loopml.start_run()\nprint(run.id, flush=True)\n{body}\n"
    returncode, out, err = run_python(code, home)
    assert returncode == exit_code, err
    run_id = out.split()[0]
    client = TrackingClient(Settings.load(home=home))
    try:
        run = client.get_run(run_id)
        assert run.status is status
        assert run.end_time is not None
    finally:
        client.close()
