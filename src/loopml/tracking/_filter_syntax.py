"""The syntax tree of the run-search filter language: comparisons joined by AND and OR.

``str()`` of a tree is filter text that parses back to an equal tree.

Example:
    >>> str(And((Comparison("metrics", "acc", ">", 0.9), Comparison("tags", "t", "=", "x"))))
    "metrics.acc > 0.9 AND tags.t = 'x'"
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

__all__ = [
    "NAME_CHARS",
    "NAN",
    "NULL_OPS",
    "And",
    "Comparison",
    "Entity",
    "FilterNode",
    "Or",
    "Scalar",
    "Value",
]

Entity: TypeAlias = Literal["metrics", "params", "tags", "attributes"]
Scalar: TypeAlias = str | int | float
Value: TypeAlias = Scalar | tuple[Scalar, ...] | None

NULL_OPS: Final = frozenset({"IS NULL", "IS NOT NULL"})
# Characters a key may hold without backquotes.
NAME_CHARS: Final = frozenset(string.ascii_letters + string.digits + "_.-/:")
# One NaN object, so that comparisons against NaN are equal to each other (nan != nan).
NAN: Final = float("nan")


def _canonical(value: Scalar) -> Scalar:
    return NAN if isinstance(value, float) and math.isnan(value) else value


@dataclass(frozen=True, slots=True)
class Comparison:
    """One test of one field of a run, such as ``metrics.acc > 0.9``.

    Attributes:
        entity: ``"metrics"``, ``"params"``, ``"tags"`` or ``"attributes"``.
        key: the metric, param or tag key, or the canonical attribute name
            (``run_id``, ``run_name``, ``status``, ``start_time``, ...).
        op: the canonical operator: ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``LIKE``,
            ``ILIKE``, ``NOT LIKE``, ``NOT ILIKE``, ``IN``, ``NOT IN``, ``IS NULL`` or
            ``IS NOT NULL``.
        value: a float for metrics, a string for params, tags and text attributes, a
            number for ``start_time``/``end_time``; a tuple of those for ``IN``; ``None``
            for ``IS [NOT] NULL``.

    Example:
        >>> str(Comparison("metrics", "val loss", "<", 0.25))
        'metrics.`val loss` < 0.25'
        >>> str(Comparison("params", "model", "IN", ("rf", "gbm")))
        "params.model IN ('rf', 'gbm')"
    """

    entity: Entity
    key: str
    op: str
    value: Value = None

    def __post_init__(self) -> None:
        if isinstance(self.value, tuple):
            object.__setattr__(self, "value", tuple(_canonical(v) for v in self.value))
        elif self.value is not None:
            object.__setattr__(self, "value", _canonical(self.value))

    def __str__(self) -> str:
        identifier = f"{self.entity}.{_render_key(self.key)}"
        if self.op in NULL_OPS:
            return f"{identifier} {self.op}"
        if isinstance(self.value, tuple):
            listed = ", ".join(_render_value(v) for v in self.value)
            return f"{identifier} {self.op} ({listed})"
        assert self.value is not None, f"{self.op} needs a value"
        return f"{identifier} {self.op} {_render_value(self.value)}"


@dataclass(frozen=True, slots=True)
class And:
    """All of two or more filters hold.

    Example:
        >>> a = Comparison("metrics", "acc", ">", 0.9)
        >>> b = Comparison("tags", "team", "=", "growth")
        >>> str(And((a, b)))
        "metrics.acc > 0.9 AND tags.team = 'growth'"
    """

    items: tuple[FilterNode, ...]

    def __str__(self) -> str:
        return " AND ".join(_render_child(item, (And, Or)) for item in self.items)


@dataclass(frozen=True, slots=True)
class Or:
    """Any of two or more filters holds.

    Example:
        >>> a = Comparison("attributes", "status", "=", "failed")
        >>> b = Comparison("metrics", "loss", "=", float("nan"))
        >>> str(Or((a, b)))
        "attributes.status = 'failed' OR metrics.loss = nan"
    """

    items: tuple[FilterNode, ...]

    def __str__(self) -> str:
        return " OR ".join(_render_child(item, (Or,)) for item in self.items)


FilterNode: TypeAlias = Comparison | And | Or


def _render_child(node: FilterNode, needs_parentheses: tuple[type, ...]) -> str:
    # Parentheses exactly where the parser made a nested group, so str() parses back equal.
    return f"({node})" if isinstance(node, needs_parentheses) else str(node)


def _render_key(key: str) -> str:
    if key and all(char in NAME_CHARS for char in key):
        return key
    return "`" + key.replace("`", "``") + "`"


def _render_value(value: Scalar) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
    return repr(value)  # floats: 0.1, 1e-05, inf, nan; ints: 42
