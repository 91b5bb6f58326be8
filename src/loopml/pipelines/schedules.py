"""Registered pipelines: a pipeline with a cron schedule and/or triggers, ready to fire.

:func:`register_pipeline` checks what the automation controller will rely on before
it stores anything: the pipeline imports from its entrypoint and traces with the
params, the schedule is valid cron in a real time zone (see ``_cron``: five fields,
minute precision, DST handled like Vixie cron), and each trigger is valid, with its
baseline recorded (see :mod:`loopml.pipelines.triggers`). Registering the same name
again updates it; ``version`` goes up by one with every change (enabling and
disabling too) and every change writes an audit row: ``pipeline.register``,
``pipeline.enable``, ``pipeline.disable``, ``pipeline.unregister``. Registering again
with nothing changed stores nothing.

Example:
    >>> from loopml.pipelines.triggers import on_dataset
    >>> registration = register_pipeline(
    ...     "flows/train.py:train", schedule="0 3 * * *", timezone="Europe/Berlin",
    ...     triggers=[on_dataset("churn")], params={"depth": 6},
    ... )  # doctest: +SKIP
    >>> registration.version, registration.next_fire_times(1)  # doctest: +SKIP
    (1, [datetime.datetime(2025, 1, 2, 3, 0, tzinfo=zoneinfo.ZoneInfo(key='Europe/Berlin'))])
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from loopml.clock import now_ms
from loopml.config import Settings
from loopml.errors import InvalidInputError, NotFoundError
from loopml.pipelines import _baselines
from loopml.pipelines._cron import check_schedule, check_timezone, fire_times
from loopml.pipelines._registration import (
    Registration,
    check_executor,
    check_params,
    load_target,
    source_digest_of,
    source_files,
    trace,
)
from loopml.pipelines.triggers import Trigger
from loopml.store import Store, audit, open_store
from loopml.store.schema import registered_pipelines as _table

__all__ = [
    "Registration",
    "get_registration",
    "list_registrations",
    "next_fire_times",
    "register_pipeline",
    "set_enabled",
    "unregister",
]

_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,200}$")
_HINT = "list them with `loopml pipeline schedules`"
_FIELDS = (
    "entrypoint",
    "params",
    "executor",
    "schedule",
    "timezone",
    "triggers",
    "source_digest",
    "enabled",
)


def register_pipeline(
    target: Any,
    *,
    name: str | None = None,
    schedule: str | None = None,
    timezone: str = "UTC",
    triggers: Sequence[Trigger] = (),
    params: Mapping[str, Any] | None = None,
    executor: str | None = None,
    enabled: bool = True,
    settings: Settings | None = None,
) -> Registration:
    """Store a pipeline with a schedule and/or triggers (or update it), after checking them.

    Args:
        target: ``"package.module:name"``, ``"path/to/file.py:name"`` or a
            :class:`~loopml.pipelines.Pipeline` defined at module level. A module must
            be importable where the automation controller runs; a file is stored with
            its absolute path.
        name: the registration's name (default: the pipeline's).
        schedule: a five-field cron expression such as ``"0 3 * * *"``, or ``@daily``.
        timezone: the IANA zone the schedule is read in.
        triggers: :func:`~loopml.pipelines.triggers.on_dataset`,
            :func:`~loopml.pipelines.triggers.on_webhook`,
            :func:`~loopml.pipelines.triggers.on_git_change`.
        params: the pipeline's parameters for every run (JSON values).
        executor: the executor URL of its runs (default: the pipeline's or the setting).
        enabled: ``False`` stores it without letting it fire.
        settings: the store to use (default: :meth:`Settings.load`).

    Returns:
        The stored registration; ``webhook_token`` holds a new webhook's token (shown
        only here), ``warnings`` what deserves a look, ``changed`` what changed.

    Raises:
        InvalidInputError: a bad schedule, zone, trigger, params or executor; neither a
            schedule nor a trigger; a pipeline that cannot be imported again or traced.
        NotFoundError: the target's module, file or pipeline does not exist.
    """
    triggers = list(triggers)
    if schedule is not None:
        schedule = check_schedule(schedule)
    check_timezone(timezone)
    if schedule is None and not triggers:
        raise InvalidInputError(
            "give a schedule (e.g. '0 3 * * *') or at least one trigger (on_dataset(name), "
            "on_webhook(), on_git_change()); a registration without either never fires"
        )
    pipeline, entrypoint = load_target(target)
    name = name or pipeline.name
    if not _NAME.match(name):
        raise InvalidInputError(
            f"registration name {name!r} may hold only letters, digits, '_', '.', '-'"
        )
    values = check_params(params)
    graph = trace(pipeline, values)
    checked, warnings = _baselines.check_triggers(triggers, source_files(pipeline, graph))
    fields = {
        "entrypoint": entrypoint,
        "params": values,
        "executor": check_executor(executor),
        "schedule": schedule,
        "timezone": timezone,
        "source_digest": source_digest_of(pipeline, graph),
        "enabled": enabled,
    }

    def work(conn: Connection) -> Registration:
        row = _select(conn, name, lock=True)
        previous = Registration.from_row(row) if row is not None else None
        recorded, token, notes = _baselines.record_baselines(
            conn, checked, previous.triggers if previous else ()
        )
        new = {**fields, "triggers": [t.to_dict() for t in recorded]}
        changed = _write(conn, name, new, row)
        stored = Registration.from_row(_select(conn, name))
        return stored.with_result(
            webhook_token=token, warnings=(*warnings, *notes), changed=changed
        )

    return _transact(_store(settings), work)


def get_registration(name: str, *, settings: Settings | None = None) -> Registration:
    """The registration called ``name`` (NotFoundError with close names if none)."""
    with _store(settings).read() as conn:
        return Registration.from_row(_existing(conn, name))


def list_registrations(*, settings: Settings | None = None) -> list[Registration]:
    """Every registration, by name."""
    with _store(settings).read() as conn:
        rows = conn.execute(select(_table).order_by(_table.c.name))
        return [Registration.from_row(row) for row in rows]


def unregister(
    name: str, *, reason: str | None = None, settings: Settings | None = None
) -> Registration:
    """Remove a registration (it stops firing); returns what was removed.

    ``reason`` is kept in the audit log.
    """

    def work(conn: Connection) -> Registration:
        removed = Registration.from_row(_existing(conn, name, lock=True))
        conn.execute(delete(_table).where(_table.c.name == name))
        audit.record(
            conn,
            action="pipeline.unregister",
            object_kind="pipeline",
            object_id=name,
            reason=reason,
            details={"version": removed.version, "entrypoint": removed.entrypoint},
        )
        return removed

    return _store(settings).transact(work)


def set_enabled(
    name: str, enabled: bool, *, reason: str | None = None, settings: Settings | None = None
) -> Registration:
    """Let a registration fire (``True``) or keep it stored but silent (``False``).

    A change bumps ``version`` and writes an audit row (with ``reason``); setting
    the state it already has changes nothing.
    """

    def work(conn: Connection) -> Registration:
        row = _existing(conn, name, lock=True)
        if bool(row.enabled) != enabled:
            conn.execute(
                update(_table)
                .where(_table.c.name == name)
                .values(enabled=enabled, version=row.version + 1, **_stamp())
            )
            audit.record(
                conn,
                action="pipeline.enable" if enabled else "pipeline.disable",
                object_kind="pipeline",
                object_id=name,
                reason=reason,
                details={"version": row.version + 1},
            )
        return Registration.from_row(_existing(conn, name))

    return _store(settings).transact(work)


def next_fire_times(
    schedule: Registration | str,
    count: int = 5,
    *,
    after: datetime | None = None,
    timezone: str = "UTC",
) -> list[datetime]:
    """When a registration (or a cron expression) fires next, in its time zone.

    ``after`` defaults to now; a naive ``after`` is read in the zone. A registration
    without a schedule (triggers only) has no fire times.

    Example:
        >>> [t.isoformat() for t in next_fire_times(
        ...     "0 3 * * *", 2, after=datetime(2024, 3, 30), timezone="Europe/Berlin")]
        ['2024-03-30T03:00:00+01:00', '2024-03-31T03:00:00+02:00']
    """
    if count < 0:
        raise InvalidInputError(f"count must be 0 or more, got {count}")
    if isinstance(schedule, Registration):
        if schedule.schedule is None:
            return []
        return fire_times(schedule.schedule, schedule.timezone, count, after=after)
    return fire_times(check_schedule(schedule), timezone, count, after=after)


def _write(conn: Connection, name: str, new: dict[str, Any], row: Any) -> tuple[str, ...]:
    if row is None:
        now = _stamp()
        conn.execute(
            insert(_table).values(name=name, version=1, created_at=now["updated_at"], **new, **now)
        )
        changed: tuple[str, ...] = ("created",)
        version = 1
    else:
        old = row._mapping
        changed = tuple(k for k in _FIELDS if old[k] != new[k])
        if not changed:
            return ()
        version = row.version + 1
        conn.execute(
            update(_table).where(_table.c.name == name).values(version=version, **new, **_stamp())
        )
    details = {"version": version, "changed": list(changed), **new}
    details["triggers"] = [t["kind"] for t in new["triggers"]]
    audit.record(
        conn, action="pipeline.register", object_kind="pipeline", object_id=name, details=details
    )
    return changed


def _select(conn: Connection, name: str, *, lock: bool = False) -> Any:
    query = select(_table).where(_table.c.name == name)
    return conn.execute(query.with_for_update() if lock else query).first()


def _existing(conn: Connection, name: str, *, lock: bool = False) -> Any:
    row = _select(conn, name, lock=lock)
    if row is None:
        names = conn.execute(select(_table.c.name)).scalars()
        raise NotFoundError("registered pipeline", name, choices=names, hint=_HINT)
    return row


def _stamp() -> dict[str, Any]:
    return {"updated_at": now_ms(), "updated_by": audit.current_actor()}


def _store(settings: Settings | None) -> Store:
    return open_store((settings or Settings.load()).db_url)


def _transact(store: Store, work: Callable[[Connection], Registration]) -> Registration:
    try:
        return store.transact(work)
    except SqlIntegrityError:
        # Two first registrations of one name raced to insert: the loser now updates.
        return store.transact(work)
