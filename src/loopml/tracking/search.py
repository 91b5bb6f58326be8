r"""Search runs with a small filter language, compiled to SQL over the ``runs`` table.

Grammar (keywords, entity prefixes and attribute names are case-insensitive; keys are
not)::

    filter      := or_expr
    or_expr     := and_expr ("OR" and_expr)*
    and_expr    := atom ("AND" atom)*               -- AND binds tighter than OR
    atom        := "(" or_expr ")" | comparison
    comparison  := identifier op value
                 | identifier ("IN" | "NOT IN") "(" value ("," value)* ")"
                 | identifier "IS" ["NOT"] "NULL"
    identifier  := entity "." key | attribute
    entity      := metrics | metric | params | param | tags | tag
                 | attributes | attribute | attr | run
    key         := [A-Za-z0-9_.\-/:]+ | `back quoted` | "double quoted"
    op          := = | == | != | <> | < | <= | > | >= | LIKE | ILIKE | NOT LIKE | NOT ILIKE
    value       := number | 'single quoted' | "double quoted"

Numbers are integers, decimals or scientific (``-1.5e-3``); ``inf``, ``-inf`` and ``nan``
are numbers too. Inside quotes a quote is written twice (``'it''s'``) or escaped
(``'it\'s'``), and ``\\`` is one backslash; in a backquoted key a backquote is written
twice.

Attributes: ``run_id`` (alias ``id``), ``run_name`` (alias ``name``), ``status``,
``start_time``, ``end_time``, ``experiment_id``, ``parent_run_id`` and ``user``.
``start_time`` and ``end_time`` are Unix milliseconds and compare as numbers; the others
are text, and ``status`` is compared case-insensitively.

Meaning:
    - ``metrics.k OP number`` holds when the run's latest value of ``k`` satisfies OP.
      Metrics compare with numbers only. Comparisons with numbers never match a NaN
      value: ``= nan`` finds NaN values, ``!= nan`` all the others.
    - ``params.k`` and ``tags.k`` compare text: ``=``, ``!=``, ``LIKE``, ``ILIKE``,
      ``NOT LIKE``, ``NOT ILIKE``, ``IN`` and ``NOT IN``; ``<`` and friends are refused. A
      number in their place is compared as written: ``params.depth = 5`` means ``'5'``.
    - ``IS NULL`` holds when the run has no such key (or the attribute is empty, like the
      ``end_time`` of a running run). ``!=``, ``NOT IN`` and ``NOT LIKE`` mean "the key
      exists and differs", so a run without the key matches only ``IS NULL``.
    - ``LIKE`` is case-sensitive and ``ILIKE`` is not, on SQLite and PostgreSQL alike;
      ``%`` and ``_`` are wildcards and a backslash escapes them (``'50\%'``). ILIKE
      folds ASCII letters only on SQLite (PostgreSQL folds per its locale).

A filter holds at most 200 comparisons, 50 levels of parentheses and 5000 values per
``IN`` list, and no NUL characters.

Every mistake raises :class:`~loopml.errors.InvalidInputError` whose message shows
where it is, what was expected and, for a misspelt name, what was probably meant.

Example:
    >>> from sqlalchemy import select
    >>> from loopml.store.schema import runs
    >>> where = compile_filter("metrics.acc > 0.9 AND params.model IN ('rf', 'gbm')")
    >>> query = select(runs.c.id).where(where).order_by(*compile_order_by(["metrics.acc desc"]))
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any, Final

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Exists,
    Table,
    and_,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from loopml.store.paging import SortKey, order_clauses
from loopml.store.schema import latest_metrics, params, runs, tags
from loopml.tracking._filter_parser import (
    And,
    Comparison,
    FilterNode,
    Or,
    Scalar,
    Value,
    parse,
    parse_order_item,
)

__all__ = [
    "And",
    "Comparison",
    "FilterNode",
    "Or",
    "compile_filter",
    "compile_order_by",
    "compile_tree",
    "parse_filter",
    "parse_order_item",
    "run_sort_keys",
]

_ATTRIBUTE_COLUMNS: Final[dict[str, ColumnElement[Any]]] = {
    "run_id": runs.c.id,
    "run_name": runs.c.name,
    "status": runs.c.status,
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
    "experiment_id": runs.c.experiment_id,
    "parent_run_id": runs.c.parent_run_id,
    "user": runs.c.user,
}

_COMPARE: Final[dict[str, Callable[[ColumnElement[Any], Any], ColumnElement[bool]]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ESCAPE: Final = "\\"


def parse_filter(text: str) -> FilterNode | None:
    """Parse a filter into its syntax tree; ``None`` when ``text`` is empty or blank.

    ``str()`` of the tree is the canonical spelling of the filter, and parses back to an
    equal tree.

    Raises:
        InvalidInputError: the filter is malformed or compares a field with the wrong kind
            of value; the message points at the place.

    Example:
        >>> node = parse_filter("metric.acc >= 0.9 and (tags.team = 'a' or name like 'rf%')")
        >>> str(node)
        "metrics.acc >= 0.9 AND (tags.team = 'a' OR attributes.run_name LIKE 'rf%')"
        >>> parse_filter(str(node)) == node
        True
    """
    return parse(text)


def compile_filter(text: str | None) -> ColumnElement[bool] | None:
    """Compile a filter into a WHERE clause over ``runs``; ``None`` for no filter.

    Each comparison on a metric, param or tag is a correlated ``EXISTS`` over its own
    table, so ``AND``, ``OR`` and parentheses combine them like plain conditions.

    Raises:
        InvalidInputError: see :func:`parse_filter`.

    Example:
        >>> from sqlalchemy import select
        >>> where = compile_filter("params.lr = 0.1 AND metrics.loss < 0.3")
        >>> query = select(runs.c.id).where(where)
    """
    node = parse(text) if text is not None else None
    return None if node is None else _compile(node)


def compile_order_by(items: Sequence[str] | None) -> list[ColumnElement[Any]]:
    """Compile ``["metrics.acc desc", "start_time"]`` into ORDER BY clauses over ``runs``.

    Each item is an identifier of the filter language and an optional ``ASC`` (the
    default) or ``DESC``. Runs without the metric, param, tag or attribute come last in
    both directions, and so do NaN metric values. ``runs.c.id`` is appended as a
    tie-breaker so that pages of results are stable. Without items the newest runs come
    first. A single string is taken as one item.

    Raises:
        InvalidInputError: an item names an unknown entity or attribute, or has a
            direction other than ASC or DESC.

    Example:
        >>> from sqlalchemy import select
        >>> order = compile_order_by(["metrics.acc DESC", "params.lr"])
        >>> query = select(runs.c.id).order_by(*order)
        >>> len(order)
        3
    """
    keys = run_sort_keys(items)
    if not items:  # newest first
        return order_clauses(keys)
    return [
        (key.desc() if descending else key.asc()).nulls_last() for key, descending in keys[:-1]
    ] + [runs.c.id]


def run_sort_keys(items: Sequence[str] | str | None) -> list[SortKey]:
    """The (expression, descending) keys of ``["metrics.acc desc", "start_time"]``.

    The keys :func:`compile_order_by` sorts by and a page token of
    :meth:`~loopml.tracking.TrackingClient.list_runs` carries: newest first without
    items, else each item (NULLs last) and then ``runs.id``.

    Example:
        >>> [desc for _, desc in run_sort_keys(["metrics.acc DESC"])]
        [True, False]
    """
    if isinstance(items, str):
        items = [items]
    if not items:
        return [(runs.c.start_time, True), (runs.c.id, True)]
    keys: list[SortKey] = []
    for item in items:
        entity, key, descending = parse_order_item(item)
        keys.append((_order_expression(entity, key), descending))
    keys.append((runs.c.id, False))
    return keys


# -- filters -----------------------------------------------------------------------------


def compile_tree(
    node: FilterNode, leaf: Callable[[Comparison], ColumnElement[bool]]
) -> ColumnElement[bool]:
    """``node``'s ANDs and ORs as SQL, each comparison compiled by ``leaf``.

    The run filter and the experiment filter share the grammar and differ in their leaves.
    """
    if isinstance(node, And):
        return and_(*(compile_tree(item, leaf) for item in node.items))
    if isinstance(node, Or):
        return or_(*(compile_tree(item, leaf) for item in node.items))
    return leaf(node)


def _compile(node: FilterNode) -> ColumnElement[bool]:
    return compile_tree(node, _compile_comparison)


def _compile_comparison(node: Comparison) -> ColumnElement[bool]:
    if node.entity == "metrics":
        return _metric_condition(node)
    if node.entity == "params":
        return _key_value_condition(params, node)
    if node.entity == "tags":
        return _key_value_condition(tags, node)
    return _attribute_condition(node)


def _has_key(table: Table, key: str, *conditions: ColumnElement[bool]) -> Exists:
    return (
        select(table.c.run_id)
        .where(table.c.run_id == runs.c.id, table.c.key == key, *conditions)
        .correlate(runs)
        .exists()
    )


def _metric_condition(node: Comparison) -> ColumnElement[bool]:
    value_column, is_nan = latest_metrics.c.value, latest_metrics.c.is_nan
    if node.op == "IS NULL":
        return ~_has_key(latest_metrics, node.key)
    if node.op == "IS NOT NULL":
        return _has_key(latest_metrics, node.key)
    # NaN is stored as is_nan with a placeholder value: numbers are only compared with
    # non-NaN rows, and "= nan" looks at the flag.
    numbers = [float(v) for v in _as_list(node.value)]
    finite = [v for v in numbers if not math.isnan(v)]
    has_nan = len(finite) < len(numbers)
    if node.op == "IN":
        alternatives = [is_nan == true()] if has_nan else []
        if finite:
            alternatives.append(and_(is_nan == false(), value_column.in_(finite)))
        return _has_key(latest_metrics, node.key, or_(*alternatives))
    if node.op == "NOT IN":
        rest = [value_column.not_in(finite)] if finite else []
        return _has_key(latest_metrics, node.key, is_nan == false(), *rest)
    if has_nan:
        return _has_key(latest_metrics, node.key, is_nan == (true() if node.op == "=" else false()))
    compare = _COMPARE[node.op](value_column, finite[0])
    return _has_key(latest_metrics, node.key, is_nan == false(), compare)


def _key_value_condition(table: Table, node: Comparison) -> ColumnElement[bool]:
    if node.op == "IS NULL":
        return ~_has_key(table, node.key)
    if node.op == "IS NOT NULL":
        return _has_key(table, node.key)
    return _has_key(table, node.key, _value_condition(table.c.value, node.op, node.value))


def _attribute_condition(node: Comparison) -> ColumnElement[bool]:
    column = _ATTRIBUTE_COLUMNS[node.key]
    if node.op == "IS NULL":
        return column.is_(None)
    if node.op == "IS NOT NULL":
        return column.is_not(None)
    if node.key == "status":
        lowered = tuple(str(v).lower() for v in _as_list(node.value))
        value = lowered if isinstance(node.value, tuple) else lowered[0]
        return _value_condition(func.lower(column), node.op, value)
    return _value_condition(column, node.op, node.value)


def _value_condition(column: ColumnElement[Any], op: str, value: Value) -> ColumnElement[bool]:
    if op == "IN":
        return column.in_(_as_list(value))
    if op == "NOT IN":
        return column.not_in(_as_list(value))
    if op == "LIKE":
        return _CaseSensitiveLike(column, str(value))
    if op == "NOT LIKE":
        return not_(_CaseSensitiveLike(column, str(value)))
    if op == "ILIKE":
        return column.ilike(str(value), escape=_ESCAPE)
    if op == "NOT ILIKE":
        return column.not_ilike(str(value), escape=_ESCAPE)
    return _COMPARE[op](column, value)


def _as_list(value: Value) -> list[Scalar]:
    if isinstance(value, tuple):
        return list(value)
    assert value is not None, "comparison without a value"
    return [value]


class _CaseSensitiveLike(FunctionElement[bool]):
    """``column LIKE pattern ESCAPE '\\'``, case-sensitive on every database.

    SQLite's LIKE ignores ASCII case, so there the pattern becomes the equivalent GLOB
    (which does not). Both patterns are bound parameters, so statements stay cacheable.
    """

    type = Boolean()
    name = "case_sensitive_like"
    inherit_cache = True

    def __init__(self, column: ColumnElement[Any], pattern: str) -> None:
        super().__init__(column, literal(pattern), literal(_like_to_glob(pattern)))


@compiles(_CaseSensitiveLike)
def _compile_like(element: _CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern, _glob = element.clauses
    return f"({compiler.process(column.like(pattern, escape=_ESCAPE), **kw)})"


@compiles(_CaseSensitiveLike, "sqlite")
def _compile_like_sqlite(element: _CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    column, _pattern, glob = element.clauses
    return f"({compiler.process(column.op('GLOB', is_comparison=True)(glob), **kw)})"


def _like_to_glob(pattern: str) -> str:
    """The GLOB pattern matching what the LIKE ``pattern`` (escape ``\\``) matches."""
    glob, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == _ESCAPE and index + 1 < len(pattern):
            index += 1
            char = pattern[index]
        elif char in "%_":
            glob.append("*" if char == "%" else "?")
            index += 1
            continue
        glob.append(f"[{char}]" if char in "*?[" else char)
        index += 1
    return "".join(glob)


# -- ordering ----------------------------------------------------------------------------


def _order_expression(entity: str, key: str) -> ColumnElement[Any]:
    if entity == "attributes":
        return _ATTRIBUTE_COLUMNS[key]
    if entity == "metrics":
        return (
            select(latest_metrics.c.value)
            .where(
                latest_metrics.c.run_id == runs.c.id,
                latest_metrics.c.key == key,
                latest_metrics.c.is_nan == false(),
            )
            .correlate(runs)
            .scalar_subquery()
        )
    table = params if entity == "params" else tags
    return (
        select(table.c.value)
        .where(table.c.run_id == runs.c.id, table.c.key == key)
        .correlate(runs)
        .scalar_subquery()
    )
