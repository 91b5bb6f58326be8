"""Keyset paging in SQL: the rows after a page token's sort key, in any column order.

Example:
    >>> from loopml.store.schema import experiments
    >>> order = [(experiments.c.created_at, False), (experiments.c.id, False)]
    >>> where = after_key(order, [1_700_000_000_000, "01J0ABC"])  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, or_

from loopml.errors import InvalidInputError
from loopml.paging import Page, decode_page_token, encode_page_token

__all__ = ["SortKey", "after_key", "order_clauses", "page_after", "page_of"]

# A column and whether it sorts descending; the last one must be unique (an id).
SortKey = tuple[ColumnElement[Any], bool]


def order_clauses(order: Sequence[SortKey]) -> list[ColumnElement[Any]]:
    """ORDER BY clauses for ``order``."""
    return [column.desc() if desc else column.asc() for column, desc in order]


def after_key(order: Sequence[SortKey], key: Sequence[Any]) -> ColumnElement[bool]:
    """Rows that sort after ``key`` under ``order`` (columns must not hold NULL)."""
    alternatives = []
    for i, (column, desc) in enumerate(order):
        equal = [col == value for (col, _), value in zip(order[:i], key[:i], strict=True)]
        beyond = column < key[i] if desc else column > key[i]
        alternatives.append(and_(*equal, beyond))
    return or_(*alternatives)


def page_after(order: Sequence[SortKey], page_token: str | None) -> ColumnElement[bool] | None:
    """The WHERE clause that skips to the page after ``page_token``; ``None`` for page one.

    Raises:
        InvalidInputError: the token was made by another listing or under another order.
    """
    if page_token is None:
        return None
    ordering, *key = decode_page_token(page_token, len(order) + 1)
    if ordering != _ordering(order):
        raise InvalidInputError(
            f"page_token {page_token!r} belongs to another listing or ordering; "
            "start again without a page_token"
        )
    return after_key(order, key)


def page_of(rows: Sequence[Row[Any]], order: Sequence[SortKey], limit: int) -> Page[Row[Any]]:
    """A page of the first ``limit`` rows (query ``limit + 1`` to know if more follow)."""
    items = list(rows[:limit])
    if len(rows) <= limit:
        return Page(items, None)
    last = items[-1]._mapping
    return Page(items, encode_page_token([_ordering(order), *(last[c] for c, _ in order)]))


def _ordering(order: Sequence[SortKey]) -> str:
    """A short fingerprint of the sort columns, so a token is not used under another order."""
    text = ",".join(f"{column}{' desc' if desc else ''}" for column, desc in order)
    return hashlib.sha256(text.encode()).hexdigest()[:8]
