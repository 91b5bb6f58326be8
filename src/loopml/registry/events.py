"""Registry events: every change, in order, with an id consumers resume after.

A change writes its event row in its own transaction (:func:`emit`, or :func:`record`
which also appends the audit row), so an event exists exactly when the change does.
Webhooks and the automation controller read events after a cursor (:func:`list_events`).

Kinds: ``model.created``, ``model.updated``, ``model_version.created``,
``model_version.updated``, ``model_version.status_changed``, ``model_version.evaluated``,
``model_version.approved``, ``model_version.rejected``, ``model_version.promoted``,
``model_version.copied_in`` (in the target of a copy between environments),
``model_version.copied_out`` (in its source), ``alias.set``, ``alias.removed``,
``policy.updated``, ``role.granted``, ``role.revoked``.
Role events belong to no model: their ``model`` is ``""``.

Example:
    >>> record(conn, "alias.set", "churn", 3, {"alias": "staging"}, actor="ana")  # doctest: +SKIP
    >>> [e.kind for e in list_events(conn, after=0)]  # doctest: +SKIP
    ['model.created', 'model_version.created', 'alias.set']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, func, select, text

from loopml.clock import now_ms
from loopml.errors import InvalidInputError
from loopml.registry import _records
from loopml.registry._records import Row
from loopml.registry.models import RegistryEvent
from loopml.store.audit import record as audit
from loopml.store.schema import registry_events

__all__ = ["KINDS", "check_kinds", "emit", "head", "list_events", "record", "to_event"]

KINDS = frozenset(
    {
        "model.created",
        "model.updated",
        "model_version.created",
        "model_version.updated",
        "model_version.status_changed",
        "model_version.evaluated",
        "model_version.approved",
        "model_version.rejected",
        "model_version.promoted",
        "model_version.copied_in",
        "model_version.copied_out",
        "alias.set",
        "alias.removed",
        "policy.updated",
        "role.granted",
        "role.revoked",
    }
)
MAX_LIMIT = 1000
_E = registry_events.c
_INSERT = registry_events.insert()
_TAKE_TURN = text("SELECT pg_advisory_xact_lock(7813586407173939045)")  # b"loopml_e"


def check_kinds(kinds: Iterable[str] | None) -> tuple[str, ...]:
    """``kinds`` as a sorted tuple, each one a known kind (else the list of kinds)."""
    if kinds is None:
        return ()
    if isinstance(kinds, str):
        kinds = [kinds]
    checked = tuple(sorted(set(kinds)))
    unknown = [kind for kind in checked if kind not in KINDS]
    if unknown:
        raise InvalidInputError(
            f"unknown event kind(s) {', '.join(map(repr, unknown))}; "
            f"kinds: {', '.join(sorted(KINDS))}"
        )
    return checked


def emit(
    conn: Connection,
    kind: str,
    model: str,
    version: int | None,
    payload: Mapping[str, Any],
    actor: str,
) -> None:
    """Append one event row in the caller's transaction."""
    if kind not in KINDS:  # a programmer's mistake: kinds are fixed in this module
        raise AssertionError(f"unknown registry event kind {kind!r}")
    if conn.dialect.name == "postgresql":
        # Event ids must grow in commit order, or a consumer that has read id 11 would
        # skip an id 10 committed just after. PostgreSQL hands out sequence values at
        # insert time, so writers take turns from here to their commit (SQLite's
        # BEGIN IMMEDIATE already serializes whole write transactions).
        conn.execute(_TAKE_TURN)
    conn.execute(
        _INSERT,
        {
            "at": now_ms(),
            "kind": kind,
            "model": model,
            "version": version,
            "actor": actor,
            "payload": dict(payload),
        },
    )


def record(
    conn: Connection,
    kind: str,
    model: str,
    version: int | None,
    payload: Mapping[str, Any],
    *,
    actor: str,
    reason: str | None = None,
    object_kind: str | None = None,
    object_id: str | None = None,
) -> None:
    """The audit row and the event of one change, in the caller's transaction.

    The audit action is the event kind; the object is the version (``churn/3``) or the
    model (``churn``) unless ``object_kind``/``object_id`` say otherwise (roles).
    """
    if object_kind is None:
        object_kind = "model_version" if version is not None else "model"
        object_id = f"{model}/{version}" if version is not None else model
    assert object_id is not None
    details = {**payload, "reason": reason} if reason else dict(payload)
    emit(conn, kind, model, version, details, actor)
    audit(
        conn,
        action=kind,
        object_kind=object_kind,
        object_id=object_id,
        reason=reason,
        details=dict(payload),
        actor=actor,
    )


def list_events(
    conn: Connection,
    *,
    after: int = 0,
    limit: int = 100,
    model: str | None = None,
    kinds: Iterable[str] | None = None,
    until: int | None = None,
) -> list[RegistryEvent]:
    """Events with ``after < id (<= until)``, oldest first, at most ``limit``.

    Raises:
        InvalidInputError: a negative cursor, a limit outside 1..1000, an unknown kind, a
            model name with a control character.
    """
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise InvalidInputError(f"after must be an event id (an integer >= 0), got {after!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be between 1 and {MAX_LIMIT}, got {limit!r}")
    wanted = check_kinds(kinds)
    query = select(registry_events).where(_E.id > after)
    if until is not None:
        query = query.where(_E.id <= until)
    if model is not None:
        query = query.where(_E.model == _records.check_name_to_find(model))
    if wanted:
        query = query.where(_E.kind.in_(wanted))
    rows = conn.execute(query.order_by(_E.id).limit(limit)).mappings()
    return [to_event(row) for row in rows]


def head(conn: Connection) -> int:
    """The id of the newest event (0 when there is none)."""
    return int(conn.execute(select(func.coalesce(func.max(_E.id), 0))).scalar_one())


def to_event(row: Row) -> RegistryEvent:
    """A :class:`RegistryEvent` from its row."""
    return RegistryEvent(
        id=int(row["id"]),
        at=row["at"],
        kind=row["kind"],
        model=row["model"],
        version=row["version"],
        actor=row["actor"],
        payload=dict(row["payload"] or {}),
    )
