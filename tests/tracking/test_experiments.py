"""set_experiment, experiment tags and search_experiments (MLflow's fluent calls)."""

from __future__ import annotations

import pytest

import loopml
from loopml.errors import InvalidInputError, NotFoundError
from loopml.tracking import TrackingClient


def test_set_experiment_creates_it_and_later_runs_go_there() -> None:
    experiment = loopml.set_experiment("churn")

    assert experiment.name == "churn"
    with loopml.start_run() as run:
        pass
    assert loopml.get_run(run.id).experiment_id == experiment.id
    # an explicit experiment still wins
    with loopml.start_run(experiment="other") as other:
        pass
    assert loopml.get_run(other.id).experiment_id != experiment.id


def test_set_experiment_returns_the_existing_one_and_beats_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = loopml.set_experiment("churn")
    monkeypatch.setenv("LOOPML_EXPERIMENT", "from-env")

    again = loopml.set_experiment("churn")
    with loopml.start_run() as run:
        pass

    assert again.id == first.id
    assert loopml.get_run(run.id).experiment_id == first.id


def test_set_experiment_by_id_and_its_errors() -> None:
    created = loopml.set_experiment("by-name")
    assert loopml.set_experiment(experiment_id=created.id).name == "by-name"

    with pytest.raises(NotFoundError, match="no-such-id"):
        loopml.set_experiment(experiment_id="no-such-id")
    with pytest.raises(InvalidInputError, match="exactly one"):
        loopml.set_experiment()
    with pytest.raises(InvalidInputError, match="exactly one"):
        loopml.set_experiment("a", experiment_id=created.id)
    with pytest.raises(InvalidInputError, match="must be a string"):
        loopml.set_experiment(5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="experiment name"):
        loopml.set_experiment("   ")


def test_experiment_tags_are_set_replaced_and_returned() -> None:
    loopml.set_experiment("tagged")
    loopml.set_experiment_tags({"team": "risk", "stage": "dev"})
    experiment = loopml.set_experiment_tag("stage", "prod")

    assert experiment.tags == {"stage": "prod", "team": "risk"}
    assert loopml.TrackingClient().get_experiment("tagged").tags == experiment.tags
    with pytest.raises(InvalidInputError, match="mapping"):
        loopml.set_experiment_tags(["team"])  # type: ignore[arg-type]


def test_experiment_tags_go_to_the_active_runs_experiment() -> None:
    with loopml.start_run(experiment="from-run"):
        experiment = loopml.set_experiment_tag("owner", "ada")

    assert experiment.name == "from-run"
    assert experiment.tags == {"owner": "ada"}


def _make(client: TrackingClient) -> None:
    for name, team in [("churn-a", "risk"), ("churn-b", "growth"), ("fraud", "risk")]:
        client.create_experiment(name)
        client.set_experiment_tags(name, {"team": team})
    client.create_experiment("untagged")


def test_search_experiments_by_name_and_tags(client: TrackingClient) -> None:
    _make(client)

    def names(filter: str | None, order_by: str | list[str] | None = "name") -> list[str]:
        return [e.name for e in client.search_experiments(filter, order_by)]

    assert names("name LIKE 'churn%'") == ["churn-a", "churn-b"]
    assert names("name = 'fraud'") == ["fraud"]
    assert names("attributes.name ILIKE 'CHURN-A'") == ["churn-a"]
    assert names("tags.team = 'risk'") == ["churn-a", "fraud"]
    assert names("tags.team = 'risk' AND name LIKE 'churn%'") == ["churn-a"]
    assert names("tags.team IN ('growth') OR name = 'untagged'") == ["churn-b", "untagged"]
    assert names("tags.team IS NULL") == ["untagged"]
    assert names(None, "name DESC") == ["untagged", "fraud", "churn-b", "churn-a"]
    assert len(client.search_experiments(max_results=2)) == 2
    found = client.search_experiments("name = 'fraud'")[0]
    assert found.tags == {"team": "risk"}


def test_search_experiments_refuses_run_fields_and_bad_arguments(client: TrackingClient) -> None:
    with pytest.raises(InvalidInputError, match=r"metrics\.acc.*search_runs"):
        client.search_experiments("metrics.acc > 0.9")
    with pytest.raises(InvalidInputError, match="status"):
        client.search_experiments("status = 'running'")
    with pytest.raises(InvalidInputError, match="experiment filter"):
        client.search_experiments("name = ")
    with pytest.raises(InvalidInputError, match=r"cannot order experiments by 'metrics\.acc'"):
        client.search_experiments(order_by="metrics.acc")
    with pytest.raises(InvalidInputError, match="max_results"):
        client.search_experiments(max_results=0)


def test_fluent_search_experiments() -> None:
    loopml.set_experiment("alpha")
    loopml.set_experiment_tag("team", "risk")
    loopml.set_experiment("beta")

    found = loopml.search_experiments(filter="tags.team = 'risk'")

    assert [e.name for e in found] == ["alpha"]
    assert [e.name for e in loopml.search_experiments(order_by=["name"])] == ["alpha", "beta"]
