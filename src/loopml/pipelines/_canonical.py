"""Canonical JSON: one byte string per value, so digests of params are stable.

Example:
    >>> canonical_json({"b": 1, "a": [1.0, None]})
    b'{"a":[1.0,null],"b":1}'
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

__all__ = ["canonical_json", "digest_of", "is_json_value"]

_MAX_DEPTH = 32


def is_json_value(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is JSON that reads back equal: dicts with str keys, lists, scalars.

    Tuples are not (they come back as lists); NaN and infinities are not (JSON has none).
    """
    if value is None or isinstance(value, bool | str | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if depth > _MAX_DEPTH:
        return False
    if type(value) is list:
        return all(is_json_value(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(isinstance(k, str) and is_json_value(v, depth + 1) for k, v in value.items())
    return False


def canonical_json(value: Any) -> bytes:
    """``value`` as compact JSON with sorted keys (``value`` must pass :func:`is_json_value`)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def digest_of(value: Any) -> str:
    """The SHA-256 of :func:`canonical_json` of ``value``."""
    return hashlib.sha256(canonical_json(value)).hexdigest()
