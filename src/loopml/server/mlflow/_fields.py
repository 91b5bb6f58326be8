"""What the MLflow modules share in reading and writing MLflow's messages: the
``[{"key": …, "value": …}]`` lists of tags and params, and loopml's own tags kept out of them.

Example:
    >>> key_values([{"key": "team", "value": "growth"}, {"key": "empty"}], "tags")
    {'team': 'growth', 'empty': ''}
    >>> key_value_list({"b": "2", "a": "1", "mine": "x"}, hidden=("mine",))
    [{'key': 'a', 'value': '1'}, {'key': 'b', 'value': '2'}]
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from loopml.errors import InvalidInputError

__all__ = ["key_value_list", "key_values", "not_own"]


def key_values(value: Any, what: str) -> dict[str, str]:
    """``[{"key": k, "value": v}, …]`` (or nothing) as a dict; a missing value is ``""``.

    Raises:
        InvalidInputError: not a list, or an item without a string ``key``.
    """
    if value is None:
        return {}
    if not isinstance(value, list):
        raise InvalidInputError(f"'{what}' must be a list of {{key, value}} objects")
    found: dict[str, str] = {}
    for item in value:
        if not isinstance(item, Mapping) or not isinstance(item.get("key"), str):
            raise InvalidInputError(f"each of '{what}' needs a string 'key', got {item!r}")
        found[item["key"]] = "" if item.get("value") is None else str(item["value"])
    return found


def key_value_list(values: Mapping[str, str], hidden: Collection[str] = ()) -> list[dict[str, str]]:
    """``values`` as MLflow's list of ``{"key", "value"}``, by key, without the ``hidden`` keys."""
    return [{"key": k, "value": v} for k, v in sorted(values.items()) if k not in hidden]


def not_own(key: str, own: Collection[str]) -> str:
    """``key``, unless it is one of loopml's ``own`` tags (which MLflow may not set).

    Raises:
        InvalidInputError: ``key`` is in ``own``.
    """
    if key in own:
        raise InvalidInputError(f"the tag {key!r} is loopml's own; use another key")
    return key
