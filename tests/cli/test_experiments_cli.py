"""``loopml experiments list --filter``: search_experiments from the shell."""

from __future__ import annotations

from loopml.tracking import TrackingClient


def test_experiments_list_filters_by_name_and_tags(cli, client: TrackingClient) -> None:
    for name, team in [("churn-a", "risk"), ("churn-b", "growth"), ("fraud", "risk")]:
        client.create_experiment(name)
        client.set_experiment_tags(name, {"team": team})

    rows = cli.json("experiments", "list", "--filter", "tags.team = 'risk'")
    named = cli.json("experiments", "list", "-f", "name LIKE 'churn%'")

    assert [(row["name"], row["tags"]) for row in rows] == [
        ("churn-a", {"team": "risk"}),
        ("fraud", {"team": "risk"}),
    ]
    assert [row["name"] for row in named] == ["churn-a", "churn-b"]


def test_a_bad_experiment_filter_is_one_line_and_exit_2(cli) -> None:
    result = cli.run("experiments", "list", "--filter", "metrics.acc > 1")

    assert result.exit_code == 2
    assert "experiments cannot be filtered on metrics.acc" in result.stderr
    assert "Traceback" not in result.stderr
