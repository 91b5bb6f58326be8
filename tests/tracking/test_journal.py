"""The metric journal: one bad record never blocks recovery, and a full disk never eats a point.

The faults are real: processes are SIGKILLed, a journal line is corrupted by hand, and the
journal lives on a 64 KiB tmpfs (or, where mounting is not allowed, a process runs under
``RLIMIT_FSIZE``) so writes really come back short or fail.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from _procs import python, run_python

from loopml import errors
from loopml.config import Settings
from loopml.tracking import TrackingClient

FLOAT_TIMESTAMP_THEN_KILLED = """
import os, sys, time
from loopml.tracking import TrackingClient
client = TrackingClient()
run = client.create_run("kill", name="victim")
client.log_metric(run.id, "m", 0.5, step=0)
client.log_metric(run.id, "m", 1.0, step=1, timestamp=time.time() * 1000)
client.log_metric(run.id, "m", 2.0, step=2)
os.write(1, (run.id + "\\n").encode())
time.sleep(600)
"""


def test_a_float_timestamp_then_sigkill_does_not_break_the_store(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # No background ingestion: every point is still only in the journal at the kill.
    proc = python(FLOAT_TIMESTAMP_THEN_KILLED, home, LOOPML_METRICS_FLUSH_S="3600")
    assert proc.stdout is not None
    run_id = proc.stdout.readline().decode().strip()
    assert run_id, proc.stderr.read().decode() if proc.stderr else ""
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)

    for _ in range(2):  # every later process works, not only the one that recovers
        client = TrackingClient(Settings.load(home=home))
        try:
            history = client.get_metric_history(run_id, "m")
            assert [(p.step, p.value) for p in history] == [(0, 0.5), (1, 1.0), (2, 2.0)]
            assert all(type(p.timestamp) is int for p in history)
        finally:
            client.close()


def _orphan_journal(home: Path, lines: list[str]) -> Path:
    folder = home / "journal"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{socket.gethostname()}-999999-01JHANDMADE.jnl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_recovery_skips_and_reports_a_corrupt_line_and_ingests_the_rest(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    first = TrackingClient(settings)
    run_id = first.create_run("e").id
    first.end_run(run_id)
    first.close()
    ts = 1_700_000_000_000
    path = _orphan_journal(
        settings.home,
        [
            f"1\t{run_id}\tm\t0.5\t0\t{ts}",
            f"2\t{run_id}\tm\t1.5\t1\t{ts}.25",  # a float timestamp, as older versions wrote
            f"3\t{run_id}\tm\t2.5\t2\t{ts}",
            f"4\t{run_id}\tm\t3.5\t{2**63}\t{ts}",  # a step beyond int64
            f"5\t{run_id}\tm\tnot-a-number\t4\t{ts}",
            f"6\t{run_id}\tm",  # too few fields
            "\xff\x00garbage",
            f"7\t{run_id}\tm\t6.5\t6\t{ts}",
            f"8\t{run_id}\t{'k' * 300}\t7.5\t7\t{ts}",  # a key too long for its column
            f"9\t{'r' * 300}\tm\t8.5\t8\t{ts}",  # a run id too long for its column
            f"10\t{run_id}\tm\t9.5\t9\t{ts}",
        ],
    )

    with caplog.at_level(logging.WARNING, logger="loopml.tracking"):
        client = TrackingClient(settings)
    try:
        history = client.get_metric_history(run_id, "m")
        assert [(p.step, p.value) for p in history] == [(0, 0.5), (2, 2.5), (6, 6.5), (9, 9.5)]
        assert client.get_run(run_id).metrics == {"m": 9.5}
    finally:
        client.close()
    skipped = [r.getMessage() for r in caplog.records if "skipped line" in r.getMessage()]
    assert [m.split(" of ")[0] for m in skipped] == [
        "skipped line 2",
        "skipped line 4",
        "skipped line 5",
        "skipped line 6",
        "skipped line 7",
        "skipped line 9",
        "skipped line 10",
    ]
    assert all(str(path) in m for m in skipped)
    assert not path.exists(), "the recovered journal was not retired"


# -- a full disk --------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path | None]:
    """``home`` whose ``journal`` folder is a 64 KiB tmpfs; ``None`` where mount is refused."""
    home = tmp_path / "home"
    journal = home / "journal"
    journal.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(journal)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        yield None
        return
    try:
        yield home
    finally:
        subprocess.run(["umount", "-l", str(journal)], check=False)


def _fill(folder: Path) -> Path:
    """Write a file into ``folder`` until its filesystem has no byte left."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                if os.write(fd, b"x" * 4096) == 0:
                    break
            except OSError:
                break
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_raises_disk_full_and_never_loses_a_returned_point(
    small_disk: Path | None,
) -> None:
    if small_disk is None:  # no tmpfs here (not root): the same fault through a size limit
        _file_size_limit_scenario(Path(os.environ["LOOPML_HOME"]).parent / "rlimit-home")
        return
    settings = Settings.load(home=small_disk, metrics_flush_s=3600)
    client = TrackingClient(settings)
    run_id = client.create_run("full").id
    client.log_metric(run_id, "m", 0.0, step=0)
    journal = next((small_disk / "journal").glob("*.jnl"))
    filler = _fill(small_disk / "journal")

    # A batch bigger than the room left in the journal's last page: a short write, then
    # ENOSPC. Nothing of it may stay in the journal.
    size = journal.stat().st_size
    with pytest.raises(errors.DiskFullError, match=r"disk full: \d+ bytes free on .*journal"):
        client.log_batch(run_id, [("batch", float(i), i, 0) for i in range(1000)])
    assert journal.stat().st_size == size
    assert journal.read_bytes().endswith(b"\n")

    acked = [0, *_log_until_full(client, run_id)]
    assert journal.read_bytes().endswith(b"\n"), "a torn record was left behind"

    filler.unlink()
    client.log_metric(run_id, "m", -1.0, step=5000)
    client.end_run(run_id)
    client.close()
    reader = TrackingClient(Settings.load(home=small_disk))
    try:
        steps = [p.step for p in reader.get_metric_history(run_id, "m")]
        assert steps == [*acked, 5000]
        assert reader.get_metric_history(run_id, "batch") == []
    finally:
        reader.close()


