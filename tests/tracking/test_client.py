"""Tracking client contract: the same behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

import math

import pytest

from loopml.errors import ConflictError, InvalidInputError, LoopmlError, NotFoundError
from loopml.tracking import RunStatus, TrackingClient


def test_experiments_are_created_once_and_found_by_name_or_id(client: TrackingClient) -> None:
    exp = client.create_experiment("churn", description="first")
    assert client.get_experiment("churn") == exp
    assert client.get_experiment(exp.id) == exp
    with pytest.raises(ConflictError, match="already exists"):
        client.create_experiment("churn")
    assert client.get_or_create_experiment("churn") == exp
    assert [e.name for e in client.list_experiments()] == ["churn"]


def test_unknown_experiment_suggests_close_names(client: TrackingClient) -> None:
    client.create_experiment("churn-model")
    with pytest.raises(NotFoundError, match="did you mean: churn-model"):
        client.get_experiment("churn-modle")


def test_run_lifecycle_records_times_status_and_environment(client: TrackingClient) -> None:
    run = client.create_run("exp", name="baseline", tags={"team": "growth"})
    assert run.status is RunStatus.RUNNING
    stored = client.get_run(run.id)
    assert stored.name == "baseline"
    assert stored.tags["team"] == "growth"
    assert stored.tags["loopml.python"]
    assert stored.end_time is None
    client.end_run(run.id, "failed")
    ended = client.get_run(run.id)
    assert ended.status is RunStatus.FAILED
    assert ended.end_time is not None
    assert ended.end_time >= ended.start_time


def test_params_are_immutable_but_relogging_the_same_value_is_fine(client: TrackingClient) -> None:
    run = client.create_run()
    client.log_params(run.id, {"lr": 0.1, "model": "rf"})
    client.log_param(run.id, "lr", 0.1)
    with pytest.raises(ConflictError, match=r"param 'lr' .* already '0.1'"):
        client.log_param(run.id, "lr", 0.2)
    assert client.get_run(run.id).params == {"lr": "0.1", "model": "rf"}


def test_tags_can_change_and_be_deleted(client: TrackingClient) -> None:
    run = client.create_run()
    client.set_tag(run.id, "stage", "dev")
    client.set_tags(run.id, {"stage": "prod", "owner": "ana"})
    client.delete_tag(run.id, "owner")
    tags = client.get_run(run.id).tags
    assert tags["stage"] == "prod"
    assert "owner" not in tags


def test_metric_history_keeps_every_point_in_step_order(client: TrackingClient) -> None:
    run = client.create_run()
    for step in (2, 0, 1):
        client.log_metric(run.id, "loss", 1.0 / (step + 1), step=step)
    history = client.get_metric_history(run.id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, 1 / 3)]
    assert client.get_run(run.id).metrics["loss"] == pytest.approx(1 / 3)


def test_nan_and_infinities_are_stored_faithfully(client: TrackingClient) -> None:
    run = client.create_run()
    client.log_metric(run.id, "a", math.nan, step=0)
    client.log_metric(run.id, "a", math.inf, step=1)
    client.log_metric(run.id, "a", -math.inf, step=2)
    client.log_metric(run.id, "b", math.nan)
    values = [m.value for m in client.get_metric_history(run.id, "a")]
    assert math.isnan(values[0])
    assert values[1:] == [math.inf, -math.inf]
    latest = client.get_run(run.id).metrics
    assert latest["a"] == -math.inf
    assert math.isnan(latest["b"])


def test_latest_metric_is_the_highest_step_not_the_last_logged(client: TrackingClient) -> None:
    run = client.create_run()
    client.log_metric(run.id, "acc", 0.9, step=5)
    client.flush()
    client.log_metric(run.id, "acc", 0.1, step=1)
    assert client.get_run(run.id).metrics["acc"] == 0.9


def test_numpy_scalars_are_numbers(client: TrackingClient) -> None:
    import numpy as np

    run = client.create_run()
    client.log_metrics(run.id, {"f32": np.float32(0.5), "i64": np.int64(3), "flag": True})
    assert client.get_run(run.id).metrics == {"f32": 0.5, "flag": 1.0, "i64": 3.0}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("acc", "high", "metric 'acc' must be a number, got str"),
        ("acc", None, "metric 'acc' must be a number, got NoneType"),
        ("acc", [1.0], "metric 'acc' must be a number, got list"),
        ("k" * 251, 1.0, "is too long; the limit is 250 characters"),
        ("bad\tkey", 1.0, "is not allowed"),
        ("../up", 1.0, "is not allowed"),
    ],
)
def test_bad_metrics_raise_clear_errors_and_store_nothing(
    client: TrackingClient, key: str, value: object, message: str
) -> None:
    run = client.create_run()
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(")):
        client.log_metric(run.id, key, value)
    assert client.get_run(run.id).metrics == {}


def test_bad_step_is_refused(client: TrackingClient) -> None:
    run = client.create_run()
    with pytest.raises(InvalidInputError, match="step must be an integer"):
        client.log_metric(run.id, "acc", 1.0, step=1.5)  # type: ignore[arg-type]


def test_unknown_run_id_is_not_found_everywhere(client: TrackingClient) -> None:
    calls = [
        lambda: client.get_run("NOPE"),
        lambda: client.log_metric("NOPE", "acc", 1.0),
        lambda: client.log_param("NOPE", "lr", 1),
        lambda: client.set_tag("NOPE", "a", "b"),
        lambda: client.end_run("NOPE"),
        lambda: client.get_metric_history("NOPE", "acc"),
    ]
    for call in calls:
        with pytest.raises(NotFoundError, match="run 'NOPE' not found"):
            call()


def test_errors_are_loopml_errors_not_driver_errors(client: TrackingClient) -> None:
    run = client.create_run()
    with pytest.raises(LoopmlError):
        client.log_param(run.id, "p" * 300, "x")
    with pytest.raises(LoopmlError):
        client.log_param(run.id, "big", "x" * 7000)
    with pytest.raises(LoopmlError):
        client.end_run(run.id, "exploded")


def test_deleted_runs_are_hidden_and_audited(client: TrackingClient) -> None:
    from loopml.store.audit import history

    keep, gone = client.create_run("e"), client.create_run("e")
    client.delete_run(gone.id, reason="bad data")
    assert [r.id for r in client.search_runs("e")] == [keep.id]
    assert {r.id for r in client.search_runs("e", include_deleted=True)} == {keep.id, gone.id}
    with pytest.raises(NotFoundError, match="deleted"):
        client.log_metric(gone.id, "acc", 1.0)
    with client.store.read() as conn:
        rows = history(conn, "run", gone.id)
    assert [(r["action"], r["reason"]) for r in rows] == [("run.delete", "bad data")]


def test_search_runs_filters_orders_and_limits(client: TrackingClient) -> None:
    ids = {}
    for i, model in enumerate(["rf", "rf", "lr", "rf"]):
        run = client.create_run("search")
        client.log_params(run.id, {"model": model})
        client.log_metric(run.id, "acc", 0.7 + i * 0.1)
        ids[i] = run.id
    found = client.search_runs(
        "search", filter="metrics.acc > 0.75 and params.model = 'rf'", order_by="metrics.acc desc"
    )
    assert [r.id for r in found] == [ids[3], ids[1]]
    assert found[0].metrics["acc"] == pytest.approx(1.0)
    assert len(client.search_runs("search", max_results=2)) == 2
    with pytest.raises(InvalidInputError):
        client.search_runs("search", filter="metrics.acc >")
    with pytest.raises(InvalidInputError, match="max_results"):
        client.search_runs("search", max_results=0)


def test_search_runs_as_frame(client: TrackingClient) -> None:
    run = client.create_run("frames")
    client.log_params(run.id, {"model": "rf"})
    client.log_metric(run.id, "acc", 0.5)
    frame = client.search_runs("frames", as_frame=True)
    assert list(frame["run_id"]) == [run.id]
    assert frame.loc[0, "params.model"] == "rf"
    assert frame.loc[0, "metrics.acc"] == 0.5


def test_nested_runs_record_their_parent(client: TrackingClient) -> None:
    parent = client.create_run("nest")
    child = client.create_run("nest", parent_run_id=parent.id)
    assert client.get_run(child.id).parent_run_id == parent.id
    found = client.search_runs("nest", filter=f"attributes.parent_run_id = '{parent.id}'")
    assert [r.id for r in found] == [child.id]
