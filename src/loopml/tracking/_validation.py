"""Checks on keys and values, so bad input fails early with a message that says why."""

from __future__ import annotations

import math
import numbers
import re
import sys
from collections.abc import Mapping
from typing import Any

from loopml.errors import InvalidInputError, quote

__all__ = [
    "MAX_KEY",
    "MAX_NAME",
    "MAX_PARAM_VALUE",
    "check_key",
    "check_name",
    "metric_step",
    "metric_timestamp",
    "metric_value",
    "param_value",
]

MAX_KEY = 250
MAX_NAME = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_KEY = re.compile(r"^[\w\-. /:]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def check_key(kind: str, key: object) -> str:
    """Return ``key`` if it is a valid metric/param/tag name, else raise InvalidInputError."""
    if not isinstance(key, str):
        raise InvalidInputError(
            f"{kind} names must be strings, got {type(key).__name__} {quote(key)}"
        )
    if len(key) > MAX_KEY:
        raise InvalidInputError(
            f"{kind} name {quote(key, 40)} is too long; the limit is {MAX_KEY} characters",
            details={"key": key[:MAX_KEY], "length": len(key)},
        )
    if not _KEY.match(key) or key.startswith("/") or ".." in key.split("/"):
        raise InvalidInputError(
            f"{kind} name {quote(key)} is not allowed; use letters, digits, and _ - . / : or "
            "space (no leading '/', no '..')"
        )
    return key


def check_name(kind: str, name: object) -> str:
    """Return ``name`` if it can name an experiment or a run, else raise InvalidInputError.

    Any printable text of 1-250 characters; control characters (newline, tab, NUL…)
    are refused, as they would break listings, logs and exports.
    """
    if not isinstance(name, str):
        raise InvalidInputError(
            f"{kind} name must be a string, got {type(name).__name__} {quote(name)}; "
            f"pass the name as text, e.g. {str(name)[:40]!r}"
        )
    if not name.strip() or len(name) > MAX_NAME:
        raise InvalidInputError(
            f"{kind} name must be 1-{MAX_NAME} characters, got {quote(name, 40)}"
            + (f" ({len(name)} characters)" if len(name) <= 40 else "")
        )
    bad = _CONTROL.search(name)
    if bad is not None:
        raise InvalidInputError(
            f"{kind} name {quote(name)} contains the control character {bad.group()!r} "
            f"at position {bad.start()}; use printable characters only"
        )
    return name


def metric_value(key: str, value: Any) -> float:
    """``value`` as a float; NaN and ±inf are kept as they are."""
    if isinstance(value, numbers.Real):  # int, float, bool, numpy scalars, Fraction…
        try:
            return float(value)
        except OverflowError as err:
            raise InvalidInputError(
                f"metric '{key}' value {quote(value, 40)} is too large for a 64-bit float "
                f"(the largest is {sys.float_info.max:.4g}); scale it, or log its logarithm",
                details={"key": key},
            ) from err
    item = getattr(value, "item", None)  # numpy / torch scalars
    if callable(item) and getattr(value, "size", 1) == 1:
        try:
            result = item()
        except (TypeError, ValueError):
            result = None
        if isinstance(result, numbers.Real):
            return float(result)
    raise InvalidInputError(
        f"metric '{key}' must be a number, got {type(value).__name__} {quote(value, 60)}; "
        "log text with log_param or set_tag instead",
        details={"key": key, "type": type(value).__name__},
    )


def mapping(what: str, values: Any) -> Mapping[str, Any]:
    """``values`` if it is a mapping (``{"lr": 0.1}``), else raise InvalidInputError."""
    if not isinstance(values, Mapping):
        raise InvalidInputError(
            f"{what} must be a mapping of names to values, e.g. {{'lr': 0.1}}; got "
            f"{type(values).__name__} {quote(values, 60)}"
        )
    return values


def metric_step(step: Any) -> int:
    """``step`` as an int64; an integral float is taken, anything else refused."""
    return _int64("step", step, exact=True)


def metric_timestamp(timestamp: Any) -> int:
    """``timestamp`` (Unix milliseconds) as an int64; a float is rounded down to the ms.

    ``time.time() * 1000`` is the natural way to write "now" in milliseconds, and it is
    never integral, so floats are converted rather than refused (MLflow accepts them too).
    """
    return _int64("timestamp", timestamp, exact=False)


def _int64(what: str, value: Any, *, exact: bool) -> int:
    hint = (
        "an integer, e.g. step=3"
        if what == "step"
        else "Unix time in milliseconds, e.g. timestamp=int(time.time() * 1000)"
    )
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInputError(
            f"metric {what} must be {hint}; got {type(value).__name__} {quote(value, 40)}",
            details={what: quote(value, 40)},
        )
    if isinstance(value, numbers.Integral):
        number = int(value)
    elif not math.isfinite(value) or (exact and not float(value).is_integer()):
        raise InvalidInputError(
            f"metric {what} must be {hint}; got {quote(value, 40)}",
            details={what: quote(value, 40)},
        )
    else:
        number = math.floor(float(value))
    if not INT64_MIN <= number <= INT64_MAX:
        raise InvalidInputError(
            f"metric {what} {quote(value, 40)} is out of range: it must fit in 64 bits "
            f"({INT64_MIN} to {INT64_MAX}); give {hint}",
            details={what: quote(value, 40)},
        )
    return number


def param_value(key: str, value: Any) -> str:
    """``value`` as the string that is stored; too long a value is refused.

    Only plain values are taken: text, numbers (numpy scalars too), booleans and
    ``None``. Anything else (lists, dicts, objects) has no one faithful text form: an
    object's default text is a memory address. Log such a value as JSON yourself.
    """
    text = value if isinstance(value, str) else str(_plain(key, value))
    if len(text) > MAX_PARAM_VALUE:
        raise InvalidInputError(
            f"param '{key}' value is {len(text)} characters; the limit is {MAX_PARAM_VALUE}; "
            "log large values as an artifact (log_text / log_dict)"
        )
    return text


def _plain(key: str, value: Any) -> Any:
    if value is None or isinstance(value, numbers.Number):  # numpy numbers are Numbers too
        return value
    if getattr(value, "ndim", None) == 0 and callable(getattr(value, "item", None)):
        plain = value.item()  # numpy.bool_ and other 0-d scalars
        if plain is None or isinstance(plain, bool | int | float):
            return plain
    raise InvalidInputError(
        f"param '{key}' must be a string, number, boolean or None, got "
        f"{type(value).__name__} {quote(value, 60)}; log it as text instead, e.g. "
        f"log_param({key!r}, json.dumps(value)) or str(value)",
        details={"key": key, "type": type(value).__name__},
    )


def tag_value(key: str, value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_TAG_VALUE:
        raise InvalidInputError(
            f"tag '{key}' value is {len(text)} characters; the limit is {MAX_TAG_VALUE}"
        )
    return text


def is_nan(value: float) -> bool:
    return math.isnan(value)
