"""Renaming, deleting and restoring experiments and runs (the MLflow API needs these)."""

from __future__ import annotations

import pytest

from loopml.errors import ConflictError, NotFoundError
from loopml.tracking import TrackingClient


def test_rename_experiment_keeps_id_and_refuses_taken_names(client: TrackingClient) -> None:
    exp = client.create_experiment("churn")
    client.create_experiment("fraud")
    renamed = client.rename_experiment("churn", "churn-v2")
    assert (renamed.id, renamed.name) == (exp.id, "churn-v2")
    assert client.get_experiment(exp.id).name == "churn-v2"
    with pytest.raises(NotFoundError):
        client.get_experiment("churn")
    with pytest.raises(ConflictError, match="fraud"):
        client.rename_experiment("churn-v2", "fraud")


def test_delete_and_restore_experiment(client: TrackingClient) -> None:
    exp = client.create_experiment("churn")
    client.delete_experiment("churn")
    assert client.get_experiment(exp.id).deleted_at is not None
    assert [e.name for e in client.list_experiments()] == []
    assert [e.name for e in client.search_experiments(include_deleted=True)] == ["churn"]
    client.restore_experiment(exp.id)
    assert client.get_experiment("churn").deleted_at is None
    assert [e.name for e in client.search_experiments()] == ["churn"]


def test_restore_and_rename_run(client: TrackingClient) -> None:
    run = client.create_run("churn", name="a")
    client.rename_run(run.id, "baseline")
    assert client.get_run(run.id).name == "baseline"
    client.delete_run(run.id)
    assert client.search_runs("churn") == []
    client.restore_run(run.id)
    assert [r.id for r in client.search_runs("churn")] == [run.id]
    assert client.get_run(run.id).deleted_at is None
    with pytest.raises(NotFoundError):
        client.restore_run("01NOSUCHRUN0000000000000000")
