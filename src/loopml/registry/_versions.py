"""Writing models and versions: create a model, add a version, move a version's status.

Each function runs in the caller's transaction and writes the change's audit row and
event (:func:`loopml.registry.events.record`) with it. A new version's number comes from
its model's ``next_version`` column, read under the model's row lock, so numbers never
repeat or skip, whatever else registers at the same moment.

Example:
    >>> version = insert_version(conn, "churn", package, description=None, tags={},
    ...                          actor="ana")  # doctest: +SKIP
    >>> version.uri  # doctest: +SKIP
    'models:/churn/4'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, bindparam, update

from loopml._ids import new_id
from loopml.clock import now_ms
from loopml.errors import ConflictError, InvalidInputError
from loopml.registry import _records, events
from loopml.registry._files import copy_files
from loopml.registry._records import Row
from loopml.registry._sources import PackageSource
from loopml.registry.models import ModelVersion, RegisteredModel, VersionStatus
from loopml.store.lineage import add_edge
from loopml.store.schema import model_versions, registered_models
from loopml.uris import model_uri

__all__ = ["change_status", "insert_model", "insert_version", "refuse_if_aliased"]

_M = registered_models.c
_INSERT_MODEL = registered_models.insert()
_INSERT_VERSION = model_versions.insert()
_NEXT = (
    update(registered_models)
    .where(_M.name == bindparam("m"))
    .values(next_version=bindparam("next"), updated_at=bindparam("at"))
)


def insert_model(
    conn: Connection,
    name: str,
    *,
    description: str | None,
    tags: Mapping[str, str],
    actor: str,
    at: int,
) -> RegisteredModel:
    """Insert model ``name`` (the caller checked it does not exist)."""
    row: dict[str, Any] = {
        "name": name,
        "description": description,
        "tags": dict(tags),
        "policy": None,
        "next_version": 1,
        "created_at": at,
        "created_by": actor,
        "updated_at": at,
    }
    conn.execute(_INSERT_MODEL, row)
    events.record(conn, "model.created", name, None, {"description": description}, actor=actor)
    return _records.to_model(row, {})


def insert_version(
    conn: Connection,
    name: str,
    package: PackageSource,
    *,
    description: str | None,
    tags: Mapping[str, str],
    actor: str,
    onnx: Mapping[str, Any] | None = None,
) -> ModelVersion:
    """Add ``package`` as the next version of ``name`` (creating the model when new).

    ``onnx`` says what ONNX conversion did, when it was asked for (kept in the event).
    """
    now = now_ms()
    model = _records.try_lock_model(conn, name)
    if model is None:
        insert_model(conn, name, description=None, tags={}, actor=actor, at=now)
        number = 1
    else:
        number = int(model["next_version"])
    row: dict[str, Any] = {
        "model": name,
        "version": number,
        "id": new_id(),
        "status": VersionStatus.REGISTERED.value,
        "source": package.source,
        "run_id": package.run_id,
        "flavor": package.flavor,
        "package_digest": package.digest,
        "size_bytes": package.size_bytes,
        "description": description,
        "tags": dict(tags),
        "created_at": now,
        "created_by": actor,
        "status_changed_at": now,
    }
    conn.execute(_INSERT_VERSION, row)
    conn.execute(_NEXT, {"m": name, "next": number + 1, "at": now})
    copy_files(conn, package.entries, row["id"], now)
    if package.run_id is not None:
        add_edge(conn, ("run", package.run_id), "produced", ("model_version", f"{name}/{number}"))
    payload: dict[str, Any] = {
        "source": package.source,
        "run_id": package.run_id,
        "flavor": package.flavor,
        "package_digest": package.digest,
    }
    if onnx is not None:
        payload["onnx"] = dict(onnx)
    events.record(conn, "model_version.created", name, number, payload, actor=actor)
    return _records.to_version(row, ())


def refuse_if_aliased(conn: Connection, name: str, version: int, doing: str) -> None:
    """ConflictError naming the aliases that point at ``name/version``, if any."""
    pointing = _records.aliases_of_version(conn, name, version)
    if pointing:
        listed = ", ".join(f"{name}@{alias}" for alias in pointing)
        raise ConflictError(
            f"cannot {doing} {model_uri(name, version)}: {listed} point(s) at it; point "
            "those aliases at another version (promote / set_alias) or remove them first",
            details={"aliases": list(pointing)},
        )


def change_status(
    conn: Connection,
    row: Row,
    target: VersionStatus,
    *,
    actor: str,
    reason: str | None,
) -> ModelVersion:
    """Move the version in ``row`` to ``target`` if its status allows it.

    Raises:
        InvalidInputError: the move is not allowed (the message lists the moves that are).
        ConflictError: archiving a version an alias points at.
    """
    name, version = row["model"], int(row["version"])
    current = VersionStatus(row["status"])
    if current is target:
        return _records.to_version(row, _records.aliases_of_version(conn, name, version))
    if not current.can_move_to(target):
        allowed = sorted(s.value for s in VersionStatus if current.can_move_to(s) and s != current)
        raise InvalidInputError(
            f"{model_uri(name, version)} cannot move from '{current.value}' to '{target.value}'; "
            f"from '{current.value}' it may move to: {', '.join(allowed) or 'nothing'}"
        )
    if target is VersionStatus.ARCHIVED:
        refuse_if_aliased(conn, name, version, "archive")
    now = now_ms()
    _records.update_status(conn, name, version, target, now)
    events.record(
        conn,
        "model_version.status_changed",
        name,
        version,
        {"from": current.value, "to": target.value},
        actor=actor,
        reason=reason,
    )
    changed = {**row, "status": target.value, "status_changed_at": now}
    return _records.to_version(changed, _records.aliases_of_version(conn, name, version))
