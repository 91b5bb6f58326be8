"""TrackingClient.list_experiment_summaries: the paged service behind `loopml experiments list`."""

from __future__ import annotations

import pytest

from loopml.errors import InvalidInputError
from loopml.paging import iter_pages
from loopml.tracking import ExperimentSummary, RunStatus, TrackingClient


def _populate(client: TrackingClient) -> None:
    for index, name in enumerate(["delta", "alpha", "echo", "bravo", "charlie"]):
        client.create_experiment(name, description=f"#{index}")
        client.set_experiment_tags(name, {"team": "risk" if index % 2 else "growth"})
    for _ in range(3):
        client.end_run(client.create_run("alpha").id, RunStatus.FINISHED)
    client.end_run(client.create_run("echo").id, RunStatus.FINISHED)
    client.delete_run(client.create_run("echo").id)  # deleted runs are not counted


def _names(items: list[ExperimentSummary]) -> list[str]:
    return [item.experiment.name for item in items]


def test_pages_follow_each_other_without_gaps_or_repeats(client: TrackingClient) -> None:
    _populate(client)
    first = client.list_experiment_summaries(order_by="name", limit=2)
    assert _names(first.items) == ["alpha", "bravo"]
    assert first.next_page_token is not None
    second = client.list_experiment_summaries(
        order_by="name", limit=2, page_token=first.next_page_token
    )
    assert _names(second.items) == ["charlie", "delta"]
    last = client.list_experiment_summaries(
        order_by="name", limit=2, page_token=second.next_page_token
    )
    assert _names(last.items) == ["echo"]
    assert last.next_page_token is None
    # An exact fit ends without an empty extra page.
    exact = client.list_experiment_summaries(order_by="name", limit=5)
    assert len(exact.items) == 5
    assert exact.next_page_token is None


def test_summaries_count_live_runs_and_the_latest_start(client: TrackingClient) -> None:
    _populate(client)
    found = {s.experiment.name: s for s in client.list_experiment_summaries(limit=100).items}
    assert found["alpha"].runs == 3
    assert found["alpha"].last_run_start is not None
    assert found["echo"].runs == 1
    assert (found["bravo"].runs, found["bravo"].last_run_start) == (0, None)
    assert found["bravo"].experiment.tags == {"team": "risk"}
    assert found["bravo"].experiment.description == "#3"


def test_filter_and_ordering_hold_across_pages(client: TrackingClient) -> None:
    _populate(client)

    def every(filter: str | None, order_by: str | list[str] | None) -> list[str]:
        pages = iter_pages(
            lambda token: client.list_experiment_summaries(
                filter, order_by, limit=1, page_token=token
            )
        )
        return _names(list(pages))

    assert every("tags.team = 'risk'", "name") == ["alpha", "bravo"]
    assert every("tags.team = 'growth'", "name DESC") == ["echo", "delta", "charlie"]
    assert every(None, ["created_at"]) == ["delta", "alpha", "echo", "bravo", "charlie"]
    # Default: newest first, as search_experiments (the default experiment is not made here).
    assert every(None, None) == ["charlie", "bravo", "echo", "alpha", "delta"]
    # Same created_at for several experiments: the id breaks the tie, so none is lost.
    assert sorted(every("name LIKE '%a%'", "id")) == sorted(["delta", "alpha", "bravo", "charlie"])


def test_bad_limit_and_foreign_tokens_are_refused(client: TrackingClient) -> None:
    _populate(client)
    with pytest.raises(InvalidInputError, match="limit must be an integer from 1"):
        client.list_experiment_summaries(limit=0)
    with pytest.raises(InvalidInputError, match="not a token this listing returned"):
        client.list_experiment_summaries(page_token="%%%")
    token = client.list_experiment_summaries(order_by=["name", "created_at"], limit=1)
    with pytest.raises(InvalidInputError, match="another listing or ordering"):
        client.list_experiment_summaries(order_by="name", page_token=token.next_page_token)
    by_name = client.list_experiment_summaries(order_by="name", limit=1).next_page_token
    with pytest.raises(InvalidInputError, match="another listing or ordering"):  # same size
        client.list_experiment_summaries(order_by="created_at", page_token=by_name)
    with pytest.raises(InvalidInputError, match="cannot order experiments by 'runs'"):
        client.list_experiment_summaries(order_by="runs")
