"""Path and body numbers checked before they reach a store (SQL integers are 64-bit)."""

from __future__ import annotations

from typing import Any

from loopml.errors import InvalidInputError
from loopml.server.api import Call

__all__ = ["INT64_MAX", "body_version", "path_id", "path_version"]

INT64_MAX = 2**63 - 1


def path_version(call: Call, name: str = "version") -> int:
    """The path parameter ``name`` as a version number (1 to 2**63 - 1); 400 otherwise."""
    raw = call.path[name]
    number = int(raw) if raw.isascii() and raw.isdigit() else 0
    if not 1 <= number <= INT64_MAX:
        raise InvalidInputError(
            f"version {raw!r} is not a version number; give a whole number from 1, "
            "e.g. /models/churn/versions/3",
            details={"parameter": name},
        )
    return number


def body_version(call: Call, name: str = "version", *, default: Any = ...) -> Any:
    """Body field ``name`` as a version number (or ``default`` when missing)."""
    value = call.field(name, int, default=default)
    if value is default:
        return value
    if not 1 <= value <= INT64_MAX:
        raise InvalidInputError(
            f"field '{name}' must be a version number from 1 to {INT64_MAX}, got {value}",
            details={"field": name},
        )
    return int(value)


def path_id(call: Call, name: str, what: str) -> int:
    """The path parameter ``name`` as the id of a ``what`` (1 to 2**63 - 1); 400 otherwise."""
    raw = call.path[name]
    number = int(raw) if raw.isascii() and raw.isdigit() else 0
    if not 1 <= number <= INT64_MAX:
        raise InvalidInputError(
            f"{what} id {raw!r} is not an id; give the whole number loopml showed, e.g. 12",
            details={"parameter": name},
        )
    return number
