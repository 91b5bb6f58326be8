"""Objectives for test_tune.py, importable by name so worker processes can run them."""

from __future__ import annotations

import math
import os
from typing import Any

import loopml
from loopml.pipelines.tune import TrialContext


def quadratic(params: dict[str, Any]) -> float:
    """Smallest, 0, at x = 2."""
    return float((params["x"] - 2) ** 2)


def quadratic_in_worker(params: dict[str, Any], trial: TrialContext) -> float:
    """``quadratic``, and where it ran: the pid as a tag, a metric through the fluent API."""
    loopml.set_tag("pid", os.getpid())
    loopml.log_metric("inner", params["x"])
    assert trial.run_id == loopml.active_run().id  # type: ignore[union-attr]
    return quadratic(params)


def worse_each_trial(params: dict[str, Any], trial: TrialContext) -> float:
    """Reports the trial's number at steps 0-3: with minimize, each trial is worse than all
    before it, so a median pruner stops every trial once it has enough completed ones."""
    for step in range(4):
        trial.report(float(trial.number), step)
        if trial.should_prune():
            trial.prune()
    return float(trial.number)


def reports_x(params: dict[str, Any], trial: TrialContext) -> float:
    """Reports x at steps 0-2 (for a threshold pruner)."""
    for step in range(3):
        trial.report(params["x"], step)
        if trial.should_prune():
            trial.prune()
    return float(params["x"])


def flaky(params: dict[str, Any]) -> float:
    """Raises for x < 0 and returns NaN for x = 3; else ``quadratic``."""
    if params["x"] < 0:
        raise ValueError(f"x={params['x']} is negative")
    if params["x"] == 3:
        return math.nan
    return quadratic(params)


def always_fails(params: dict[str, Any]) -> float:
    raise RuntimeError("boom")


def interrupted(params: dict[str, Any]) -> float:
    """As if the user pressed Ctrl-C during the trial."""
    raise KeyboardInterrupt
