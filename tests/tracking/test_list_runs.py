"""TrackingClient.list_runs: the paged service behind `loopml runs list --limit/--page-token`."""

from __future__ import annotations

import pytest

from loopml.errors import InvalidInputError
from loopml.paging import decode_page_token, encode_page_token, iter_pages
from loopml.tracking import RunStatus, TrackingClient


def _populate(client: TrackingClient, count: int = 7) -> list[str]:
    """``count`` runs of 'churn'; every third has no 'auc' (NULL in its sort key)."""
    ids = []
    for index in range(count):
        run = client.create_run("churn", name=f"r{index}")
        client.log_params(run.id, {"model": "rf" if index % 2 else "lr"})
        if index % 3:
            client.log_metric(run.id, "auc", float(index % 4) / 4)
        client.end_run(run.id, RunStatus.FINISHED)
        ids.append(run.id)
    client.flush()
    return ids


def _every(client: TrackingClient, order_by: str | None, filter: str | None = None) -> list[str]:
    pages = iter_pages(
        lambda token: client.list_runs("churn", filter, order_by, limit=2, page_token=token)
    )
    return [run.id for run in pages]


@pytest.mark.parametrize(
    "order_by",
    [None, "metrics.auc desc", "metrics.auc", "params.model", "end_time desc", "run_name"],
)
def test_pages_give_each_run_once_in_the_order_search_runs_gives(
    client: TrackingClient, order_by: str | None
) -> None:
    ids = _populate(client)
    listed = _every(client, order_by)
    assert listed == [run.id for run in client.search_runs("churn", order_by=order_by)]
    assert sorted(listed) == sorted(ids)


def test_runs_without_the_sort_metric_come_last_across_pages(client: TrackingClient) -> None:
    ids = _populate(client)
    listed = _every(client, "metrics.auc desc")
    missing = {ids[i] for i in range(len(ids)) if i % 3 == 0}
    assert set(listed[-len(missing) :]) == missing


def test_a_filter_holds_across_pages(client: TrackingClient) -> None:
    ids = _populate(client)
    assert _every(client, "run_name", "params.model = 'rf'") == [ids[1], ids[3], ids[5]]


def test_runs_added_between_pages_neither_repeat_nor_shift_the_pages(
    client: TrackingClient,
) -> None:
    ids = _populate(client, 5)
    first = client.list_runs("churn", order_by="run_name", limit=2)
    assert [run.id for run in first.items] == ids[:2]
    # A run that sorts before the token and one after it, logged between the two calls.
    early = client.create_run("churn", name="r0a").id
    late = client.create_run("churn", name="r9").id
    rest = list(
        iter_pages(
            lambda token: client.list_runs(
                "churn", order_by="run_name", limit=2, page_token=token or first.next_page_token
            )
        )
    )
    assert [run.id for run in rest] == [*ids[2:], late]
    assert early not in {run.id for run in rest}


def test_an_exact_fit_has_no_next_page(client: TrackingClient) -> None:
    _populate(client, 4)
    page = client.list_runs("churn", limit=4)
    assert (len(page.items), page.next_page_token) == (4, None)


def test_bad_limits_and_foreign_tokens_are_refused(client: TrackingClient) -> None:
    _populate(client, 3)
    with pytest.raises(InvalidInputError, match="limit must be an integer from 1"):
        client.list_runs(limit=0)
    with pytest.raises(InvalidInputError, match="limit must be an integer from 1"):
        client.list_runs(limit=2**63)
    with pytest.raises(InvalidInputError, match="not a token this listing returned"):
        client.list_runs(page_token="%%%")
    by_auc = client.list_runs(order_by="metrics.auc", limit=1).next_page_token
    with pytest.raises(InvalidInputError, match="another listing or ordering"):  # same shape
        client.list_runs(order_by="metrics.loss", page_token=by_auc)
    client.create_experiment("other")
    token = client.list_experiment_summaries(limit=1).next_page_token  # an experiment's key
    assert token is not None
    with pytest.raises(InvalidInputError, match="another listing or ordering"):
        client.list_runs(page_token=token)


@pytest.mark.parametrize(
    "forged",
    [
        [{"a": 1}, "x"],
        [2**70, "x"],
        [1.5, ["x"]],
        [True, "x"],
        [float("inf"), "x"],
        ["1700000000000", "x"],  # a string where start_time holds numbers (PostgreSQL errs)
        [1, 2],  # a number where the id is text
    ],
)
def test_a_forged_token_with_values_no_column_holds_is_refused(
    client: TrackingClient, forged: list[object]
) -> None:
    _populate(client, 3)
    ordering, *_ = decode_page_token(client.list_runs(limit=1).next_page_token or "", 3)
    token = encode_page_token([ordering, *forged])
    with pytest.raises(InvalidInputError, match="not a token this listing returned"):
        client.list_runs(limit=1, page_token=token)
