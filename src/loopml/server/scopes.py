"""Where a write's role is checked: on the experiment of the run it changes.

A grant holds on the workspace (``"*"``), on one model (``"model:NAME"``) or on one
experiment (``"experiment:NAME"``): an editor of ``experiment:churn`` logs to the runs of
``churn`` and to no other. Operations name their scope with ``scope=`` (``api.py``), and
the server checks the operation's role there once the request is read.

Example:
    >>> experiment_scope("churn")
    'experiment:churn'
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from loopml.errors import LoopmlError
from loopml.server.models import WORKSPACE

if TYPE_CHECKING:
    from loopml.server.api import Call

__all__ = ["experiment_scope", "of_experiment", "of_run", "path_run", "run_scope"]

# How long a run's experiment name is trusted (an experiment can be renamed).
_FRESH_S = 5.0
_runs: dict[str, tuple[str | None, float]] = {}


def experiment_scope(name: str) -> str:
    return f"experiment:{name}"


def of_run(call: Call, run_id: object) -> str:
    """The scope of a write to ``run_id``: its experiment's (the workspace for no such run,
    so the handler answers 404 to whoever may see that)."""
    if not isinstance(run_id, str) or not run_id:
        return WORKSPACE
    key = f"{id(call.ctx)}:{run_id}"
    cached = _runs.get(key)
    now = time.monotonic()
    if cached is None or cached[1] < now:
        try:
            name = call.ctx.tracking.experiment_name_of_run(run_id)
        except LoopmlError:
            name = None
        if len(_runs) > 100_000:
            _runs.clear()
        cached = _runs[key] = (name, now + _FRESH_S)
    return WORKSPACE if cached[0] is None else experiment_scope(cached[0])


def of_experiment(call: Call, ref: object) -> str:
    """The scope of a write to the experiment named (or with the id) ``ref``; an unknown
    name is the scope of the experiment it would create."""
    if not isinstance(ref, str) or not ref:
        return WORKSPACE
    try:
        return experiment_scope(call.ctx.tracking.get_experiment(ref).name)
    except LoopmlError:
        return experiment_scope(ref)


def run_scope(read: Callable[[Call], object]) -> Callable[[Call], str]:
    """A ``scope=`` for operations on the run whose id ``read`` takes from the request."""
    return lambda call: of_run(call, read(call))


def path_run(call: Call) -> object:
    return call.path.get("run_id")
