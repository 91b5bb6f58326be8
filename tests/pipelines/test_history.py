"""loopml.pipelines.history: the paged service behind `loopml pipeline list|runs|explain-cache`."""

from __future__ import annotations

import pytest
from _steps import square

import loopml
from loopml.config import Settings
from loopml.errors import InvalidInputError, NotFoundError
from loopml.paging import iter_pages
from loopml.pipelines import history
from loopml.store import Store, open_store


@loopml.pipeline
def pipe_a(x: int = 1) -> None:
    square(x)


@loopml.pipeline
def pipe_b(x: int = 1) -> None:
    square(x)


@loopml.pipeline
def pipe_c(x: int = 1) -> None:
    square(x)


@pytest.fixture
def store(settings: Settings) -> Store:
    """Five finished runs of three pipelines, oldest first: b, a(1), a(2), c, a(3)."""
    for pipe, x in [(pipe_b, 1), (pipe_a, 1), (pipe_a, 2), (pipe_c, 3), (pipe_a, 3)]:
        pipe.run({"x": x}, settings=settings)
    return open_store(settings.db_url)


def test_pipelines_page_by_name_with_their_latest_run(store: Store) -> None:
    first = history.list_pipelines(store, limit=2)
    assert [(p.name, p.runs) for p in first.items] == [("pipe_a", 3), ("pipe_b", 1)]
    assert first.next_page_token is not None
    rest = history.list_pipelines(store, limit=2, page_token=first.next_page_token)
    assert [p.name for p in rest.items] == ["pipe_c"]
    assert rest.next_page_token is None
    latest_a = history.list_runs(store, "pipe_a", limit=1).items[0]
    summary = first.items[0]
    assert (summary.last_run_id, summary.last_status) == (latest_a.id, "finished")
    assert latest_a.params == {"x": 3}
    with pytest.raises(InvalidInputError, match="another listing or ordering"):
        history.list_runs(store, page_token=first.next_page_token)


def test_runs_page_newest_first_with_filters(store: Store) -> None:
    def every(pipeline: str | None = None, status: str | None = None) -> list[tuple[str, int]]:
        pages = iter_pages(
            lambda token: history.list_runs(
                store, pipeline, status=status, limit=2, page_token=token
            )
        )
        return [(run.pipeline, run.params["x"]) for run in pages]

    assert every() == [("pipe_a", 3), ("pipe_c", 3), ("pipe_a", 2), ("pipe_a", 1), ("pipe_b", 1)]
    assert every("pipe_a") == [("pipe_a", 3), ("pipe_a", 2), ("pipe_a", 1)]
    assert every(status="finished") == every()
    assert every(status="failed") == []
    with pytest.raises(InvalidInputError, match="unknown status 'done'"):
        history.list_runs(store, status="done")
    with pytest.raises(InvalidInputError, match="limit must be an integer"):
        history.list_runs(store, limit=0)


def test_find_run_by_id_or_pipeline_and_its_cache_verdicts(store: Store) -> None:
    latest = history.find_run(store, "pipe_a")
    assert latest.params == {"x": 3}
    assert history.find_run(store, f"runs:/{latest.id}").id == latest.id
    with pytest.raises(NotFoundError, match="pipe_d") as caught:
        history.find_run(store, "pipe_d")
    assert "pipe_a" in str(caught.value)
    (hit,) = history.explain_cache(store, latest)  # pipe_c squared 3 already
    assert (hit.node, hit.verdict, hit.compared) == ("square", "hit", False)
    assert hit.to_dict()["cached_from"] == hit.cached_from
    assert "compared_with" not in hit.to_dict()
    second = history.list_runs(store, "pipe_a").items[1]
    (miss,) = history.explain_cache(store, second)
    assert (miss.verdict, miss.compared) == ("miss", True)
    assert miss.to_dict()["compared_with"] is not None
    assert "cached_from" not in miss.to_dict()
