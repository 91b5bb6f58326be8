"""Hyperparameter search: trials as child runs, parallel on executors, pruning, failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import optuna
import pytest
from _tune_objectives import (
    always_fails,
    flaky,
    interrupted,
    quadratic,
    quadratic_in_worker,
    reports_x,
    worse_each_trial,
)

import loopml
from loopml.config import Settings
from loopml.errors import (
    ConflictError,
    InvalidInputError,
    MissingDependencyError,
    PipelineFailedError,
)
from loopml.pipelines._search_space import to_distributions
from loopml.pipelines._task import worker_client
from loopml.pipelines.tune import choice, int_range, loguniform, tune, uniform
from loopml.tracking import TrackingClient
from loopml.tracking.models import Run


def _children(client: TrackingClient, parent_id: str) -> list[Run]:
    runs = client.search_runs(filter="tags.loopml.run_kind = 'trial'")
    return sorted(
        (r for r in runs if r.parent_run_id == parent_id),
        key=lambda r: int(r.tags["loopml.trial_number"]),
    )


# -- finding the optimum ----------------------------------------------------------------


def test_grid_search_finds_the_known_minimum_exactly(sqlite_settings: Settings) -> None:
    # 10 integers: the grid sampler tries each once (n_trials is capped to the grid), so
    # the minimum of (x - 2)^2 is found exactly.
    result = tune(
        quadratic,
        {"x": int_range(-3, 6)},
        direction="minimize",
        sampler="grid",
        n_trials=50,
        seed=1,
        settings=sqlite_settings,
    )
    assert result.best_params == {"x": 2}
    assert result.best_value == 0.0
    assert sorted(t.params["x"] for t in result.trials) == list(range(-3, 7))
    assert {t.state for t in result.trials} == {"complete"}


def test_tpe_search_gets_near_the_minimum(sqlite_settings: Settings) -> None:
    # 40 trials in [-10, 10]: even pure random sampling lands within 0.5 of x = 2 with
    # probability 1 - 0.95**40 = 0.87; TPE narrows in after its 10 random start-up trials
    # (seeds 0-5 all end within 0.1 of 2), and the seed makes the run reproducible.
    result = tune(
        quadratic,
        {"x": uniform(-10, 10)},
        direction="minimize",
        sampler="tpe",
        seed=0,
        n_trials=40,
        settings=sqlite_settings,
    )
    assert result.best_params["x"] == pytest.approx(2, abs=0.5)
    assert result.best_value == pytest.approx((result.best_params["x"] - 2) ** 2)
    assert len(result.trials) == 40


# -- what is tracked ---------------------------------------------------------------------


def test_every_trial_is_a_child_run_and_the_parent_holds_the_study(settings: Settings) -> None:
    result = tune(
        quadratic,
        {"x": choice([0, 1, 2, 3])},
        direction="minimize",
        sampler="grid",
        study_name="quad",
        settings=settings,
    )
    client = worker_client(settings)
    parent = client.get_run(result.parent_run_id)
    assert parent.name == "tune-quad"
    assert client.get_experiment(parent.experiment_id).name == "tune"
    assert str(parent.status) == "finished"
    assert parent.params == {"best.x": "2"}
    assert parent.metrics["best_value"] == 0.0
    assert parent.tags["loopml.tune.study"] == "quad"
    assert parent.tags["loopml.tune.direction"] == "minimize"
    assert parent.tags["loopml.tune.sampler"] == "GridSampler"
    assert parent.tags["loopml.tune.pruner"] == "NopPruner"
    assert parent.tags["loopml.tune.best_run_id"] == result.best_run_id

    children = _children(client, parent.id)
    assert [c.id for c in children] == [t.run_id for t in result.trials]
    for child, trial in zip(children, result.trials, strict=True):
        assert str(child.status) == "finished"
        assert child.params == {"x": str(trial.params["x"])}
        assert child.metrics["objective"] == trial.value == (trial.params["x"] - 2) ** 2
        assert child.tags["loopml.trial_state"] == "complete"
    best = client.get_run(result.best_run_id)
    assert best.params == {"x": "2"}

    recorded = json.loads(client.run_artifacts.read_bytes(parent.id, "tune/trials.json"))
    assert recorded["study"] == "quad"
    assert [t["run_id"] for t in recorded["trials"]] == [c.id for c in children]
    assert result.to_frame().columns.tolist() == [
        "number", "value", "state", "run_id", "error", "params.x",
    ]  # fmt: skip


def test_trials_nest_under_the_active_run_and_log_through_the_fluent_api() -> None:
    with loopml.start_run(experiment="mine") as run:
        result = tune(quadratic_in_worker, {"x": [1.0, 2.0]}, sampler="grid", direction="minimize")
        with pytest.raises(ConflictError, match="already holds the study"):
            tune(quadratic, {"x": [1.0]}, sampler="grid")
    assert result.parent_run_id == run.id
    assert str(loopml.get_run(run.id).status) == "finished"
    assert loopml.get_run(run.id).params == {"best.x": "2.0"}
    client = run.client
    children = _children(client, run.id)
    assert len(children) == 2
    for child in children:
        assert client.get_experiment(child.experiment_id).name == "mine"
        assert child.metrics["inner"] == float(child.params["x"])
        assert child.tags["pid"] == str(os.getpid())  # the local executor: this process


# -- parallel trials -----------------------------------------------------------------------


def test_trials_run_in_parallel_on_worker_processes(settings: Settings) -> None:
    result = tune(
        quadratic_in_worker,
        {"x": uniform(-5, 5)},
        direction="minimize",
        executor="process://2",
        sampler="random",
        seed=3,
        n_trials=6,
        settings=settings,
    )
    client = worker_client(settings)
    children = _children(client, result.parent_run_id)
    assert len(children) == 6
    assert {c.tags["loopml.trial_state"] for c in children} == {"complete"}
    assert str(os.getpid()) not in {c.tags["pid"] for c in children}
    for child in children:
        assert child.metrics["inner"] == pytest.approx(float(child.params["x"]))
        assert child.metrics["objective"] == pytest.approx((float(child.params["x"]) - 2) ** 2)
    parent = client.get_run(result.parent_run_id)
    assert parent.tags["loopml.tune.storage"].endswith(".journal")
    assert result.best_value == min(t.value for t in result.trials if t.value is not None)


# -- pruning -------------------------------------------------------------------------------


def test_median_pruner_stops_trials_worse_than_the_median(sqlite_settings: Settings) -> None:
    # Each trial reports its own number: once the median pruner's 5 start-up trials have
    # completed, every later trial is worse than their median at step 0 and is pruned there.
    result = tune(
        worse_each_trial,
        {"x": uniform(0, 1)},
        direction="minimize",
        pruner="median",
        n_trials=8,
        settings=sqlite_settings,
    )
    states = [t.state for t in result.trials]
    assert states == ["complete"] * 5 + ["pruned"] * 3
    assert [t.value for t in result.trials] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert result.best_value == 0.0
    client = worker_client(sqlite_settings)
    pruned = client.get_run(result.trials[5].run_id)
    assert str(pruned.status) == "finished"
    assert pruned.tags["loopml.trial_state"] == "pruned"
    assert [m.step for m in client.get_metric_history(pruned.id, "objective")] == [0]
    done = result.trials[0].run_id
    assert [m.step for m in client.get_metric_history(done, "objective")] == [0, 1, 2, 3]
    assert client.get_run(result.parent_run_id).tags["loopml.tune.pruned"] == "3"


def test_pruning_works_in_worker_processes(sqlite_settings: Settings) -> None:
    result = tune(
        reports_x,
        {"x": [0.5, 5.0, 0.25, 7.0]},
        sampler="grid",
        pruner=optuna.pruners.ThresholdPruner(upper=1.0),
        executor="process://2",
        settings=sqlite_settings,
    )
    states = {t.params["x"]: t.state for t in result.trials}
    assert states == {0.5: "complete", 0.25: "complete", 5.0: "pruned", 7.0: "pruned"}
    assert result.best_params == {"x": 0.5}  # maximize by default; pruned trials never win


# -- failures ------------------------------------------------------------------------------


def test_failed_trials_are_recorded_and_the_study_goes_on(sqlite_settings: Settings) -> None:
    result = tune(
        flaky,
        {"x": [-1, 1, 2, 3]},
        direction="minimize",
        sampler="grid",
        settings=sqlite_settings,
    )
    assert result.best_params == {"x": 2}
    by_x = {t.params["x"]: t for t in result.trials}
    assert [by_x[x].state for x in (-1, 1, 2, 3)] == ["failed", "complete", "complete", "failed"]
    assert by_x[-1].error == "ValueError: x=-1 is negative"
    assert "NaN" in (by_x[3].error or "")
    client = worker_client(sqlite_settings)
    failed = client.get_run(by_x[-1].run_id)
    assert str(failed.status) == "failed"
    assert failed.tags["loopml.trial_state"] == "failed"
    assert failed.tags["loopml.error"] == "ValueError: x=-1 is negative"
    traceback = client.run_artifacts.read_bytes(failed.id, "tune/traceback.txt").decode()
    assert "Traceback" in traceback
    assert "is negative" in traceback
    assert client.get_run(result.parent_run_id).tags["loopml.tune.failed"] == "2"


def test_a_study_where_every_trial_fails_raises(sqlite_settings: Settings) -> None:
    with pytest.raises(PipelineFailedError, match="no trial completed") as caught:
        tune(always_fails, {"x": (0, 3)}, n_trials=3, settings=sqlite_settings)
    assert "RuntimeError: boom" in str(caught.value)
    client = worker_client(sqlite_settings)
    parent = client.get_run(caught.value.run_id)
    assert str(parent.status) == "failed"
    trials = json.loads(client.run_artifacts.read_bytes(parent.id, "tune/trials.json"))["trials"]
    assert [t["state"] for t in trials] == ["failed"] * 3


def test_ctrl_c_kills_the_running_trial_and_the_parent(sqlite_settings: Settings) -> None:
    with pytest.raises(KeyboardInterrupt):
        tune(interrupted, {"x": [1]}, study_name="stopped", settings=sqlite_settings)
    client = worker_client(sqlite_settings)
    (parent,) = client.search_runs("tune", filter="tags.loopml.run_kind = 'tune'")
    assert str(parent.status) == "killed"
    assert [str(c.status) for c in _children(client, parent.id)] == ["killed"]


def test_an_objective_workers_cannot_import_fails_every_trial(sqlite_settings: Settings) -> None:
    with pytest.raises(PipelineFailedError, match="define the objective at module level"):
        tune(
            lambda params: 1.0,
            {"x": [1, 2]},
            executor="process://2",
            sampler="grid",
            settings=sqlite_settings,
        )


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"x": (5, 1)}, "parameter 'x': low must be below high"),
        ({"x": (1,)}, "parameter 'x': cannot use"),
        ({"x": "relu"}, "parameter 'x': cannot use 'relu'"),
        ({"x": []}, "parameter 'x': choice"),
        ({"lr": loguniform(0, 1)}, "parameter 'lr': loguniform needs low > 0"),
        ({"n": int_range(1.5, 3)}, "parameter 'n': int_range needs integers"),
        ({"n": int_range(1, 9, step=0)}, "parameter 'n': int_range step"),
        ({"x": uniform(0, float("inf"))}, "parameter 'x': the bounds must be finite"),
        ({"opt": [object()]}, "parameter 'opt': choices must be"),
        ({}, "non-empty dict"),
        ([("x", (0, 1))], "non-empty dict"),
        ({"bad name!": [1]}, "param name 'bad name!' is not allowed"),
    ],
)
def test_bad_search_spaces_are_refused_before_any_run(
    space: object, message: str, sqlite_settings: Settings
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        tune(quadratic, space, settings=sqlite_settings)  # type: ignore[arg-type]
    assert message in str(caught.value)
    if "parameter" in message:  # a valid example follows
        assert "valid specs: e.g. uniform(0.0, 1.0), loguniform(1e-4, 1e-1)" in str(caught.value)
    assert worker_client(sqlite_settings).search_runs() == []


def test_search_space_shorthands() -> None:
    d = to_distributions(
        {
            "i": (1, 10),
            "f": (0, 1.5),
            "c": ["a", "b"],
            "o": optuna.distributions.FloatDistribution(1e-3, 1.0, log=True),
            "s": uniform(0, 1, step=0.25),
        }
    )
    assert isinstance(d["i"], optuna.distributions.IntDistribution)
    assert (d["i"].low, d["i"].high) == (1, 10)
    assert isinstance(d["f"], optuna.distributions.FloatDistribution)
    assert isinstance(d["c"], optuna.distributions.CategoricalDistribution)
    assert d["c"].choices == ("a", "b")
    assert d["o"].log
    assert d["s"].step == 0.25


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sampler": "tpee"}, "unknown sampler 'tpee'; did you mean: tpe?"),
        ({"pruner": "medain"}, "unknown pruner 'medain'; did you mean: median?"),
        ({"pruner": "hyper_band"}, "did you mean: hyperband?"),
        ({"direction": "minimise"}, "unknown direction 'minimise'; did you mean: minimize?"),
        ({"sampler": "grid"}, "parameter 'x': the grid sampler needs a finite set of values"),
        ({"n_trials": 0}, "n_trials must be an integer >= 1"),
        ({"timeout": 0}, "timeout must be > 0"),
        ({"metric": "a..b/../c"}, "metric name"),
        ({"parent_run": 3}, "parent_run must be an ActiveRun or a run id"),
    ],
)
def test_bad_options_are_refused_with_close_matches(
    options: dict[str, object], message: str, sqlite_settings: Settings
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        tune(quadratic, {"x": uniform(0, 1)}, settings=sqlite_settings, **options)  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_objective_must_take_params_or_params_and_trial(sqlite_settings: Settings) -> None:
    def three(params: object, trial: object, extra: object) -> float:
        return 0.0

    with pytest.raises(InvalidInputError, match=r"must take \(params\) or \(params, trial\)"):
        tune(three, {"x": [1]}, settings=sqlite_settings)
    with pytest.raises(InvalidInputError, match="objective must be a function"):
        tune("quadratic", {"x": [1]}, settings=sqlite_settings)  # type: ignore[arg-type]


def test_cmaes_needs_its_package(sqlite_settings: Settings) -> None:
    try:
        import cmaes  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependencyError, match="cmaes"):
            tune(quadratic, {"x": uniform(0, 4)}, sampler="cmaes", settings=sqlite_settings)
        return
    result = tune(
        quadratic, {"x": uniform(0, 4)}, sampler="cmaes", n_trials=3, settings=sqlite_settings
    )
    assert len(result.trials) == 3


# -- time and imports ------------------------------------------------------------------------


def test_no_new_trial_starts_after_the_timeout(sqlite_settings: Settings) -> None:
    # The first trial always starts; by its end a nanosecond has long passed.
    result = tune(quadratic, {"x": (0, 4)}, n_trials=5, timeout=1e-9, settings=sqlite_settings)
    assert len(result.trials) == 1


def test_importing_loopml_and_tune_does_not_import_optuna() -> None:
    code = "import sys, loopml, loopml.pipelines.tune; print('optuna' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
