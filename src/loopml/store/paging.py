"""Keyset paging in SQL: the rows after a page token's sort key, in any column order.

A sort column that may hold NULL (a nullable column, or an expression such as a run's
metric) sorts its NULLs last in both directions, on every database, and the token's key
may then hold ``None``.

Example:
    >>> from loopml.store.schema import experiments
    >>> order = [(experiments.c.created_at, False), (experiments.c.id, False)]
    >>> where = after_key(order, [1_700_000_000_000, "01J0ABC"])  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, or_

from loopml.errors import InvalidInputError
from loopml.paging import Page, decode_page_token, encode_page_token

__all__ = ["SortKey", "after_key", "order_clauses", "page_after", "page_of", "paged_query"]

# A column and whether it sorts descending; the last one must be unique (an id).
SortKey = tuple[ColumnElement[Any], bool]


def order_clauses(order: Sequence[SortKey]) -> list[ColumnElement[Any]]:
    """ORDER BY clauses for ``order`` (NULLs last where a column may hold them)."""
    clauses: list[ColumnElement[Any]] = []
    for column, desc in order:
        clause = column.desc() if desc else column.asc()
        clauses.append(clause.nulls_last() if _nullable(column) else clause)
    return clauses


def after_key(order: Sequence[SortKey], key: Sequence[Any]) -> ColumnElement[bool]:
    """Rows that sort after ``key`` under ``order`` (NULLs sort last)."""
    alternatives = []
    for i, (column, desc) in enumerate(order):
        if key[i] is None:
            continue  # nothing sorts after NULL in this column: NULLs come last
        equal = [_equal(col, value) for (col, _), value in zip(order[:i], key[:i], strict=True)]
        beyond = column < key[i] if desc else column > key[i]
        if _nullable(column):
            beyond = or_(beyond, column.is_(None))
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
    fits = (_fits(column, value) for (column, _), value in zip(order, key, strict=True))
    if not all(fits):  # forged: a token we made holds what its columns hold
        raise InvalidInputError(
            f"page_token {page_token!r} is not a token this listing returned; "
            "pass the next_page_token of the previous page, or none for the first page"
        )
    return after_key(order, key)


def paged_query(
    query: Select[Any], order: Sequence[SortKey], limit: int, page_token: str | None
) -> Select[Any]:
    """``query`` in ``order``, from after ``page_token``, one row beyond ``limit``.

    :func:`page_of` then cuts the rows to a page and makes the next token.

    Raises:
        InvalidInputError: the token was made by another listing or under another order.
    """
    after = page_after(order, page_token)
    if after is not None:
        query = query.where(after)
    return query.order_by(*order_clauses(order)).limit(limit + 1)


def page_of(rows: Sequence[Row[Any]], order: Sequence[SortKey], limit: int) -> Page[Row[Any]]:
    """A page of the first ``limit`` rows (query ``limit + 1`` to know if more follow)."""
    items = list(rows[:limit])
    if len(rows) <= limit:
        return Page(items, None)
    last = items[-1]._mapping
    return Page(items, encode_page_token([_ordering(order), *(last[c] for c, _ in order)]))


def _ordering(order: Sequence[SortKey]) -> str:
    """A short fingerprint of the sort columns, so a token is not used under another order.

    Values bound in a sort expression (the key of ``metrics.acc``) are part of it.
    """
    text = ",".join(
        f"{column.compile(compile_kwargs={'literal_binds': True})}{' desc' if desc else ''}"
        for column, desc in order
    )
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _fits(column: ColumnElement[Any], value: Any) -> bool:
    """Whether ``value`` can be held by ``column`` (so the database compares like with like)."""
    if value is None:
        return True
    try:
        kind = column.type.python_type
    except NotImplementedError:  # a type that names no Python type: only plain scalars
        kind = object
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return False
    if kind is str or isinstance(value, str):
        return kind in (str, object) and isinstance(value, str)
    if isinstance(value, float) and not math.isfinite(value):
        return False
    if kind is int:
        return isinstance(value, int) and -(2**63) <= value < 2**63
    return kind in (float, object) and abs(value) < 2**1023


def _nullable(column: ColumnElement[Any]) -> bool:
    """Whether ``column`` may hold NULL: a nullable table column, or any expression."""
    return bool(getattr(column, "nullable", True))


def _equal(column: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value
