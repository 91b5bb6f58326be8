"""Registry rows in the metadata store: find them, lock them, turn them into value objects.

Every function takes the caller's connection, so a change and its audit and event rows
commit together. A write that touches one model first locks that model's
``registered_models`` row (:func:`lock_model`: ``SELECT … FOR UPDATE`` on PostgreSQL;
SQLite's ``BEGIN IMMEDIATE`` already serializes writers), so version numbers, alias
moves and status changes of one model never interleave.

Lookups that miss raise :class:`~loopml.errors.NotFoundError` listing what exists
("versions of 'churn': 1-7, 9").

Example:
    >>> number_ranges([1, 2, 3, 5, 7, 8])
    '1-3, 5, 7-8'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

from sqlalchemy import Connection, RowMapping, bindparam, select, update

from loopml.errors import InvalidInputError, NotFoundError, quote
from loopml.registry.models import (
    AliasChange,
    Approval,
    ModelVersion,
    PromotionPolicy,
    RegisteredModel,
    VersionStatus,
)
from loopml.store.schema import model_aliases, model_versions, registered_models

#: A row as SQLAlchemy returns it, or a plain dict built the same way.
Row: TypeAlias = RowMapping | Mapping[str, Any]

__all__ = [
    "Row",
    "aliases_of_model",
    "aliases_of_version",
    "check_model_name",
    "check_name_to_find",
    "check_tags",
    "find_model",
    "find_version",
    "lock_model",
    "merge_tags",
    "model_names",
    "number_ranges",
    "to_alias_change",
    "to_approval",
    "to_model",
    "to_version",
    "try_lock_model",
    "update_status",
]

# The same names ``models:/<name>/…`` URIs accept (see loopml.uris), so every model has a URI.
_MODEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_MAX_NAME = 250
_M = registered_models.c
_V = model_versions.c
_A = model_aliases.c

# Prebuilt statements for the hot paths (SQLAlchemy caches their compiled form).
_LOCK_MODEL = select(registered_models).where(_M.name == bindparam("name")).with_for_update()
_FIND_MODEL = select(registered_models).where(_M.name == bindparam("name"))
_FIND_VERSION = select(model_versions).where(
    _V.model == bindparam("model"), _V.version == bindparam("version")
)
_VERSION_ALIASES = (
    select(_A.alias)
    .where(_A.model == bindparam("model"), _A.version == bindparam("version"))
    .order_by(_A.alias)
)
_MODEL_ALIASES = select(_A.alias, _A.version).where(_A.model == bindparam("model"))
_SET_STATUS = (
    update(model_versions)
    .where(_V.model == bindparam("m"), _V.version == bindparam("v"))
    .values(status=bindparam("status"), status_changed_at=bindparam("at"))
)


def check_model_name(name: object) -> str:
    """``name`` if it can be a model's name, else an error that shows the rule."""
    if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name) or len(name) > _MAX_NAME:
        raise InvalidInputError(
            f"model name {quote(name)} is not valid; use letters, digits, '_', '.' and '-' "
            f"(starting with a letter, digit or '_', at most {_MAX_NAME} characters), "
            "e.g. 'churn-classifier'"
        )
    return name


def check_name_to_find(name: object) -> str:
    """``name`` if it may be looked up: text without control characters (a name no model
    can have is then simply not found), else :func:`check_model_name`'s error.

    Checked before a lookup's query: PostgreSQL refuses text holding NUL.
    """
    if isinstance(name, str) and name.isprintable():
        return name
    return check_model_name(name)  # raises: no valid name holds a control character


def check_tags(tags: Mapping[str, Any] | None, what: str) -> dict[str, str | None]:
    """Tags as ``{str: str}``; ``None`` values (removals in an update) are kept."""
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidInputError(f"{what} tags must be a mapping of names to strings, got {tags!r}")
    checked: dict[str, str | None] = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key or len(key) > _MAX_NAME:
            raise InvalidInputError(f"{what} tag name {key!r} must be a non-empty string")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise InvalidInputError(
                f"{what} tag '{key}' must be a string (or a number), got {type(value).__name__}"
            )
        checked[key] = None if value is None else str(value)
    return checked


def merge_tags(old: Mapping[str, str], updates: Mapping[str, str | None]) -> dict[str, str]:
    """``old`` with ``updates`` applied: a ``None`` value removes the tag."""
    merged = dict(old)
    for key, value in updates.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def number_ranges(numbers: Iterable[int]) -> str:
    """Sorted numbers as compact ranges: ``1-3, 5`` (``none yet`` when empty)."""
    parts: list[str] = []
    start = end = None
    for n in sorted(numbers):
        if end is not None and n == end + 1:
            end = n
            continue
        if start is not None:
            parts.append(str(start) if start == end else f"{start}-{end}")
        start = end = n
    if start is not None:
        parts.append(str(start) if start == end else f"{start}-{end}")
    return ", ".join(parts) or "none yet"


# -- lookups ---------------------------------------------------------------------------


def model_names(conn: Connection) -> list[str]:
    """Every registered model's name, sorted."""
    return sorted(conn.execute(select(_M.name)).scalars())


