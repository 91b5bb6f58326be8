"""Pipelines the schedule and trigger tests register (importable as ``_scheduled_pipeline``)."""

from __future__ import annotations

import loopml

SCALE = 2


@loopml.step
def numbers(n: int) -> list[int]:
    return list(range(n))


@loopml.step
def scaled(rows: list[int]) -> int:
    return sum(rows) * SCALE


@loopml.pipeline
def nightly(n: int = 3) -> None:
    scaled(numbers(n))


@loopml.pipeline(name="needs-positive")
def needs_positive(n: int) -> None:
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    numbers(n)


def make_local_pipeline() -> loopml.pipelines.Pipeline[..., None]:
    """A pipeline defined inside a function: it has no entrypoint."""

    @loopml.pipeline
    def local() -> None:
        numbers(1)

    return local
