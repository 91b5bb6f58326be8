"""RegistryClient.page_models / page_versions: the paged services behind `loopml models list`."""

from __future__ import annotations

import pytest
from _registry_packages import LogPackage

from loopml.errors import InvalidInputError, NotFoundError
from loopml.paging import iter_pages
from loopml.registry.client import RegistryClient


def test_models_page_by_name_each_once_even_when_some_are_added_between_pages(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    for name in ["delta", "alpha", "charlie", "bravo"]:
        registry.register(log_package(), name)
    registry.set_alias("charlie", "candidate", 1)
    first = registry.page_models(limit=2)
    assert [m.name for m in first.items] == ["alpha", "bravo"]
    registry.register(log_package(), "aardvark")  # before the token: not on a later page
    registry.register(log_package(), "echo")
    rest = list(
        iter_pages(
            lambda token: registry.page_models(limit=2, page_token=token or first.next_page_token)
        )
    )
    assert [m.name for m in rest] == ["charlie", "delta", "echo"]
    assert rest[0].aliases == {"candidate": 1}  # aliases come with the page
    assert [m.name for m in registry.list_models()] == [
        "aardvark",
        "alpha",
        "bravo",
        "charlie",
        "delta",
        "echo",
    ]


def test_versions_page_oldest_first_and_keep_the_status_filter(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    for _ in range(5):
        registry.register(log_package(), "churn")
    registry.archive("churn", 2)
    first = registry.page_versions("churn", limit=2)
    assert [v.version for v in first.items] == [1, 2]
    registry.register(log_package(), "churn")
    live = list(
        iter_pages(
            lambda token: registry.page_versions("churn", "registered", limit=2, page_token=token)
        )
    )
    assert [v.version for v in live] == [1, 3, 4, 5, 6]
    second = registry.page_versions("churn", limit=2, page_token=first.next_page_token)
    assert [v.version for v in second.items] == [3, 4]


def test_bad_limits_tokens_and_names_are_refused(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    registry.register(log_package(), "churn")
    registry.register(log_package(), "fraud")
    with pytest.raises(InvalidInputError, match="limit must be an integer from 1"):
        registry.page_models(limit=-1)
    with pytest.raises(InvalidInputError, match="limit must be an integer from 1"):
        registry.page_versions("churn", limit=10**20)
    with pytest.raises(InvalidInputError, match="not a token this listing returned"):
        registry.page_models(page_token="..")
    by_name = registry.page_models(limit=1).next_page_token
    with pytest.raises(InvalidInputError, match="another listing or ordering"):
        registry.page_versions("churn", page_token=by_name)
    with pytest.raises(NotFoundError, match="churnn"):
        registry.page_versions("churnn")
    with pytest.raises(InvalidInputError):
        registry.page_versions("churn", "sideways")
