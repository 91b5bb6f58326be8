"""Experiment tags and experiment search, in the run-search filter language.

An experiment filter uses the grammar of :mod:`loopml.tracking.search` over the fields an
experiment has: ``name`` (alias ``attributes.name``), ``id`` and ``tags.<key>``. Metrics,
params and the run attributes (``status``, ``start_time``…) are refused with a message.

Example:
    >>> where = compile_experiment_filter("name LIKE 'churn%' AND tags.team = 'risk'")
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import ColumnElement, Connection, Exists, Row, select

from loopml.errors import InvalidInputError
from loopml.store.paging import SortKey, order_clauses
from loopml.store.schema import experiment_tags, experiments
from loopml.tracking._filter_parser import Comparison, FilterNode, parse
from loopml.tracking.models import Experiment
from loopml.tracking.search import _value_condition, compile_tree

__all__ = [
    "compile_experiment_filter",
    "compile_experiment_order_by",
    "experiment_sort_keys",
    "experiment_tags_of",
    "replace_tags",
    "to_experiments",
]

# The parser canonicalises ``name`` to ``run_name`` and ``id`` to ``run_id``.
_COLUMNS: Final[dict[str, ColumnElement[Any]]] = {
    "run_name": experiments.c.name,
    "run_id": experiments.c.id,
}
_ORDER_COLUMNS: Final[dict[str, ColumnElement[Any]]] = {
    "name": experiments.c.name,
    "id": experiments.c.id,
    "created_at": experiments.c.created_at,
    "creation_time": experiments.c.created_at,
}
_FIELDS: Final = "name, id and tags.<key>"


def compile_experiment_filter(text: str | None) -> ColumnElement[bool] | None:
    """A WHERE clause over ``experiments`` for ``text``; ``None`` for no filter.

    Raises:
        InvalidInputError: the filter is malformed, or uses a field experiments lack.
    """
    node = parse(text, "experiment filter") if text is not None else None
    return None if node is None else _compile(node)


def compile_experiment_order_by(items: Sequence[str] | str | None) -> list[ColumnElement[Any]]:
    """ORDER BY clauses for ``["name", "created_at desc"]``; default newest first."""
    return order_clauses(experiment_sort_keys(items))


def experiment_sort_keys(items: Sequence[str] | str | None) -> list[SortKey]:
    """The (column, descending) keys of ``["name", "created_at desc"]``, ending in ``id``."""
    if isinstance(items, str):
        items = [items]
    if not items:
        return [(experiments.c.created_at, True), (experiments.c.id, True)]
    keys: list[SortKey] = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidInputError(f"order_by items must be strings, got {item!r}")
        field, _, direction = item.strip().partition(" ")
        column = _ORDER_COLUMNS.get(field.lower().removeprefix("attributes."))
        direction = direction.strip().upper() or "ASC"
        if column is None or direction not in ("ASC", "DESC"):
            raise InvalidInputError(
                f"cannot order experiments by {item!r}; use name, id or created_at, "
                "optionally followed by ASC or DESC"
            )
        keys.append((column, direction == "DESC"))
    keys.append((experiments.c.id, False))
    return keys


def _compile(node: FilterNode) -> ColumnElement[bool]:
    return compile_tree(node, _compile_comparison)


def _compile_comparison(node: Comparison) -> ColumnElement[bool]:
    if node.entity == "tags":
        return _tag_condition(node)
    column = _COLUMNS.get(node.key) if node.entity == "attributes" else None
    if column is None:
        raise InvalidInputError(
            f"experiments cannot be filtered on {node.entity}.{node.key}; "
            f"an experiment has {_FIELDS} (metrics and params belong to runs: "
            "use search_runs)"
        )
    if node.op == "IS NULL":
        return column.is_(None)
    if node.op == "IS NOT NULL":
        return column.is_not(None)
    return _value_condition(column, node.op, node.value)


def _has_tag(key: str, *conditions: ColumnElement[bool]) -> Exists:
    t = experiment_tags.c
    return (
        select(t.experiment_id)
        .where(t.experiment_id == experiments.c.id, t.key == key, *conditions)
        .correlate(experiments)
        .exists()
    )


def _tag_condition(node: Comparison) -> ColumnElement[bool]:
    if node.op == "IS NULL":
        return ~_has_tag(node.key)
    if node.op == "IS NOT NULL":
        return _has_tag(node.key)
    return _has_tag(node.key, _value_condition(experiment_tags.c.value, node.op, node.value))


def experiment_tags_of(conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, str]]:
    """Each experiment's tags, by experiment id (sorted by key)."""
    found: dict[str, dict[str, str]] = defaultdict(dict)
    t = experiment_tags.c
    for chunk_start in range(0, len(ids), 900):
        chunk = list(ids[chunk_start : chunk_start + 900])
        rows = conn.execute(
            select(t.experiment_id, t.key, t.value)
            .where(t.experiment_id.in_(chunk))
            .order_by(t.key)
        )
        for experiment_id, key, value in rows:
            found[experiment_id][key] = value
    return found


def to_experiments(conn: Connection, rows: Sequence[Row[Any]]) -> list[Experiment]:
    """Experiments from ``experiments`` rows, in order, with their tags."""
    tags = experiment_tags_of(conn, [row.id for row in rows])
    return [
        Experiment(
            row.id,
            row.name,
            row.created_at,
            row.description,
            dict(tags.get(row.id, {})),
            row.deleted_at,
        )
        for row in rows
    ]


def replace_tags(conn: Connection, experiment_id: str, values: Mapping[str, str]) -> None:
    """Set ``values`` as tags of the experiment (other tags are kept)."""
    t = experiment_tags.c
    conn.execute(
        experiment_tags.delete().where(t.experiment_id == experiment_id, t.key.in_(list(values)))
    )
    conn.execute(
        experiment_tags.insert(),
        [{"experiment_id": experiment_id, "key": k, "value": v} for k, v in values.items()],
    )
