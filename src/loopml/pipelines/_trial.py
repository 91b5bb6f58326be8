"""What runs on a worker for one tuning trial: call the objective inside the trial's run.

A :class:`TrialTask` is picklable (the objective by reference, the settings, the run the
orchestrator created, where the study lives), so any executor can ship it. The worker
rebuilds the Optuna trial from the study's storage, so that :meth:`TrialContext.report`
and :meth:`TrialContext.should_prune` see every other trial's progress; it never tells
Optuna how the trial ended: it returns a :class:`TrialOutcome` and the orchestrator does.

Example:
    >>> TrialOutcome("complete", 0.5).state
    'complete'
"""

from __future__ import annotations

import math
import numbers
import threading
import traceback as tb
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from loopml.config import Settings
from loopml.errors import InvalidInputError
from loopml.tracking.client import TrackingClient
from loopml.tracking.models import Run

if TYPE_CHECKING:
    import optuna

__all__ = ["TrialContext", "TrialOutcome", "TrialTask", "run_trial"]


@dataclass(slots=True)
class TrialTask:
    """Everything a worker needs to run one trial.

    ``study`` is the orchestrator's own study object, set only for the local executor
    (nothing is pickled there); elsewhere the worker loads the study named
    ``study_name`` from ``storage`` (a storage object or an RDB URL).
    """

    settings: Settings
    run: Run
    objective: Callable[..., Any]
    takes_trial: bool
    params: dict[str, Any]
    number: int
    trial_id: int
    metric: str
    study_name: str
    storage: Any = None
    pruner: Any = None
    study: Any = None


@dataclass(slots=True)
class TrialOutcome:
    """How one trial went, as the worker saw it: ``complete``, ``pruned`` or ``failed``."""

    state: str
    value: float | None = None
    error: str | None = None
    traceback: str | None = None


class TrialContext:
    """The objective's handle on its trial: report progress, ask whether to stop.

    Example:
        >>> def objective(params, trial):  # doctest: +SKIP
        ...     for epoch in range(10):
        ...         loss = train_one_epoch(params)
        ...         trial.report(loss, step=epoch)
        ...         if trial.should_prune():
        ...             trial.prune()
        ...     return loss

    Attributes:
        params: this trial's parameter values.
        number: the trial's number in the study (0, 1, …).
        run_id: the tracked run of the trial (``loopml.log_metric`` logs to it too).
    """

    def __init__(self, trial: optuna.trial.Trial, client: TrackingClient, task: TrialTask) -> None:
        self.params = dict(task.params)
        self.number = task.number
        self.run_id = task.run.id
        self._trial = trial
        self._client = client
        self._metric = task.metric
        self._last: tuple[int, float] | None = None  # (step, value) of the last report

    def report(self, value: float, step: int) -> None:
        """Record an intermediate value: the run's metric at ``step``, and for the pruner."""
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise InvalidInputError(f"trial.report step must be an integer >= 0, got {step!r}")
        number = _as_number(value, "trial.report value")
        self._trial.report(number, step)
        self._client.log_metric(self.run_id, self._metric, number, step)
        self._last = (step, number)

    def should_prune(self) -> bool:
        """Whether the pruner judges this trial hopeless, given what it reported so far."""
        return bool(self._trial.should_prune())

    def prune(self) -> NoReturn:
        """Stop the trial here as pruned (raises ``optuna.TrialPruned``)."""
        import optuna

        raise optuna.TrialPruned(f"trial {self.number} pruned")

    def __repr__(self) -> str:
        return f"TrialContext(number={self.number}, params={self.params!r})"


def run_trial(task: TrialTask) -> TrialOutcome:
    """Run ``task``'s objective to its end; never raises for a failure of the objective."""
    import optuna

    from loopml.pipelines._task import worker_client
    from loopml.tracking.fluent import attach_run

    client = worker_client(task.settings)
    context: TrialContext | None = None
    try:
        trial = optuna.trial.Trial(_study(task), task.trial_id)
        context = TrialContext(trial, client, task)
        with attach_run(client, task.run):
            params = dict(task.params)
            result = task.objective(params, context) if task.takes_trial else task.objective(params)
            value = _as_number(result, "the objective's return value")
            if math.isnan(value):
                raise InvalidInputError("the objective returned NaN; return a number")
            step = context._last[0] if context._last else 0
            if context._last != (step, value):
                client.log_metric(task.run.id, task.metric, value, step)
        return TrialOutcome("complete", value)
    except optuna.TrialPruned:
        last = context._last if context is not None else None
        return TrialOutcome("pruned", last[1] if last else None)
    except Exception as err:
        error = f"{type(err).__name__}: {err}"
        return TrialOutcome("failed", error=error, traceback="".join(tb.format_exception(err)))
    finally:
        client.flush()


# A worker keeps the last few studies it loaded: reloading replays the whole storage.
_studies: OrderedDict[tuple[str, str], optuna.Study] = OrderedDict()
_studies_lock = threading.Lock()
_KEEP_STUDIES = 4


def _study(task: TrialTask) -> optuna.Study:
    if task.study is not None:
        return task.study  # type: ignore[no-any-return]
    import optuna

    key = (task.study_name, task.run.parent_run_id or "")
    with _studies_lock:
        study = _studies.get(key)
        if study is None:
            # The orchestrator fixes every parameter when it asks for the trial, so the
            # sampler never runs here; a random one is the cheapest to build.
            study = optuna.load_study(
                study_name=task.study_name,
                storage=task.storage,
                sampler=optuna.samplers.RandomSampler(),
                pruner=task.pruner,
            )
            _studies[key] = study
            while len(_studies) > _KEEP_STUDIES:
                _studies.popitem(last=False)
        _studies.move_to_end(key)
        return study


def _as_number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        item = getattr(value, "item", None)  # numpy / torch scalars
        value = item() if callable(item) and getattr(value, "size", 1) == 1 else value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        kind = type(value).__name__
        raise InvalidInputError(f"{what} must be a number, got {kind} {value!r:.60}")
    return float(value)
