"""One page of a listing, and the opaque token that asks for the next one.

Every listing a server may expose (experiments with their run counts, pipelines…) takes
``limit`` and ``page_token`` and returns a :class:`Page`. The token is the sort key of the
last item handed out, base64-encoded JSON: opaque to callers, stable while rows are added
(keyset paging, not offsets), and refused with a message when it is not one of ours.

Example:
    >>> token = encode_page_token([1_700_000_000_000, "01J0ABC"])
    >>> decode_page_token(token, 2)
    [1700000000000, '01J0ABC']
    >>> Page(items=[1, 2], next_page_token=None).items
    [1, 2]
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from loopml.errors import InvalidInputError

__all__ = [
    "MAX_PAGE_SIZE",
    "Page",
    "check_limit",
    "decode_page_token",
    "encode_page_token",
    "iter_pages",
]

T = TypeVar("T")
MAX_PAGE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """``items`` of one page; ``next_page_token`` asks for the next, ``None`` on the last."""

    items: list[T] = field(default_factory=list)
    next_page_token: str | None = None


def check_limit(limit: object) -> int:
    """``limit`` as a page size in 1..:data:`MAX_PAGE_SIZE`.

    Raises:
        InvalidInputError: not an integer in range.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInputError(
            f"limit must be an integer from 1 to {MAX_PAGE_SIZE}, got {limit!r}; "
            "ask for the next page with page_token"
        )
    return limit


def encode_page_token(key: Sequence[Any]) -> str:
    """The opaque token for the page after the item whose sort key is ``key``."""
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, size: int) -> list[Any]:
    """The sort key a token of :func:`encode_page_token` carries (``size`` values).

    Raises:
        InvalidInputError: the token was not made by this listing.
    """
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as err:
        raise InvalidInputError(
            f"page_token {token!r} is not a token this listing returned; "
            "pass the next_page_token of the previous page, or none for the first page"
        ) from err
    if not isinstance(key, list) or len(key) != size:
        raise InvalidInputError(
            f"page_token {token!r} belongs to another listing or ordering; "
            "start again without a page_token"
        )
    return key


def iter_pages(fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Every item of every page: ``fetch(token)`` returns the page after ``token``."""
    token: str | None = None
    while True:
        page = fetch(token)
        yield from page.items
        if page.next_page_token is None:
            return
        token = page.next_page_token
