"""Steps and pipelines the executor contract suite runs on every executor.

They live in an importable module (not in the test file) because Dask and Ray workers
in other processes import step functions by module name. Side effects that a test
must see across processes go through files, never through memory.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import loopml

# -- plain functions for Executor.submit ---------------------------------------------


def double(x: int) -> int:
    return 2 * x


def fail_with(message: str) -> None:
    raise ValueError(message)


# -- steps ---------------------------------------------------------------------------


def _touch(folder: str | None, name: str) -> None:
    """Leave one file per execution, so tests count runs made in any process."""
    if folder:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        (path / f"{name}-{time.time_ns()}").touch()


def executions(folder: str | Path, name: str) -> int:
    return len(list(Path(folder).glob(f"{name}-*")))


@loopml.step
def numbers(n: int, marks: str | None = None) -> list[int]:
    _touch(marks, "numbers")
    return list(range(1, n + 1))


@loopml.step
def square(x: int) -> int:
    return x * x


@loopml.step
def total(values: list[int]) -> int:
    return sum(values)


@loopml.step
def make_frame(rows: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {"x": rows, "y": [float(r) / 2 for r in rows], "name": list("abcdefgh")[: len(rows)]}
    )


@loopml.step
def describe_frame(frame: pd.DataFrame) -> dict[str, Any]:
    return {"rows": len(frame), "y_sum": float(frame["y"].sum()), "names": list(frame["name"])}


@loopml.step
def make_matrix(n: int) -> np.ndarray:
    return np.arange(n * 3, dtype=np.float64).reshape(n, 3)


@loopml.step
def column_sums(matrix: np.ndarray) -> list[float]:
    return [float(v) for v in matrix.sum(axis=0)]


@loopml.step
def scored(values: list[int]) -> float:
    for step, value in enumerate(values):
        loopml.log_metric("score", value / 10, step=step)
    return sum(values) / 10


@loopml.step(timeout=60)
def scored_in_time(values: list[int]) -> float:
    for step, value in enumerate(values):
        loopml.log_metric("score", value / 10, step=step)
    return sum(values) / 10


@loopml.step
def explode(values: list[int]) -> int:
    raise ValueError(f"explode refuses {len(values)} values")


@loopml.step
def after_explode(value: int) -> int:
    return value + 1


@loopml.step(retries=1, retry_delay=0)
def flaky(marks: str) -> str:
    _touch(marks, "flaky")
    if executions(marks, "flaky") == 1:
        raise RuntimeError("first attempt fails")
    return "second attempt worked"


@loopml.step(timeout=0.5)
def sleepy(seconds: float) -> str:
    time.sleep(seconds)
    return "woke up"


# -- pipelines -----------------------------------------------------------------------


@loopml.pipeline
def showcase(n: int = 4, marks: str | None = None) -> None:
    """A bit of everything: a dynamic map, a DataFrame, an array, metrics."""
    rows = numbers(n, marks)
    squares = square.map(x=rows)
    total(squares)
    describe_frame(make_frame(rows))
    column_sums(make_matrix(n))
    scored(rows)


@loopml.pipeline
def timed_scores(n: int = 2) -> None:
    scored_in_time(numbers(n))


@loopml.pipeline
def half_broken(n: int = 3) -> None:
    rows = numbers(n)
    after_explode(explode(rows))
    total(rows)


@loopml.pipeline
def retried(marks: str = "") -> None:
    flaky(marks)


@loopml.pipeline
def overslept(seconds: float = 5.0) -> None:
    sleepy(seconds)
