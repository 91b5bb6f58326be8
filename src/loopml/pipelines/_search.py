"""The orchestrator of a search: ask Optuna, run trials on the executor, tell Optuna.

Parameters are fixed in this process (``study.ask``) before a trial's run is created
with them, so every run holds its params from the start; the worker only calls the
objective (:mod:`loopml.pipelines._trial`). As many trials are in flight as the executor
runs at once; when one ends, its state goes to Optuna (``study.tell``) and its run is
ended, and the next trial is asked for.

Example:
    >>> TrialRecord(0, {"x": 1.0}, 0.5, "complete", "01J0").state
    'complete'
"""

from __future__ import annotations

import contextlib
import json
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from loopml.errors import ConflictError, PipelineFailedError
from loopml.pipelines._study import import_optuna, journal_storage
from loopml.pipelines._trial import TrialOutcome, TrialTask, run_trial
from loopml.tracking.client import TrackingClient
from loopml.tracking.models import Run, RunStatus

if TYPE_CHECKING:
    import optuna
    import pandas as pd

    from loopml.pipelines.executors.base import Executor

__all__ = ["Search", "TrialRecord", "TuneResult"]


class TrialRecord(NamedTuple):
    """One trial: ``state`` is ``complete``, ``pruned`` or ``failed``."""

    number: int
    params: dict[str, Any]
    value: float | None
    state: str
    run_id: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TuneResult:
    """What a search found; ``study`` is the Optuna study itself.

    Example:
        >>> result.best_params, result.best_run_id  # doctest: +SKIP
        ({'x': 2.01}, '01J…')
    """

    best_params: dict[str, Any]
    best_value: float
    best_run_id: str
    parent_run_id: str
    study_name: str
    trials: list[TrialRecord]
    study: optuna.Study = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        """One row per trial: number, state, value, run_id, error and ``params.<name>``."""
        import pandas as pd

        return pd.DataFrame(
            [
                {**t._asdict(), **{f"params.{k}": v for k, v in t.params.items()}}
                for t in self.trials
            ]
        ).drop(columns="params")


