"""Pipelines the CLI tests run by target (``_cli_pipelines:diamond``).

- ``diamond``: source -> left, right -> join; ``k`` only reaches ``left``; ``join``
  fails when ``fail`` is true or the file ``flag`` exists (remove it to fix the step).
- ``squares``: a map over source's output, gathered by ``total``.
- ``reads_data``: counts the rows of dataset ``iris`` and doubles the count.
- ``typed``: annotated parameters (float, str, list, Optional int, bool) of every kind.
- ``array``: one step returning a numpy array (not a JSON value).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import loopml


@loopml.step
def source(n: int) -> list[int]:
    return list(range(n))


@loopml.step
def left(rows: list[int], k: int = 1) -> int:
    return sum(rows) * k


@loopml.step
def right(rows: list[int]) -> int:
    return len(rows)


@loopml.step
def join(a: int, b: int, fail: bool = False, flag: str = "") -> int:
    if fail or (flag and Path(flag).exists()):
        raise RuntimeError(f"join was told to fail (fail={fail}, flag={flag!r})\nsecond line")
    return a + b


@loopml.pipeline
def diamond(n: int = 3, k: int = 1, fail: bool = False, flag: str = "") -> None:
    rows = source(n)
    join(left(rows, k), right(rows), fail, flag)


@loopml.step
def square(x: int) -> int:
    return x * x


@loopml.step
def total(xs: list[int]) -> int:
    return sum(xs)


@loopml.pipeline
def squares(n: int = 3) -> None:
    total(square.map(x=source(n)))


@loopml.step
def count_rows(frame: Any) -> int:
    return len(frame)


@loopml.step
def double(count: int) -> int:
    return 2 * count


@loopml.pipeline
def reads_data() -> None:
    double(count_rows(loopml.dataset("iris")))


@loopml.step
def scale(alpha: float, label: str, tags: list[str] | None, count: int | None, on: bool) -> str:
    types = [type(v).__name__ for v in (alpha, label, tags, count, on)]
    return f"{alpha * 2}|{label}|{tags}|{count}|{on}|{','.join(types)}"


@loopml.pipeline
def typed(
    alpha: float = 1.0,
    label: str = "x",
    tags: list[str] | None = None,
    count: int | None = None,
    on: bool = False,
) -> None:
    scale(alpha, label, tags, count, on)


@loopml.step
def zeros(n: int) -> Any:
    import numpy as np

    return np.zeros(n)


@loopml.pipeline
def array(n: int = 3) -> None:
    zeros(n)
