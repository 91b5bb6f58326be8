"""Pipelines that the reliability tests SIGKILL in the middle of a run.

Run in a child process (``LOOPML_HOME`` names the store) as a module::

    python -c "import _killable_pipeline as k; k.main()" gated local <marks> <gate>

or as a script (``python _killable_pipeline.py ...``). Each step leaves a file in
``marks`` per execution, so the test counts executions made in any process.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

import loopml

GATE_TIMEOUT_S = 60.0  # a gated step gives up after this, so nothing hangs for ever
BIG_ITEMS = 4_000_000  # 32 MB of float64: long enough to write that a kill can land in it


def mark(marks: str, name: str) -> None:
    folder = Path(marks)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}-{time.time_ns()}").touch()


def executions(marks: str | Path, name: str) -> int:
    return len(list(Path(marks).glob(f"{name}-*")))


@loopml.step
def load(n: int, marks: str) -> list[int]:
    mark(marks, "load")
    return list(range(1, n + 1))


@loopml.step
def enrich(rows: list[int], marks: str) -> list[int]:
    mark(marks, "enrich")
    return [10 * r for r in rows]


@loopml.step
def wait_for_gate(rows: list[int], marks: str, gate: str) -> int:
    """Blocks until the file ``gate`` exists (at most ``GATE_TIMEOUT_S``)."""
    mark(marks, "gate")
    deadline = time.monotonic() + GATE_TIMEOUT_S
    while not Path(gate).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{gate} did not appear within {GATE_TIMEOUT_S:g}s")
        time.sleep(0.01)
    return sum(rows)


@loopml.step
def report(total: int, marks: str) -> str:
    mark(marks, "report")
    return f"total={total}"


@loopml.pipeline
def gated(n: int = 5, marks: str = "", gate: str = "") -> None:
    rows = load(n, marks)
    report(wait_for_gate(enrich(rows, marks), marks, gate), marks)


@loopml.step
def big_array(rows: list[int], marks: str) -> np.ndarray:
    values = np.arange(BIG_ITEMS, dtype=np.float64) * len(rows)
    mark(marks, "big")  # the output is written after this: the test kills around then
    return values


@loopml.step
def checksum(values: np.ndarray, marks: str) -> float:
    mark(marks, "checksum")
    return float(values[::1000].sum())


@loopml.pipeline
def big(n: int = 3, marks: str = "") -> None:
    checksum(big_array(load(n, marks), marks), marks)


def expected_checksum(n: int) -> float:
    return float((np.arange(BIG_ITEMS, dtype=np.float64) * n)[::1000].sum())


def main(argv: list[str] | None = None) -> None:
    """``<gated|big> <executor> <marks> [gate]``: run that pipeline until it ends."""
    name, executor, marks, *rest = argv if argv is not None else sys.argv[1:]
    if name == "gated":
        gated.run({"marks": marks, "gate": rest[0]}, executor=executor)
    else:
        big.run({"marks": marks}, executor=executor)


if __name__ == "__main__":
    main()
