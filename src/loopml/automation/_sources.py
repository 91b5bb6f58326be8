"""Where triggers come from: each source read from its cursor, each firing named once.

A source yields :class:`Fired` items and the cursor position to store once they are
handled. Every item has a ``key`` that names the event itself (the alert's id, the
dataset version, the cron fire time, the request's id, the watched files' ids), so a
pass that dies after starting a plan but before moving the cursor finds the plan's key
taken on the next pass and starts nothing twice.

Sources:

* ``cron:NAME``: the registration's schedule; fire times missed while no agent ran are
  coalesced into one firing (the first missed time names it);
* ``dataset:NAME:DATASET``: a version of the dataset newer than the last one seen
  (starting from the baseline recorded at registration);
* ``git:NAME``: the watched paths' git object ids differ from the last ones seen;
* requests: ``loopml trigger NAME`` and webhook calls, each handled once;
* ``monitor_events``: monitoring's event feed; an ``alert.firing`` event on a deployment
  with an automation policy starts a retrain of its model (``drift`` and
  ``performance`` alerts; service-health alerts are not fixed by retraining).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from loopml.automation import _records
from loopml.clock import now_ms
from loopml.pipelines.schedules import Registration, next_fire_times
from loopml.pipelines.triggers import DatasetTrigger, GitTrigger
from loopml.store.lineage import Node
from loopml.store.schema import (
    dataset_versions,
    datasets,
    monitor_alerts,
    monitor_events,
    monitors,
)
from loopml.uris import dataset_uri

__all__ = ["Fired", "alert_kind", "from_alerts", "from_registration", "from_requests"]

_DRIFT_RULES = ("drift", "prediction_drift")
_EVENT_BATCH = 1_000


@dataclass(frozen=True, slots=True)
class Fired:
    """One firing: a registered pipeline (or, for alerts, a model's policy) to run.

    Attributes:
        key: names the event; one plan per key (per model, for alerts).
        pipeline: the registration to run.
        kind: one of :data:`~loopml.automation.models.TRIGGER_KINDS`.
        trigger: what fired, as stored with the plan.
        node: the lineage node the plan's work is ``triggered_by``.
        model: for an alert, the model whose policy it concerns.
        request: for a request, its id (marked handled with the plan).
    """

    key: str
    pipeline: str
    kind: str
    trigger: dict[str, Any]
    node: Node
    model: str | None = None
    request: int | None = None


def from_registration(
    conn: Connection, registration: Registration
) -> list[tuple[str, dict[str, Any], list[Fired]]]:
    """``(cursor source, new position, firings)`` for each of the registration's sources."""
    found: list[tuple[str, dict[str, Any], list[Fired]]] = []
    if registration.schedule is not None:
        found.append(_cron(conn, registration))
    for trigger in registration.triggers:
        if isinstance(trigger, DatasetTrigger):
            found.append(_dataset(conn, registration, trigger))
        elif isinstance(trigger, GitTrigger):
            found.append(_git(conn, registration, trigger))
    return found


def _cron(conn: Connection, registration: Registration) -> tuple[str, dict[str, Any], list[Fired]]:
    source = f"cron:{registration.name}"
    position = _records.read_cursor(conn, source)
    after = int(position["after_ms"]) if position else registration.updated_at
    now = now_ms()
    due = next_fire_times(registration, 1, after=datetime.fromtimestamp(after / 1000, UTC))
    if not due or due[0].timestamp() * 1000 > now:
        return source, {"after_ms": after}, []
    at = int(due[0].timestamp() * 1000)
    fired = Fired(
        key=f"cron:{registration.name}:{at}",
        pipeline=registration.name,
        kind="schedule",
        trigger={
            "kind": "schedule",
            "schedule": registration.schedule,
            "timezone": registration.timezone,
            "due_at": at,
            "summary": f"schedule {registration.schedule} ({due[0].isoformat()})",
        },
        node=("schedule", f"{registration.name}@{at}"),
    )
    return source, {"after_ms": now}, [fired]


def _dataset(
    conn: Connection, registration: Registration, trigger: DatasetTrigger
) -> tuple[str, dict[str, Any], list[Fired]]:
    source = f"dataset:{registration.name}:{trigger.dataset}"
    position = _records.read_cursor(conn, source)
    seen = int(position["version"]) if position else int(trigger.latest_version or 0)
    latest = conn.execute(
        select(func.max(dataset_versions.c.version))
        .select_from(dataset_versions.join(datasets))
        .where(datasets.c.name == trigger.dataset)
    ).scalar()
    if latest is None or int(latest) <= seen:
        return source, {"version": seen}, []
    latest = int(latest)
    fired = Fired(
        key=f"dataset:{registration.name}:{trigger.dataset}:{latest}",
        pipeline=registration.name,
        kind="dataset",
        trigger={
            "kind": "dataset",
            "dataset": trigger.dataset,
            "version": latest,
            "after": seen,
            "summary": f"new data: {dataset_uri(trigger.dataset, latest)}",
        },
        node=("dataset_version", f"{trigger.dataset}/{latest}"),
    )
    return source, {"version": latest}, [fired]


def _git(
    conn: Connection, registration: Registration, trigger: GitTrigger
) -> tuple[str, dict[str, Any], list[Fired]]:
    source = f"git:{registration.name}"
    position = _records.read_cursor(conn, source)
    seen = dict(position["object_ids"]) if position else dict(trigger.object_ids)
    now_ids = trigger.current_ids()
    changed = sorted(p for p, oid in now_ids.items() if seen.get(p) != oid)
    if not changed:
        return source, {"object_ids": seen}, []
    digest = hashlib.sha256(json.dumps(now_ids, sort_keys=True).encode()).hexdigest()[:16]
    fired = Fired(
        key=f"git:{registration.name}:{digest}",
        pipeline=registration.name,
        kind="git",
        trigger={
            "kind": "git",
            "paths": changed,
            "ref": trigger.ref,
            "summary": f"code changed: {', '.join(changed)}",
        },
        node=("git_change", f"{registration.name}:{digest}"),
    )
    return source, {"object_ids": now_ids}, [fired]


def from_requests(conn: Connection) -> list[Fired]:
    """Every request (``loopml trigger``, a webhook call) no plan has handled yet."""
    return [
        Fired(
            key=f"request:{row.id}",
            pipeline=row.pipeline,
            kind=row.source,
            trigger={
                "kind": row.source,
                "request": int(row.id),
                "actor": row.actor,
                "reason": row.reason,
                "summary": f"{row.source} by {row.actor}"
                + (f": {row.reason}" if row.reason else ""),
            },
            node=("trigger_request", str(row.id)),
            request=int(row.id),
        )
        for row in _records.pending_requests(conn)
    ]


def alert_kind(rule: dict[str, Any] | None) -> str | None:
    """``drift`` or ``performance`` for an alert rule that retraining can answer, else None."""
    if rule is None:
        return None
    kind = rule.get("kind")
    if kind in _DRIFT_RULES:
        return "drift"
    if kind == "performance":
        return "performance"
    return None


def from_alerts(conn: Connection) -> tuple[dict[str, Any], list[Fired]]:
    """Alerts that fired since the cursor, on deployments whose model has a policy."""
    source = "monitor_events"
    position = _records.read_cursor(conn, source)
    after = int(position["after"]) if position else 0
    e = monitor_events.c
    rows = conn.execute(
        select(e.id, e.monitor, e.payload)
        .where(e.id > after, e.kind == "alert.firing")
        .order_by(e.id)
        .limit(_EVENT_BATCH)
    ).all()
    head = conn.execute(select(func.max(e.id))).scalar() or 0
    last = rows[-1].id if len(rows) == _EVENT_BATCH else head
    fired: list[Fired] = []
    for row in rows:
        fired.extend(_alert_firings(conn, row))
    return {"after": int(max(last, after))}, fired


def _alert_firings(conn: Connection, row: Any) -> list[Fired]:
    payload = dict(row.payload or {})
    alert_id = int(payload.get("id", 0))
    state = conn.execute(
        select(monitor_alerts.c.state).where(monitor_alerts.c.id == alert_id)
    ).scalar()
    if state != "firing":  # resolved before the agent saw it: nothing to answer
        return []
    monitor = conn.execute(
        select(monitors.c.deployment, monitors.c.config).where(monitors.c.name == row.monitor)
    ).first()
    if monitor is None or monitor.deployment is None:
        return []
    rules = {r.get("name"): r for r in (monitor.config or {}).get("rules", ())}
    kind = alert_kind(rules.get(payload.get("rule")))
    if kind is None:
        return []
    fired = []
    for model, policy in _records.policies_for(conn, deployment=monitor.deployment):
        fired.append(
            Fired(
                key=f"alert:{alert_id}:{model}",
                pipeline=policy.pipeline,
                kind=kind,
                trigger={
                    "kind": kind,
                    "alert": alert_id,
                    "monitor": row.monitor,
                    "rule": payload.get("rule"),
                    "deployment": monitor.deployment,
                    "opened_at": payload.get("opened_at"),
                    "summary": f"alert {alert_id} ({payload.get('rule')}) on {row.monitor}",
                },
                node=("alert", str(alert_id)),
                model=model,
            )
        )
    return fired
