"""Canonical specs: the JSON form of a definition, its digest, and the diff of two specs.

A definition's identity is the SHA-256 of its spec written as canonical JSON (sorted
keys, no spaces), so the same definition always has the same digest and applying it
again makes no new version. An on-demand view's function counts by its name and code
digest only: where it was found (its module name, which differs between ``import
features`` and ``loopml features apply features.py``, and its file's path) is kept in
the spec to find it again but is not part of the identity.

Example:
    >>> spec_digest({"b": 1, "a": [1, 2]}) == spec_digest({"a": [1, 2], "b": 1})
    True
    >>> [str(c) for c in diff_specs({"ttl": 60, "tags": {}}, {"ttl": 30, "tags": {"a": "x"}})]
    ["tags.a: added 'x'", 'ttl: 60 -> 30']
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from loopml.features.models import FieldChange

__all__ = ["canonical_json", "diff_specs", "spec_digest"]


def canonical_json(spec: Mapping[str, Any]) -> str:
    """``spec`` as JSON with sorted keys and no insignificant whitespace."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# What identifies an on-demand view's function; the rest of its reference says where it is.
_FUNCTION_IDENTITY = ("name", "digest")


def spec_digest(spec: Mapping[str, Any]) -> str:
    """The SHA-256 hex digest of ``spec``'s identity (see the module docstring) as canonical
    JSON.

    Example:
        >>> a = {"name": "f", "function": {"name": "f", "digest": "ab", "module": "features"}}
        >>> b = {"name": "f", "function": {"name": "f", "digest": "ab", "module": "x_1f2e"}}
        >>> spec_digest(a) == spec_digest(b)
        True
    """
    identity = dict(spec)
    function = identity.get("function")
    if isinstance(function, Mapping):
        identity["function"] = {k: function[k] for k in _FUNCTION_IDENTITY if k in function}
    return hashlib.sha256(canonical_json(identity).encode()).hexdigest()


def diff_specs(old: Any, new: Any, path: str = "") -> list[FieldChange]:
    """What changed from ``old`` to ``new``, as dotted paths in sorted order.

    Lists of named items (features, schemas) are compared by name, so adding one
    feature reads ``features.rating: added`` instead of a rewritten list.
    """
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        return _diff_mappings(old, new, path)
    if _named_items(old) and _named_items(new):
        return _diff_named(old, new, path)
    if old == new:
        return []
    return [FieldChange(path or "(spec)", "changed", old, new)]


def _diff_mappings(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> list[FieldChange]:
    changes: list[FieldChange] = []
    for key in sorted(set(old) | set(new)):
        where = f"{path}.{key}" if path else str(key)
        if key not in old:
            changes.append(FieldChange(where, "added", None, new[key]))
        elif key not in new:
            changes.append(FieldChange(where, "removed", old[key], None))
        else:
            changes.extend(diff_specs(old[key], new[key], where))
    return changes


def _diff_named(old: Sequence[Any], new: Sequence[Any], path: str) -> list[FieldChange]:
    before = {item["name"]: item for item in old}
    after = {item["name"]: item for item in new}
    changes = _diff_mappings(before, after, path)
    if not changes and list(before) != list(after):
        changes.append(FieldChange(path, "reordered", list(before), list(after)))
    return changes


def _named_items(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in value)
        and len({item["name"] for item in value}) == len(value)
    )