def _log_until_full(client: TrackingClient, run_id: str) -> list[int]:
    """Log single points until the disk is full; the steps of the calls that returned."""
    acked = []
    for step in range(1, 1000):
        try:
            client.log_metric(run_id, "m", float(step), step=step)
        except errors.DiskFullError:
            break
        acked.append(step)
    else:
        raise AssertionError("the disk never filled up")
    with pytest.raises(errors.DiskFullError, match="the metric was not stored"):
        client.log_metric(run_id, "m", 1e9, step=999_999)  # still full: refused again
    return acked


FILE_SIZE_LIMITED = """
import json, os, resource, signal
from pathlib import Path
from loopml.errors import LoopmlError
from loopml.tracking import TrackingClient

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
client = TrackingClient()
run = client.create_run("limited")
client.log_metric(run.id, "m", 0.0, step=0)
journal = next(Path(os.environ["LOOPML_HOME"], "journal").glob("*.jnl"))
size = journal.stat().st_size
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, hard))
out = {"errors": []}
for call in (
    lambda: client.log_batch(run.id, [("batch", float(i), i, 0) for i in range(50)]),
    lambda: [client.log_metric(run.id, "m", float(i), step=i) for i in range(1, 50)],
):
    try:
        call()
    except LoopmlError as err:
        out["errors"].append([type(err).__name__, str(err)])
    except OSError as err:
        out["errors"].append(["OSError", str(err)])
    out.setdefault("sizes", []).append(journal.stat().st_size)
    out["ends_with_newline"] = journal.read_bytes().endswith(b"\\n")
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
client.log_metric(run.id, "m", -1.0, step=5000)
client.end_run(run.id)
out["steps"] = [p.step for p in client.get_metric_history(run.id, "m")]
out["size"] = size
print(json.dumps(out))
"""


def _file_size_limit_scenario(home: Path) -> None:
    code, out, err = run_python(FILE_SIZE_LIMITED, home, LOOPML_METRICS_FLUSH_S="3600")
    assert code == 0, err
    result = json.loads(out.splitlines()[-1])
    batch_error, point_error = result["errors"]
    assert batch_error[0] == "DiskFullError", batch_error
    assert "file size limit reached writing" in batch_error[1]
    assert point_error[0] == "DiskFullError", point_error
    assert "the metric was not stored" in point_error[1]
    assert result["sizes"][0] == result["size"], "the failed batch left bytes behind"
    assert result["ends_with_newline"], "a torn record was left behind"
    # Points 1… that returned fit in the 100 bytes; each is kept, the one that failed is not.
    kept = result["steps"]
    assert kept[0] == 0
    assert kept[-1] == 5000
    assert kept[1:-1] == list(range(1, len(kept) - 1))
    assert len(kept) >= 3


def test_a_file_size_limit_raises_disk_full_and_never_loses_a_returned_point(
    tmp_path: Path,
) -> None:
    _file_size_limit_scenario(tmp_path / "home")
