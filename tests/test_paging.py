"""loopml.paging: page tokens round-trip, foreign ones are refused, pages chain."""

from __future__ import annotations

import pytest

from loopml.errors import InvalidInputError
from loopml.paging import (
    MAX_PAGE_SIZE,
    Page,
    check_limit,
    decode_page_token,
    encode_page_token,
    iter_pages,
)


def test_a_token_carries_the_sort_key_and_is_url_safe() -> None:
    key = [1_700_000_000_000, "churn/é", None]
    token = encode_page_token(key)
    assert decode_page_token(token, 3) == key
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize("token", ["%%%", "bm90IGpzb24", encode_page_token(["a"])[:-2] + "!!"])
def test_a_token_this_listing_did_not_make_is_refused(token: str) -> None:
    with pytest.raises(InvalidInputError, match="page_token"):
        decode_page_token(token, 1)


def test_a_token_of_another_ordering_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="another listing or ordering"):
        decode_page_token(encode_page_token(["a", "b"]), 1)


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_SIZE + 1, True, 2.5, "10"])
def test_limits_outside_one_to_the_maximum_are_refused(limit: object) -> None:
    with pytest.raises(InvalidInputError, match="limit must be an integer from 1"):
        check_limit(limit)
    assert check_limit(MAX_PAGE_SIZE) == MAX_PAGE_SIZE


def test_iter_pages_follows_the_tokens_to_the_last_page() -> None:
    pages = {None: Page([1, 2], "t1"), "t1": Page([3, 4], "t2"), "t2": Page([5], None)}
    asked: list[str | None] = []

    def fetch(token: str | None) -> Page[int]:
        asked.append(token)
        return pages[token]

    assert list(iter_pages(fetch)) == [1, 2, 3, 4, 5]
    assert asked == [None, "t1", "t2"]
