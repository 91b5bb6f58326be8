"""What several ``/api/v1`` modules share: JSON bodies MLflow-style, numbers out, pages out.

Example:
    >>> number_out(float("nan")), number_out(2.5)
    ('NaN', 2.5)
    >>> number_in("x", "-Infinity")
    -inf
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import orjson

from loopml.errors import InvalidInputError, quote
from loopml.paging import Page
from loopml.server.api import Call, Param

__all__ = [
    "ORDER",
    "body_value",
    "listing",
    "number_in",
    "number_out",
    "raw_values",
]

T = TypeVar("T")

ORDER = Param("order_by", "array", "a sort key such as 'metrics.auc desc' (repeatable)")
# Protobuf's JSON (what MLflow clients send) spells the special floats as strings.
_SPECIAL = {"nan": math.nan, "infinity": math.inf, "inf": math.inf}


def body_value(call: Call) -> Any:
    """The request body as JSON of any shape, with NaN and ±Infinity literals allowed.

    Python's ``json`` writes ``NaN`` and ``Infinity`` for special floats (MLflow's client
    logs them that way), which strict JSON parsers refuse; they are numbers here.
    """
    if not call.body.strip():
        return None
    try:
        return orjson.loads(call.body)
    except orjson.JSONDecodeError as strict:
        try:
            return json.loads(call.body)
        except ValueError:  # JSONDecodeError, or an integer too long to convert
            raise InvalidInputError(
                f"the request body is not valid JSON ({strict}); send a JSON object"
            ) from strict


def number_in(name: str, value: object) -> float:
    """A metric value from JSON: a number, or ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.

    Raises:
        InvalidInputError: anything else (``true``, other text, lists…).
    """
    if isinstance(value, str):
        text = value.strip().lower()
        sign = -1.0 if text.startswith("-") else 1.0
        special = _SPECIAL.get(text.lstrip("+-"))
        if special is not None:
            return special * sign if not math.isnan(special) else special
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            pass
    raise InvalidInputError(
        f'{name} must be a number (or "NaN", "Infinity", "-Infinity"), got '
        f"{type(value).__name__} {quote(value, 40)}",
        details={"field": name},
    )


def number_out(value: float) -> float | str:
    """``value`` for JSON: special floats as the strings :func:`number_in` reads back."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def raw_values(call: Call, name: str) -> list[str]:
    """Every value of a repeated query parameter, as sent (no splitting on commas)."""
    return [value for value in call.query.get(name, []) if value]


def listing(plural: str, page: Page[T], shape: Callable[[T], Any] | None = None) -> dict[str, Any]:
    """``{"<plural>": [...], "next_page_token": ...}`` for one page of a listing."""
    items: Iterable[Any] = page.items if shape is None else map(shape, page.items)
    return {plural: list(items), "next_page_token": page.next_page_token}
