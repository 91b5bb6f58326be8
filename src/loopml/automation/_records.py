"""Rows of the automation tables, read and written inside the caller's transaction.

Example:
    >>> plan_id = insert_plan(conn, key="request:3", pipeline="train", model="churn",
    ...                       trigger={"kind": "manual"})  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from loopml.automation.models import ENDED, AutomationPolicy, Plan
from loopml.clock import now_ms
from loopml.errors import NotFoundError
from loopml.store.schema import (
    automation_cursors,
    automation_plans,
    automation_policies,
    automation_requests,
)

__all__ = [
    "ACTIVE",
    "active_plans",
    "append_log",
    "find_plan",
    "insert_plan",
    "plan_of",
    "policies_for",
    "policy_row",
    "read_cursor",
    "write_cursor",
]

ACTIVE = ("running", "waiting")
_P = automation_plans.c
_C = automation_cursors.c
_POL = automation_policies.c
_MAX_LOG = 200


def plan_of(row: Any) -> Plan:
    data = row._mapping
    return Plan(
        id=int(data["id"]),
        key=data["key"],
        pipeline=data["pipeline"],
        model=data["model"],
        trigger=dict(data["trigger"] or {}),
        state=data["state"],
        step=data["step"],
        version=data["version"],
        pipeline_run_id=data["pipeline_run_id"],
        attempts=int(data["attempts"]),
        details=dict(data["details"] or {}),
        reason=data["reason"],
        created_at=int(data["created_at"]),
        updated_at=int(data["updated_at"]),
        ended_at=None if data["ended_at"] is None else int(data["ended_at"]),
    )


def find_plan(conn: Connection, plan_id: int, *, lock: bool = False) -> Plan:
    query = select(automation_plans).where(_P.id == plan_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFoundError("plan", str(plan_id), hint="list them with `loopml plans list`")
    return plan_of(row)


def key_taken(conn: Connection, key: str) -> bool:
    return conn.execute(select(_P.id).where(_P.key == key)).first() is not None


def insert_plan(
    conn: Connection,
    *,
    key: str,
    pipeline: str,
    model: str | None,
    trigger: dict[str, Any],
    state: str = "running",
    step: str = "train",
    reason: str | None = None,
) -> int:
    """Store a new plan; its first log line says what started it (or why it was skipped)."""
    at = now_ms()
    message = reason or f"started by {trigger.get('kind')}: {trigger.get('summary', key)}"
    details = {"log": [{"at": at, "step": step, "state": state, "message": message}]}
    return int(
        conn.execute(
            insert(automation_plans).values(
                key=key, pipeline=pipeline, model=model, trigger=trigger, state=state,
                step=step, version=None, pipeline_run_id=None, attempts=0, details=details,
                reason=reason, created_at=at, updated_at=at,
                ended_at=at if state in ENDED else None,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    )  # fmt: skip


def append_log(details: dict[str, Any], step: str, state: str, message: str) -> dict[str, Any]:
    """``details`` with one more log line (the oldest dropped past 200)."""
    log = [
        *details.get("log", ()),
        {"at": now_ms(), "step": step, "state": state, "message": message},
    ]
    return {**details, "log": log[-_MAX_LOG:]}


def write_plan(conn: Connection, plan: Plan, **values: Any) -> None:
    at = now_ms()
    if values.get("state") in ENDED:
        values["ended_at"] = at
    conn.execute(update(automation_plans).where(_P.id == plan.id).values(updated_at=at, **values))


def active_plans(conn: Connection, model: str | None = None) -> list[Plan]:
    query = select(automation_plans).where(_P.state.in_(ACTIVE)).order_by(_P.id)
    if model is not None:
        query = query.where(_P.model == model)
    return [plan_of(row) for row in conn.execute(query)]


def recent_plans(conn: Connection, model: str, since_ms: int) -> list[Plan]:
    """The model's plans since ``since_ms`` that did work (not skipped), newest first."""
    query = (
        select(automation_plans)
        .where(_P.model == model, _P.created_at >= since_ms, _P.state != "skipped")
        .order_by(_P.id.desc())
    )
    return [plan_of(row) for row in conn.execute(query)]


def list_plans(
    conn: Connection,
    *,
    model: str | None = None,
    states: Iterable[str] = (),
    limit: int = 50,
) -> list[Plan]:
    query = select(automation_plans).order_by(_P.id.desc()).limit(limit)
    if model is not None:
        query = query.where(_P.model == model)
    wanted = list(states)
    if wanted:
        query = query.where(_P.state.in_(wanted))
    return [plan_of(row) for row in conn.execute(query)]


def read_cursor(conn: Connection, source: str) -> dict[str, Any] | None:
    row = conn.execute(select(_C.position).where(_C.source == source)).first()
    return None if row is None else dict(row.position)


def write_cursor(conn: Connection, source: str, position: dict[str, Any]) -> None:
    at = now_ms()
    done = conn.execute(
        update(automation_cursors)
        .where(_C.source == source)
        .values(position=position, updated_at=at)
    ).rowcount
    if not done:
        conn.execute(
            insert(automation_cursors).values(source=source, position=position, updated_at=at)
        )


def policy_row(conn: Connection, model: str) -> Any:
    return conn.execute(select(automation_policies).where(_POL.model == model)).first()


def policies_for(
    conn: Connection, *, pipeline: str | None = None, deployment: str | None = None
) -> list[tuple[str, AutomationPolicy]]:
    """``(model, policy)`` of the policies naming ``pipeline`` or ``deployment``."""
    query = select(_POL.model, _POL.policy).order_by(_POL.model)
    if pipeline is not None:
        query = query.where(_POL.pipeline == pipeline)
    if deployment is not None:
        query = query.where(_POL.deployment == deployment)
    return [(row.model, AutomationPolicy.from_dict(row.policy)) for row in conn.execute(query)]


def pending_requests(conn: Connection) -> list[Any]:
    r = automation_requests.c
    query = select(automation_requests).where(r.plan_id.is_(None)).order_by(r.id)
    return list(conn.execute(query))


def mark_request(conn: Connection, request_id: int, plan_id: int) -> None:
    r = automation_requests.c
    conn.execute(update(automation_requests).where(r.id == request_id).values(plan_id=plan_id))


def plan_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(automation_plans)).scalar() or 0)
