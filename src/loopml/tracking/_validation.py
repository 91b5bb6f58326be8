"""Checks on keys and values, so bad input fails early with a message that says why."""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

from loopml.errors import InvalidInputError

__all__ = ["MAX_KEY", "MAX_PARAM_VALUE", "check_key", "metric_value", "param_value"]

MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
_KEY = re.compile(r"^[\w\-. /:]+$")


def check_key(kind: str, key: object) -> str:
    """Return ``key`` if it is a valid metric/param/tag name, else raise InvalidInputError."""
    if not isinstance(key, str):
        raise InvalidInputError(f"{kind} names must be strings, got {type(key).__name__} {key!r}")
    if len(key) > MAX_KEY:
        raise InvalidInputError(
            f"{kind} name '{key[:40]}…' is {len(key)} characters; the limit is {MAX_KEY}",
            details={"key": key[:MAX_KEY], "length": len(key)},
        )
    if not _KEY.match(key) or key.startswith("/") or ".." in key.split("/"):
        raise InvalidInputError(
            f"{kind} name {key!r} is not allowed; use letters, digits, and _ - . / : or space "
            "(no leading '/', no '..')"
        )
    return key


def metric_value(key: str, value: Any) -> float:
    """``value`` as a float; NaN and ±inf are kept as they are."""
    if isinstance(value, numbers.Real):  # int, float, bool, numpy scalars, Fraction…
        return float(value)
    item = getattr(value, "item", None)  # numpy / torch scalars
    if callable(item) and getattr(value, "size", 1) == 1:
        try:
            result = item()
        except (TypeError, ValueError):
            result = None
        if isinstance(result, numbers.Real):
            return float(result)
    raise InvalidInputError(
        f"metric '{key}' must be a number, got {type(value).__name__} {value!r:.60}; "
        "log text with log_param or set_tag instead",
        details={"key": key, "type": type(value).__name__},
    )


def param_value(key: str, value: Any) -> str:
    """``value`` as the string that is stored; too long a value is refused."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_PARAM_VALUE:
        raise InvalidInputError(
            f"param '{key}' value is {len(text)} characters; the limit is {MAX_PARAM_VALUE}; "
            "log large values as an artifact (log_text / log_dict)"
        )
    return text


def tag_value(key: str, value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_TAG_VALUE:
        raise InvalidInputError(
            f"tag '{key}' value is {len(text)} characters; the limit is {MAX_TAG_VALUE}"
        )
    return text


def is_nan(value: float) -> bool:
    return math.isnan(value)
