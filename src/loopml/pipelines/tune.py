"""Hyperparameter search on Optuna: each trial a tracked run, trials in parallel on an executor.

:func:`tune` asks Optuna for parameters in this process and runs the objective on the
executor (``local``, ``process://4``, ``dask://…``), keeping as many trials in flight as
the executor runs at once. Every trial is a child run of one parent run (the active run,
else a new ``tune-<study>`` run in the experiment ``tune``) holding the trial's params
and, as the metric ``metric``, its value. The parent gets the best params (``best.<name>``),
the metric ``best_value``, tags naming the study, and the artifact ``tune/trials.json``.

How a trial ends: ``complete`` (run ``finished``); ``pruned`` (run ``finished`` too, since
stopping a hopeless trial early is the search working as meant, with the tag
``loopml.trial_state=pruned``); ``failed`` when the objective raised or returned no number
(run ``failed``, the error in the tag ``loopml.error``, the traceback in the artifact
``tune/traceback.txt``). Failed trials do not stop the search; if no trial completes,
:class:`~loopml.errors.PipelineFailedError` is raised after the parent run is recorded.

Where the study lives: in memory for the ``local`` executor; otherwise in an Optuna
journal file under ``<home>/optuna/`` that every process on this machine can reach (so
pruners see all trials). A Dask or Ray cluster spanning machines needs ``storage=`` set
to an Optuna RDB URL they all reach, e.g. ``postgresql://user@db/optuna``.

Example:
    >>> from loopml.pipelines.tune import tune, uniform
    >>> result = tune(lambda p: (p["x"] - 2) ** 2, {"x": uniform(-5, 5)},
    ...               direction="minimize", n_trials=30, seed=0)  # doctest: +SKIP
    >>> round(result.best_params["x"])  # doctest: +SKIP
    2
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from loopml._ids import new_id
from loopml.config import Settings
from loopml.errors import InvalidInputError
from loopml.pipelines._search import Search, TrialRecord, TuneResult
from loopml.pipelines._search_space import (
    choice,
    grid_values,
    int_range,
    loguniform,
    to_distributions,
    uniform,
)
from loopml.pipelines._study import check_direction, import_optuna, make_pruner, make_sampler
from loopml.pipelines._trial import TrialContext
from loopml.pipelines.executors import resolve_executor
from loopml.tracking import check_key
from loopml.tracking.client import TrackingClient

if TYPE_CHECKING:
    from loopml.pipelines.executors.base import Executor

__all__ = [
    "TrialContext",
    "TrialRecord",
    "TuneResult",
    "choice",
    "int_range",
    "loguniform",
    "tune",
    "uniform",
]


def tune(
    objective: Callable[..., Any],
    search_space: Mapping[str, Any],
    *,
    n_trials: int = 20,
    direction: str = "maximize",
    executor: str | Executor | None = None,
    sampler: Any = "tpe",
    pruner: Any = "none",
    seed: int | None = None,
    timeout: float | None = None,
    study_name: str | None = None,
    metric: str = "objective",
    experiment: str = "tune",
    storage: Any = None,
    settings: Settings | None = None,
    parent_run: Any = None,
) -> TuneResult:
    """Search ``search_space`` for the parameters that maximize (or minimize) ``objective``.

    Args:
        objective: ``objective(params) -> float`` or ``objective(params, trial) -> float``
            (``trial`` is a :class:`TrialContext`: ``report``, ``should_prune``, ``prune``).
            It runs inside the trial's run: ``loopml.log_metric`` logs there. For executors
            other than ``local`` it must be importable (defined at module level).
        search_space: parameter name -> spec: ``uniform(low, high)``,
            ``loguniform(low, high)``, ``int_range(low, high, step)``, ``choice([...])``,
            a list of choices, a ``(low, high)`` tuple (ints: integers) or an Optuna
            distribution.
        n_trials: how many trials (the ``grid`` sampler stops when the grid is done).
        direction: ``"maximize"`` or ``"minimize"``.
        executor: an executor URL or object; default the ``executor`` setting.
        sampler: ``tpe``, ``random``, ``grid``, ``cmaes`` or an Optuna sampler.
        pruner: ``none``, ``median``, ``hyperband``, ``successive_halving`` or an Optuna
            pruner (it acts on the values the objective passes to ``trial.report``).
        seed: seeds a sampler given by name.
        timeout: start no new trial after this many seconds (running ones finish).
        study_name: default the objective's name and a random suffix.
        metric: the name of the objective's value in each trial run.
        experiment: where a new parent run is made (unused inside an active run).
        storage: an Optuna storage (object or RDB URL) every worker can reach.
        settings: the stores to track in (default: the fluent API's).
        parent_run: the run (``ActiveRun`` or run id) to nest the trials under.

    Returns:
        The best params, value and run, the parent run's id and every trial.

    Raises:
        InvalidInputError: a bad search space, objective, name or count.
        MissingDependencyError: Optuna (``loopml[tune]``) is not installed.
        PipelineFailedError: no trial completed (``run_id`` is the parent run).
    """
    import_optuna()
    distributions = to_distributions(search_space)
    takes_trial = _takes_trial(objective)
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise InvalidInputError(f"n_trials must be an integer >= 1, got {n_trials!r}")
    if timeout is not None and not timeout > 0:
        raise InvalidInputError(f"timeout must be > 0 seconds, or None; got {timeout!r}")
    check_key("metric", metric)
    if sampler == "grid":
        n_trials = min(n_trials, math.prod(map(len, grid_values(distributions).values())))
    search = Search(
        objective=objective,
        takes_trial=takes_trial,
        distributions=distributions,
        n_trials=n_trials,
        direction=check_direction(direction),
        sampler=make_sampler(sampler, distributions, seed),
        pruner=make_pruner(pruner),
        timeout=timeout,
        study_name=study_name or f"{_name_of(objective)}-{new_id()[-8:].lower()}",
        metric=metric,
        storage=storage,
    )
    client, parent = _client_and_parent(settings, parent_run)
    executor_obj, owned = resolve_executor(executor, client.settings.executor)
    try:
        return search.execute(client, executor_obj, parent, experiment)
    finally:
        if owned:
            executor_obj.close()


def _takes_trial(objective: Any) -> bool:
    """Whether ``objective`` takes ``(params, trial)`` rather than ``(params)``."""
    if not callable(objective):
        raise InvalidInputError(f"objective must be a function, got {type(objective).__name__}")
    try:
        signature = inspect.signature(objective)
    except (TypeError, ValueError):  # a builtin: assume the simple form
        return False
    kinds = inspect.Parameter
    parameters = list(signature.parameters.values())
    positional = [
        p for p in parameters if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)
    ]
    variadic = any(p.kind is kinds.VAR_POSITIONAL for p in parameters)
    required = [
        p
        for p in parameters
        if p.default is p.empty and p.kind not in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD)
    ]
    # Every required parameter must be one of the (at most two) positional arguments passed.
    if len(required) <= 2 and all(p in positional[:2] for p in required):
        if variadic or len(positional) >= 2:
            return True
        if positional:
            return False
    raise InvalidInputError(
        f"objective {_name_of(objective)}{signature} must take (params) or (params, trial), "
        "e.g. def objective(params, trial): return score(params['lr'])"
    )


def _name_of(objective: Any) -> str:
    name = getattr(objective, "__name__", type(objective).__name__)
    return "objective" if name == "<lambda>" else str(name)


def _client_and_parent(
    settings: Settings | None, parent_run: Any
) -> tuple[TrackingClient, str | None]:
    from loopml.pipelines._task import worker_client
    from loopml.tracking.fluent import ActiveRun, active_run, default_client

    active = parent_run if isinstance(parent_run, ActiveRun) else active_run()
    if active is not None and (settings is None or active.client.settings == settings):
        client = active.client
    else:
        client = default_client() if settings is None else worker_client(settings)
    if isinstance(parent_run, str):
        return client, parent_run
    if parent_run is not None and not isinstance(parent_run, ActiveRun):
        raise InvalidInputError(
            f"parent_run must be an ActiveRun or a run id, got {type(parent_run).__name__}"
        )
    return client, active.id if active is not None and active.client is client else None
