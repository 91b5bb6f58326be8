"""The orchestrator on a real store (SQLite and PostgreSQL): caching, failures, lineage."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _steps import arithmetic, branches, executions, frames, from_dataset, gated

import loopml
from loopml.config import Settings
from loopml.data import DatasetClient
from loopml.errors import InvalidInputError, PipelineFailedError
from loopml.pipelines import StepStatus, resume
from loopml.store.lineage import edges_of
from loopml.tracking import TrackingClient


@pytest.fixture
def counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "counts"
    folder.mkdir()
    monkeypatch.setenv("LOOPML_TEST_COUNTS", str(folder))
    return folder


def test_a_run_computes_tracks_and_stores_every_step(settings: Settings) -> None:
    run = arithmetic.run({"n": 4}, settings=settings)
    assert run.status == "finished"
    assert run.load("total") == sum(v + 1 for v in range(4))
    assert run.load("sum_squares") == sum(v * v + 1 for v in range(4))
    assert [run.load(f"square[{i}]") for i in range(4)] == [0, 1, 4, 9]
    client = TrackingClient(settings)
    pipeline_run = client.get_run(run.id)
    assert pipeline_run.params["n"] == "4"
    assert pipeline_run.tags["loopml.run_kind"] == "pipeline"
    step = run.steps["numbers"]
    step_run = client.get_run(step.run_id or "")
    assert step_run.parent_run_id == run.id
    assert step_run.params == {"n": "4"}
    assert step_run.status.value == "finished"


def test_a_second_run_is_fully_cached_and_skips_execution(settings: Settings, counts: Path) -> None:
    first = arithmetic.run({"n": 3}, settings=settings)
    second = arithmetic.run({"n": 3}, settings=settings)
    assert executions(counts, "numbers") == 1
    assert executions(counts, "square") == 3
    assert {s.status for s in second.steps.values()} == {StepStatus.CACHED, StepStatus.COMPLETED}
    cached = second.steps["total"]
    assert cached.status is StepStatus.CACHED
    assert cached.cached_from == first.steps["total"].run_id
    assert second.load("sum_squares") == first.load("sum_squares")


def test_a_changed_param_reruns_only_what_depends_on_it(settings: Settings, counts: Path) -> None:
    frames.run({"n": 10, "column": "b"}, settings=settings)
    second = frames.run({"n": 10, "column": "a"}, settings=settings)
    assert second.steps["frame"].status is StepStatus.CACHED
    assert second.steps["column_sum"].status is StepStatus.COMPLETED
    assert second.load("column_sum") == float(sum(range(10)))
    assert executions(counts, "frame") == 1


def test_no_cache_runs_everything(settings: Settings, counts: Path) -> None:
    arithmetic.run({"n": 2}, settings=settings)
    again = arithmetic.run({"n": 2}, settings=settings, cache=False)
    assert executions(counts, "numbers") == 2
    assert again.steps["numbers"].reason == "cache disabled for this run (--no-cache)"


def test_a_step_whose_outputs_are_gone_runs_again(sqlite_settings: Settings, counts: Path) -> None:
    first = frames.run({"n": 50}, settings=sqlite_settings)
    ref = first.steps["frame"].outputs["output"]
    assert not ref.is_inline
    blob = sqlite_settings.home / "artifacts"
    removed = list(blob.rglob(ref.digest[2:]))
    assert removed, "the DataFrame output is a blob in the artifact store"
    for path in removed:
        path.unlink()
    second = frames.run({"n": 50}, settings=sqlite_settings)
    assert second.steps["frame"].status is StepStatus.COMPLETED
    assert "gone" in (second.steps["frame"].reason or "")
    assert executions(counts, "frame") == 2


def test_a_failure_stops_dependents_while_independent_branches_finish(
    settings: Settings,
) -> None:
    Path("fail.flag").touch()
    with pytest.raises(PipelineFailedError) as caught:
        branches.run(settings=settings)
    assert caught.value.details["failed_steps"] == ["explode"]
    assert "loopml pipeline resume" in str(caught.value)
    client = TrackingClient(settings)
    with client.store.read() as conn:
        from loopml.pipelines.records import get_pipeline_run

        info = get_pipeline_run(conn, caught.value.run_id)
    assert info.status == "failed"
    failed = info.steps["explode"]
    assert failed.status is StepStatus.FAILED
    assert re.fullmatch(
        r"ValueError: explode got 6 \(at .*_steps\.py:\d+, in explode\)", failed.error or ""
    ), failed.error
    assert "raise ValueError" in (failed.traceback or "")
    assert client.get_run(failed.run_id or "").status.value == "failed"
    assert info.steps["square"].status is StepStatus.SKIPPED
    assert "upstream step 'explode' failed" in (info.steps["square"].reason or "")
    assert info.steps["column_sum"].status is StepStatus.COMPLETED


def test_resume_reuses_finished_steps_and_runs_the_rest(settings: Settings, counts: Path) -> None:
    Path("fail.flag").touch()
    failed = branches.run(settings=settings, raise_on_failure=False)
    Path("fail.flag").unlink()
    resumed = resume(failed.id, settings=settings)
    assert resumed.status == "finished"
    assert resumed.info.resumed_from == failed.id
    assert resumed.steps["numbers"].status is StepStatus.CACHED
    assert "resume" in (resumed.steps["numbers"].reason or "")
    assert resumed.steps["explode"].status is StepStatus.COMPLETED
    assert resumed.load("square") == 36
    assert executions(counts, "numbers") == 1
    assert executions(counts, "explode") == 2


def test_retries_and_timeouts(sqlite_settings: Settings) -> None:
    @loopml.pipeline
    def retried() -> None:
        from _steps import flaky, sleepy

        flaky(7)
        sleepy(5.0)

    run = retried.run(settings=sqlite_settings, raise_on_failure=False)
    assert run.steps["flaky"].status is StepStatus.COMPLETED
    assert run.steps["flaky"].attempts == 3
    slow = run.steps["sleepy"]
    assert slow.status is StepStatus.FAILED
    assert "timeout of 0.3s" in (slow.error or "")


def test_conditions_skip_the_branch_not_taken(settings: Settings) -> None:
    run = gated.run({"n": 4}, settings=settings)
    assert run.load("square") == 9
    assert run.steps["square_2"].status is StepStatus.SKIPPED
    assert "condition positive.output is True" in (run.steps["square_2"].reason or "")


def test_metrics_and_logs_of_a_step_land_on_its_run(settings: Settings) -> None:
    run = frames.run({"n": 7}, settings=settings)
    client = TrackingClient(settings)
    step_run = client.get_run(run.steps["column_sum"].run_id or "")
    assert step_run.metrics["rows"] == 7
    assert (
        "summing b over 7 rows"
        in client.run_artifacts.read_bytes(step_run.id, "logs/step.log").decode()
    )
    outputs = client.run_artifacts.list(run.steps["frame"].run_id or "", "outputs")
    assert [a.path for a in outputs] == ["outputs/output.parquet"]


def test_lineage_joins_inputs_step_and_outputs_down_to_dataset_versions(
    settings: Settings,
) -> None:
    import pandas as pd

    datasets = DatasetClient(settings)
    v1 = datasets.log("points", pd.DataFrame({"x": [1, 2, 3]}))
    first = from_dataset.run(settings=settings)
    assert first.load("rows_of") == 3
    step = first.steps["rows_of"]
    client = TrackingClient(settings)
    with client.store.read() as conn:
        edges = edges_of(conn, ("run", step.run_id or ""), "out")
    consumed = {(e["dst_kind"], e["dst_id"]) for e in edges if e["edge"] == "consumed"}
    produced = {(e["dst_kind"], e["dst_id"]) for e in edges if e["edge"] == "produced"}
    assert ("dataset_version", f"points/{v1.version}") in consumed
    assert produced == {("step_output", f"{step.run_id}/output")}
    # a new version of the dataset is a new input: the step runs again
    datasets.log("points", pd.DataFrame({"x": [1, 2, 3, 4]}))
    second = from_dataset.run(settings=settings)
    assert second.steps["rows_of"].status is StepStatus.COMPLETED
    assert second.load("rows_of") == 4


def test_downstream_steps_consume_the_upstream_outputs(sqlite_settings: Settings) -> None:
    run = frames.run({"n": 3}, settings=sqlite_settings)
    producer = run.steps["frame"].run_id
    consumer = run.steps["column_sum"].run_id
    client = TrackingClient(sqlite_settings)
    with client.store.read() as conn:
        edges = edges_of(conn, ("step_output", f"{producer}/output"), "in")
    assert {(e["src_id"], e["edge"]) for e in edges} == {
        (producer, "produced"),
        (consumer, "consumed"),
    }


def test_params_from_a_config_file_and_bad_params(sqlite_settings: Settings) -> None:
    Path("params.toml").write_text("[params]\nn = 5\n")
    run = arithmetic.run(config="params.toml", settings=sqlite_settings)
    assert run.load("numbers") == [0, 1, 2, 3, 4]
    assert arithmetic.run({"n": 2}, config="params.toml", settings=sqlite_settings).load(
        "numbers"
    ) == [0, 1]
    with pytest.raises(InvalidInputError, match="its parameters are: n"):
        arithmetic.run({"m": 1}, settings=sqlite_settings)


def test_an_output_no_materializer_accepts_fails_the_step_with_its_type(
    sqlite_settings: Settings,
) -> None:
    @loopml.step
    def opaque() -> object:
        return object()

    @loopml.pipeline
    def odd() -> None:
        opaque()

    run = odd.run(settings=sqlite_settings, raise_on_failure=False)
    error = run.steps["opaque"].error or ""
    assert "step 'opaque' returned output 'output' of type object" in error
    assert "allow_pickle=True" in error


def test_the_executor_comes_from_the_argument_the_setting_or_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = arithmetic.run({"n": 2}, settings=Settings.load(home=tmp_path / "a"))
    assert default.info.executor == "local"
    monkeypatch.setenv("LOOPML_EXECUTOR", "process://2")
    from_env = arithmetic.run({"n": 2}, settings=Settings.load(home=tmp_path / "b"))
    assert from_env.info.executor == "process://2"
    explicit = arithmetic.run(
        {"n": 2}, settings=Settings.load(home=tmp_path / "c"), executor="local"
    )
    assert explicit.info.executor == "local"
    with pytest.raises(InvalidInputError, match="unknown executor 'spark://x'"):
        arithmetic.run({"n": 2}, settings=Settings.load(home=tmp_path / "d"), executor="spark://x")