def _model_missing(conn: Connection, name: str) -> NotFoundError:
    names = model_names(conn)
    return NotFoundError(
        "model",
        name,
        choices=names,
        hint=(
            f"registered models: {', '.join(names)}"
            if names
            else "no model is registered yet; register one with RegistryClient.register"
        ),
    )


def find_model(conn: Connection, name: str) -> RowMapping:
    """The ``registered_models`` row of ``name`` (NotFoundError listing the models).

    Raises:
        InvalidInputError: ``name`` holds a control character (:func:`check_name_to_find`).
    """
    row = conn.execute(_FIND_MODEL, {"name": check_name_to_find(name)}).mappings().first()
    if row is None:
        raise _model_missing(conn, name)
    return row


def lock_model(conn: Connection, name: str) -> RowMapping:
    """:func:`find_model`, holding the row's lock until the transaction ends."""
    row = try_lock_model(conn, name)
    if row is None:
        raise _model_missing(conn, name)
    return row


def try_lock_model(conn: Connection, name: str) -> RowMapping | None:
    """:func:`lock_model`, or ``None`` when there is no such model yet."""
    return conn.execute(_LOCK_MODEL, {"name": check_name_to_find(name)}).mappings().first()


_MAX_VERSION = 2**31 - 1


def find_version(conn: Connection, name: str, version: int) -> RowMapping:
    """The ``model_versions`` row of ``name/version``.

    Raises:
        NotFoundError: no such model (with the models there are) or version (with the
            versions of the model, as ranges).
        InvalidInputError: ``version`` is not a positive integer.
    """
    check_name_to_find(name)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidInputError(
            f"version must be a positive integer, got {version!r}; e.g. get_version('{name}', 3)"
        )
    # Versions are 32-bit in the store: a larger number names no version (and would
    # overflow the driver), so it is looked up as the missing version it is.
    row = (
        conn.execute(_FIND_VERSION, {"model": name, "version": version}).mappings().first()
        if version <= _MAX_VERSION
        else None
    )
    if row is None:
        find_model(conn, name)  # an unknown model says so first
        numbers = conn.execute(select(_V.version).where(_V.model == name)).scalars()
        raise NotFoundError(
            "model version",
            f"{name}/{version}",
            hint=f"versions of '{name}': {number_ranges(numbers)}",
        )
    return row


def aliases_of_version(conn: Connection, name: str, version: int) -> tuple[str, ...]:
    """The aliases pointing at ``name/version``, sorted."""
    return tuple(conn.execute(_VERSION_ALIASES, {"model": name, "version": version}).scalars())


def aliases_of_model(conn: Connection, name: str) -> dict[str, int]:
    """Every alias of ``name`` and the version it points at, sorted by alias."""
    rows = conn.execute(_MODEL_ALIASES, {"model": name}).all()
    return dict(sorted((alias, int(version)) for alias, version in rows))


def update_status(
    conn: Connection, name: str, version: int, status: VersionStatus, at: int
) -> None:
    """Set the status of ``name/version`` (the caller checked the move is allowed)."""
    conn.execute(_SET_STATUS, {"m": name, "v": version, "status": status.value, "at": at})


# -- value objects ---------------------------------------------------------------------


def to_model(row: Row, aliases: Mapping[str, int]) -> RegisteredModel:
    """A :class:`RegisteredModel` from its row and its aliases."""
    next_version = int(row["next_version"])
    return RegisteredModel(
        name=row["name"],
        description=row["description"],
        tags=dict(row["tags"] or {}),
        policy=PromotionPolicy.from_dict(row["policy"]),
        aliases=dict(aliases),
        latest_version=next_version - 1 if next_version > 1 else None,
        created_at=row["created_at"],
        created_by=row["created_by"],
        updated_at=row["updated_at"],
    )


def to_version(row: Row, aliases: Iterable[str]) -> ModelVersion:
    """A :class:`ModelVersion` from its row and the aliases pointing at it."""
    return ModelVersion(
        model=row["model"],
        version=int(row["version"]),
        id=row["id"],
        status=VersionStatus(row["status"]),
        source=row["source"],
        run_id=row["run_id"],
        flavor=row["flavor"],
        package_digest=row["package_digest"],
        size_bytes=int(row["size_bytes"]),
        description=row["description"],
        tags=dict(row["tags"] or {}),
        aliases=tuple(aliases),
        created_at=row["created_at"],
        created_by=row["created_by"],
        status_changed_at=row["status_changed_at"],
    )


def to_alias_change(row: Row) -> AliasChange:
    """An :class:`AliasChange` from an ``alias_history`` row."""
    return AliasChange(
        id=int(row["id"]),
        model=row["model"],
        alias=row["alias"],
        version=row["version"],
        previous_version=row["previous_version"],
        at=row["at"],
        actor=row["actor"],
        reason=row["reason"],
    )


def to_approval(row: Row) -> Approval:
    """An :class:`Approval` from an ``approvals`` row."""
    return Approval(
        id=int(row["id"]),
        model=row["model"],
        version=int(row["version"]),
        decision=row["decision"],
        actor=row["actor"],
        role=row["role"],
        comment=row["comment"],
        at=row["at"],
    )