@dataclass
class Search:
    """One search from start to end; what :func:`tune` checked, and the state of the run."""

    objective: Callable[..., Any]
    takes_trial: bool
    distributions: dict[str, Any]
    n_trials: int
    direction: str
    sampler: Any
    pruner: Any
    timeout: float | None
    study_name: str
    metric: str
    storage: Any
    records: list[TrialRecord] = field(default_factory=list)
    in_flight: dict[Future[TrialOutcome], tuple[int, Run, dict[str, Any]]] = field(
        default_factory=dict
    )
    # Set when the search starts.
    client: TrackingClient = field(init=False)
    executor: Executor = field(init=False)
    parent: Run = field(init=False)
    experiment: str = field(init=False)
    study: optuna.Study = field(init=False)
    local: bool = field(init=False)

    def execute(
        self, client: TrackingClient, executor: Executor, parent: str | None, experiment: str
    ) -> TuneResult:
        from loopml.pipelines._task import use_client

        self.client, self.executor = client, executor
        owned = parent is None
        self.parent = self._open_parent(parent, experiment)
        status = RunStatus.FAILED
        try:
            self._create_study()
            use_client(client)  # the local executor's trials share this process's client
            self._loop()
            result = self._record()
            status = RunStatus.FINISHED
            return result
        except KeyboardInterrupt:
            status = RunStatus.KILLED
            self._abandon()
            raise
        finally:
            if owned:
                client.end_run(self.parent.id, status)

    def _open_parent(self, parent: str | None, experiment: str) -> Run:
        tags = {
            "loopml.tune.study": self.study_name,
            "loopml.tune.direction": self.direction,
            "loopml.tune.sampler": type(self.sampler).__name__,
            "loopml.tune.pruner": type(self.pruner).__name__,
            "loopml.tune.metric": self.metric,
        }
        if parent is None:
            name = f"tune-{self.study_name}"[:250]
            tags["loopml.run_kind"] = "tune"
            return self.client.create_run(experiment, name=name, tags=tags)
        run = self.client.get_run(parent)
        if "loopml.tune.study" in run.tags:
            raise ConflictError(
                f"run {parent} already holds the study '{run.tags['loopml.tune.study']}'; "
                "start a new run for each search (with loopml.start_run())",
                details={"run_id": parent},
            )
        self.client.set_tags(parent, tags)
        return run

    def _create_study(self) -> None:
        optuna = import_optuna()
        from loopml.pipelines.executors.local import LocalExecutor

        self.local = isinstance(self.executor, LocalExecutor)
        if self.storage is None and not self.local:
            path = self.client.settings.home / "optuna" / f"{self.parent.id}.journal"
            self.storage = journal_storage(path)
            self.client.set_tag(self.parent.id, "loopml.tune.storage", str(path))
        try:
            self.study = optuna.create_study(
                storage=self.storage,
                sampler=self.sampler,
                pruner=self.pruner,
                study_name=self.study_name,
                direction=self.direction,
            )
        except optuna.exceptions.DuplicatedStudyError as err:
            raise ConflictError(
                f"the storage already holds a study named '{self.study_name}'; pass another "
                "study_name",
                details={"study_name": self.study_name},
            ) from err
        self.experiment = self.client.get_experiment(self.parent.experiment_id).name

    def _loop(self) -> None:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        asked = 0
        while True:
            while asked < self.n_trials and len(self.in_flight) < self.executor.parallelism:
                if asked and deadline is not None and time.monotonic() >= deadline:
                    self.n_trials = asked  # out of time: let the running ones finish
                    break
                self._start_trial()
                asked += 1
            if not self.in_flight:
                break
            done, _ = wait(list(self.in_flight), return_when=FIRST_COMPLETED)
            for future in [f for f in self.in_flight if f in done]:  # in submission order
                self._finish(future)

    def _start_trial(self) -> None:
        trial = self.study.ask(self.distributions)
        params = dict(trial.params)
        run = self.client.create_run(
            self.experiment,
            name=f"{self.study_name}-{trial.number}"[-250:],
            tags={
                "loopml.run_kind": "trial",
                "loopml.tune.study": self.study_name,
                "loopml.trial_number": trial.number,
            },
            parent_run_id=self.parent.id,
            params=params,
            capture_environment=False,
        )
        task = TrialTask(
            settings=self.client.settings,
            run=run,
            objective=self.objective,
            takes_trial=self.takes_trial,
            params=params,
            number=trial.number,
            trial_id=trial._trial_id,  # what optuna.trial.Trial(study, id) needs in the worker
            metric=self.metric,
            study_name=self.study_name,
            storage=None if self.local else self.storage,
            pruner=self.pruner,
            study=self.study if self.local else None,
        )
        try:
            future = self.executor.submit(run_trial, task)
        except Exception as err:  # the executor refused the task (e.g. it cannot pickle it)
            future = Future()
            future.set_exception(err)
        except BaseException:  # Ctrl-C while the local executor ran the trial
            self._kill(trial.number, run)
            raise
        self.in_flight[future] = (trial.number, run, params)

    def _finish(self, future: Future[TrialOutcome]) -> None:
        import optuna

        number, run, params = self.in_flight.pop(future)
        try:
            outcome = future.result()
        except BaseException as err:  # the executor failed, not the objective
            outcome = _failed(err, "the executor could not run the trial: ")
            if "pickle" in str(err).lower():
                outcome.error = f"{outcome.error} (define the objective at module level, so "
                outcome.error += "worker processes can import it; or use executor='local')"
        state = optuna.trial.TrialState[_OPTUNA_STATES[outcome.state]]
        value = self._tell(number, outcome.value if outcome.state == "complete" else None, state)
        tags = {"loopml.trial_state": outcome.state}
        if outcome.error is not None:
            tags["loopml.error"] = outcome.error[:2000]
            text = outcome.traceback or outcome.error
            self.client.run_artifacts.log_bytes(run.id, text.encode(), "tune/traceback.txt")
        self.client.set_tags(run.id, tags)
        failed = outcome.state == "failed"
        self.client.end_run(run.id, RunStatus.FAILED if failed else RunStatus.FINISHED)
        record = TrialRecord(number, params, value, outcome.state, run.id, outcome.error)
        self.records.append(record)

    def _tell(self, number: int, value: float | None, state: Any) -> float | None:
        """Tell Optuna how trial ``number`` ended; its value as Optuna kept it."""
        try:
            return self.study.tell(number, value, state=state).value
        except RuntimeError:
            # The grid sampler calls study.stop() once the grid is done, which Optuna
            # refuses outside study.optimize, after the trial was stored. Honour the stop.
            told = next(t for t in self.study.get_trials(deepcopy=False) if t.number == number)
            if not told.state.is_finished():
                raise
            self.n_trials = 0
            return told.value

    def _record(self) -> TuneResult:
        records = sorted(self.records, key=lambda r: r.number)
        counts = {s: sum(r.state == s for r in records) for s in ("complete", "pruned", "failed")}
        body = {
            "study": self.study_name,
            "direction": self.direction,
            "sampler": type(self.sampler).__name__,
            "pruner": type(self.pruner).__name__,
            "metric": self.metric,
            "trials": [r._asdict() for r in records],
        }
        parent = self.parent.id
        data = json.dumps(body, indent=2, default=str).encode()
        self.client.run_artifacts.log_bytes(parent, data, "tune/trials.json")
        self.client.set_tags(parent, {f"loopml.tune.{k}": v for k, v in counts.items()})
        if not counts["complete"]:
            first = next((r for r in records if r.error), None)
            raise PipelineFailedError(
                f"study '{self.study_name}': no trial completed ({counts['failed']} failed, "
                f"{counts['pruned']} pruned)"
                + (f"; trial {first.number} failed with {first.error}" if first else "")
                + f"; see the runs under run {parent} (artifact tune/traceback.txt)",
                run_id=parent,
                details={"counts": counts},
            )
        best = self.study.best_trial
        best_run = next(r.run_id for r in records if r.number == best.number)
        self.client.log_params(parent, {f"best.{k}": v for k, v in best.params.items()})
        self.client.log_metric(parent, "best_value", best.value)
        self.client.set_tag(parent, "loopml.tune.best_run_id", best_run)
        assert best.value is not None  # a completed trial has a value
        return TuneResult(
            dict(best.params), best.value, best_run, parent, self.study_name, records, self.study
        )

    def _abandon(self) -> None:
        for number, run, _ in self.in_flight.values():
            self._kill(number, run)
        self.in_flight.clear()

    def _kill(self, number: int, run: Run) -> None:
        # Best effort while being interrupted.
        with contextlib.suppress(Exception):
            self.study.tell(number, state=import_optuna().trial.TrialState.FAIL)
        with contextlib.suppress(Exception):
            self.client.end_run(run.id, RunStatus.KILLED)


_OPTUNA_STATES = {"complete": "COMPLETE", "pruned": "PRUNED", "failed": "FAIL"}


def _failed(err: BaseException, prefix: str = "") -> TrialOutcome:
    return TrialOutcome(
        "failed",
        error=f"{prefix}{type(err).__name__}: {err}",
        traceback="".join(traceback.format_exception(err)),
    )
