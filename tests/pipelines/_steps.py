"""Steps and pipelines the core pipeline tests run (importable, so resume can re-import them)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

import loopml

OFFSET = 1


def bump(x: int) -> int:
    return x + OFFSET


def _counter(name: str) -> None:
    folder = os.environ.get("LOOPML_TEST_COUNTS")
    if folder:
        with open(Path(folder) / name, "a") as f:
            f.write("x")


def executions(folder: Path, name: str) -> int:
    path = folder / name
    return len(path.read_text()) if path.exists() else 0


@loopml.step
def numbers(n: int) -> list[int]:
    _counter("numbers")
    return list(range(n))


@loopml.step
def total(values: list[int]) -> int:
    _counter("total")
    return sum(bump(v) for v in values)


@loopml.step
def square(x: int) -> int:
    _counter("square")
    return x * x


@loopml.step
def frame(n: int) -> pd.DataFrame:
    _counter("frame")
    return pd.DataFrame({"a": np.arange(n), "b": np.arange(n) * 0.5})


@loopml.step
def column_sum(df: pd.DataFrame, column: str = "b") -> float:
    _counter("column_sum")
    loopml.log_metric("rows", len(df))
    print(f"summing {column} over {len(df)} rows")
    return float(df[column].sum())


@loopml.step
def explode(x: int) -> int:
    """Fails while the file fail.flag exists in the working directory."""
    _counter("explode")
    if Path("fail.flag").exists():
        raise ValueError(f"explode got {x}")
    return x


@loopml.step(retries=2, retry_delay=0.01)
def flaky(x: int) -> int:
    """Fails until it has been called three times (counted in a file)."""
    marker = Path("flaky.count")
    count = int(marker.read_text()) + 1 if marker.exists() else 1
    marker.write_text(str(count))
    if count < 3:
        raise ConnectionError(f"attempt {count}")
    return x


@loopml.step(timeout=0.3)
def sleepy(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@loopml.step
def positive(x: float) -> bool:
    return x > 0


@loopml.step(cache=False)
def uncached(x: int) -> int:
    _counter("uncached")
    return x


@loopml.step
def rows_of(data: pd.DataFrame) -> int:
    _counter("rows_of")
    return len(data)


@loopml.pipeline
def arithmetic(n: int = 4) -> None:
    values = numbers(n)
    total(values)
    squares = square.map(x=values)
    total.with_options(name="sum_squares")(squares)


@loopml.pipeline
def branches() -> None:
    values = numbers(3)
    bad = explode(total(values))
    square(bad)  # depends on the failure: skipped
    column_sum(frame(5))  # independent: completes


@loopml.pipeline
def frames(n: int = 10, column: str = "b") -> None:
    column_sum(frame(n), column=column)


@loopml.pipeline
def gated(n: int = 4) -> None:
    ok = positive(column_sum(frame(n)))
    with loopml.when(ok):
        square(3)
    with loopml.when(ok, is_=False):
        square(4)


@loopml.pipeline
def from_dataset(name: str = "points") -> None:
    rows_of(loopml.dataset(name))
