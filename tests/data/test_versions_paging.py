"""DatasetClient.page_datasets / page_versions: the paged services behind `loopml data list`."""

from __future__ import annotations

import pandas as pd
import pytest

from loopml.config import Settings
from loopml.data.versions import DatasetClient
from loopml.errors import InvalidInputError, NotFoundError
from loopml.paging import iter_pages


@pytest.fixture
def client(settings: Settings) -> DatasetClient:
    return DatasetClient(settings)


def _log(client: DatasetClient, name: str, value: int) -> None:
    client.log(name, pd.DataFrame({"x": [value]}))


def test_datasets_page_by_name_each_once_even_when_some_are_added_between_pages(
    client: DatasetClient,
) -> None:
    for index, name in enumerate(["delta", "alpha", "echo", "bravo"]):
        _log(client, name, index)
    first = client.page_datasets(limit=2)
    assert [d.name for d in first.items] == ["alpha", "bravo"]
    _log(client, "aardvark", 9)  # sorts before the token: not on a later page
    _log(client, "foxtrot", 9)  # sorts after: on a later page
    rest = iter_pages(
        lambda token: client.page_datasets(limit=2, page_token=token or first.next_page_token)
    )
    assert [d.name for d in rest] == ["delta", "echo", "foxtrot"]
    assert [d.name for d in client.list_datasets()][:2] == ["aardvark", "alpha"]
    assert client.page_datasets(limit=6).next_page_token is None  # an exact fit


def test_versions_page_oldest_first_with_versions_logged_between_pages(
    client: DatasetClient,
) -> None:
    for value in range(3):
        _log(client, "iris", value)
    first = client.page_versions("iris", limit=2)
    assert [v.version for v in first.items] == [1, 2]
    _log(client, "iris", 3)
    second = client.page_versions("iris", limit=2, page_token=first.next_page_token)
    assert ([v.version for v in second.items], second.next_page_token) == ([3, 4], None)
    assert [v.version for v in client.list_versions("iris")] == [1, 2, 3, 4]


def test_bad_limits_tokens_and_names_are_refused(client: DatasetClient) -> None:
    _log(client, "iris", 1)
    _log(client, "wine", 1)
    with pytest.raises(InvalidInputError, match="limit must be an integer from 1"):
        client.page_datasets(limit=0)
    with pytest.raises(InvalidInputError, match="limit must be an integer from 1"):
        client.page_versions("iris", limit=True)
    with pytest.raises(InvalidInputError, match="not a token this listing returned"):
        client.page_datasets(page_token="not a token!")
    by_name = client.page_datasets(limit=1).next_page_token
    with pytest.raises(InvalidInputError, match="another listing or ordering"):
        client.page_versions("iris", page_token=by_name)
    with pytest.raises(NotFoundError, match="iriss"):
        client.page_versions("iriss")


def test_one_dataset_is_read_with_its_counts_and_an_unknown_one_names_close_ones(
    client: DatasetClient,
) -> None:
    _log(client, "iris", 1)
    _log(client, "iris", 2)
    found = client.get_dataset("iris")
    assert (found.name, found.version_count, found.latest_version) == ("iris", 2, 2)
    assert found == next(d for d in client.list_datasets() if d.name == "iris")
    with pytest.raises(NotFoundError, match="iris"):
        client.get_dataset("irs")
