"""MLflow's registry search: its filter grammar, ``order_by`` and page tokens, over dicts.

The registry's searches filter on a handful of attributes joined by ``AND``:
``name = 'churn'``, ``name LIKE 'ch%'``, ``name ILIKE '%Churn%'``, ``run_id IN ('a', 'b')``,
``source_path = '…'``, ``version_number > 2``, ``tags.owner = 'ana'`` (or
``tags.`team name` = '…'``). Here a filter becomes a predicate over MLflow's JSON of a
model or version; the searches are over one registry's models, which a page of the
registry's own listing already holds.

Example:
    >>> matches = parse_filter("name LIKE 'ch%' AND tags.owner = 'ana'")
    >>> matches({"name": "churn", "tags": [{"key": "owner", "value": "ana"}]})
    True
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from typing import Any

from loopml.errors import InvalidInputError

__all__ = ["named_model", "order", "page", "parse_filter"]

Predicate = Callable[[dict[str, Any]], bool]

_CLAUSE = re.compile(
    r"""\s*(?P<key>tags?\.`[^`]+`|tags?\.[\w.\-]+|`[^`]+`|[\w.]+)\s*
    (?P<op>!=|<=|>=|=|<|>|NOT\s+IN|IN|NOT\s+LIKE|LIKE|ILIKE)\s*
    (?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\([^)]*\)|[-\w.]+)\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_AND = re.compile(r"\s+AND\s+(?=(?:[^'\"]*['\"][^'\"]*['\"])*[^'\"]*$)", re.IGNORECASE)
_KEYS = {
    "name": "name",
    "run_id": "run_id",
    "source_path": "source",
    "source": "source",
    "version_number": "version",
    "version": "version",
}


def parse_filter(text: str | None) -> Predicate:
    """A predicate for MLflow's ``filter`` string (``""``: everything matches).

    Raises:
        InvalidInputError: a clause that is not ``key op value`` (the message names it).
    """
    if not text or not text.strip():
        return lambda item: True
    tests = [_clause(part) for part in _AND.split(text.strip())]
    return lambda item: all(test(item) for test in tests)


def named_model(text: str | None) -> str | None:
    """The model a filter's ``name = '…'`` clause names, if it has one (to search only it)."""
    for part in _AND.split(text.strip()) if text else ():
        found = _CLAUSE.fullmatch(part)
        if found and found["key"].strip("`").lower() == "name" and found["op"] == "=":
            value = _value(found["value"])
            return value if isinstance(value, str) else None
    return None


def _clause(text: str) -> Predicate:
    found = _CLAUSE.fullmatch(text)
    if found is None:
        raise InvalidInputError(
            f"cannot read the filter clause {text!r}; write key op value, e.g. "
            "name = 'churn', name LIKE 'ch%', run_id IN ('a', 'b') or tags.owner = 'ana'"
        )
    key = found["key"].strip("`")
    op = " ".join(found["op"].upper().split())
    value = _value(found["value"])
    prefix, dot, rest = key.partition(".")
    if dot and prefix.lower() in ("tag", "tags"):
        tag = rest.strip("`")
        return lambda item: _compare(_tag(item, tag), op, value)
    if dot and prefix.lower() in ("attribute", "attributes"):
        key = rest
    field = _KEYS.get(key)
    if field is None:
        raise InvalidInputError(
            f"cannot filter on {key!r}; filter on name, run_id, source_path, "
            "version_number or tags.<key>"
        )
    return lambda item: _compare(item.get(field), op, value)


def _value(text: str) -> str | list[str]:
    if text.startswith("("):
        return [_value(part.strip()) for part in text[1:-1].split(",") if part.strip()]  # type: ignore[misc]
    if text[:1] in "'\"":
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def _tag(item: dict[str, Any], key: str) -> str | None:
    for tag in item.get("tags") or ():
        if tag["key"] == key:
            return str(tag["value"])
    return None


def _compare(have: Any, op: str, want: str | list[str]) -> bool:
    if have is None:
        return op in ("!=", "NOT IN", "NOT LIKE")
    if isinstance(want, list):
        inside = str(have) in want
        return inside if op == "IN" else not inside if op == "NOT IN" else _bad(op)
    if op in ("LIKE", "ILIKE", "NOT LIKE"):
        flags = re.IGNORECASE if op == "ILIKE" else 0
        pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in want)
        matched = re.fullmatch(pattern, str(have), flags | re.DOTALL) is not None
        return not matched if op == "NOT LIKE" else matched
    left: Any = have
    right: Any = want
    if op in ("<", ">", "<=", ">=") or isinstance(have, int):
        try:
            left, right = float(have), float(want)
        except ValueError:
            left, right = str(have), want
    else:
        left = str(have)
    results = {
        "=": left == right,
        "!=": left != right,
        "<": left < right,
        ">": left > right,
        "<=": left <= right,
        ">=": left >= right,
    }
    return results[op] if op in results else _bad(op)


def _bad(op: str) -> bool:
    raise InvalidInputError(f"the operator {op} does not fit this value; use IN with a list")


def order(items: list[dict[str, Any]], order_by: Sequence[str], default: str) -> None:
    """Sort ``items`` in place by MLflow's ``order_by`` (``"name ASC"``, ``"timestamp DESC"``)."""
    keys = list(order_by) or [default]
    for clause in reversed(keys):
        parts = clause.split()
        if (
            not parts
            or len(parts) > 2
            or (len(parts) == 2 and parts[1].upper() not in ("ASC", "DESC"))
        ):
            raise InvalidInputError(
                f"cannot read order_by {clause!r}; write a key and ASC or DESC, e.g. 'name ASC'"
            )
        field = {
            "timestamp": "last_updated_timestamp",
            "version_number": "version",
        }.get(parts[0], parts[0])
        if field not in ("name", "last_updated_timestamp", "creation_timestamp", "version"):
            raise InvalidInputError(
                f"cannot order by {parts[0]!r}; order by name, timestamp, "
                "creation_timestamp or version_number"
            )
        descending = len(parts) == 2 and parts[1].upper() == "DESC"
        items.sort(key=lambda item: _sortable(item.get(field)), reverse=descending)


def _sortable(value: Any) -> tuple[int, Any]:
    if isinstance(value, str) and value.isdigit():
        return (0, int(value))
    return (0, value) if value is not None else (1, 0)


def page(
    items: list[dict[str, Any]], max_results: int, token: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``items`` and the token of the next (an offset, as MLflow's own is)."""
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (ValueError, UnicodeDecodeError) as err:
            raise InvalidInputError(
                f"page_token {token!r} is not one this server gave; start again without it"
            ) from err
    end = start + max_results
    following = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], following
