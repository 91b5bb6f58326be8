"""Alerts move with the windows: each new window's verdicts fire or resolve them.

:func:`advance` runs in the transaction that stores a window: for one rule, it reads the
rule's latest verdicts (:func:`recent_verdicts`, plus the new window's), asks
:func:`~loopml.monitoring.rules.next_step` what they call for, and fires an alert (a row,
its evidence, a ``triggered_by`` lineage edge to the window, an audit row and an
``alert.firing`` event) or resolves it (``alert.resolved``).

Example:
    >>> history = recent_verdicts(store, monitor)  # doctest: +SKIP
    >>> store.transact(  # doctest: +SKIP
    ...     lambda conn: advance(conn, monitor, rule, window_id, history))
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from loopml.clock import now_ms
from loopml.monitoring import events as _events
from loopml.monitoring._records import find_alert
from loopml.monitoring.models import AlertRule, Monitor
from loopml.monitoring.rules import next_step
from loopml.store import Store
from loopml.store.audit import record as audit
from loopml.store.lineage import add_edges
from loopml.store.schema import monitor_alerts, monitor_windows

__all__ = ["MAX_HISTORY", "advance", "recent_verdicts"]

MAX_HISTORY = 500
"""The most windows of verdicts read back for a rule's durations."""


def recent_verdicts(store: Store, monitor: Monitor) -> list[dict[str, Any]]:
    """The latest windows' rule verdicts, oldest first: ``{"window", "start_ms",
    "end_ms", "rules"}`` each (enough of them for every rule's durations, with room
    for windows a rule could not judge)."""
    depth = max([max(r.for_windows, r.clear_windows) for r in monitor.config.rules] or [1])
    w = monitor_windows.c
    with store.read() as conn:
        rows = conn.execute(
            select(w.id, w.start_ms, w.end_ms, w.results)
            .where(w.monitor == monitor.name)
            .order_by(w.id.desc())
            .limit(min(MAX_HISTORY, depth * 10 + 10))
        ).all()
    return [
        {"window": row.id, "start_ms": row.start_ms, "end_ms": row.end_ms,
         "rules": dict((row.results or {}).get("rules") or {})}
        for row in reversed(rows)
    ]  # fmt: skip


def advance(
    conn: Connection,
    monitor: Monitor,
    rule: AlertRule,
    window_id: int,
    history: list[dict[str, Any]],
) -> None:
    a = monitor_alerts.c
    firing = (
        conn.execute(
            select(monitor_alerts).where(
                a.monitor == monitor.name, a.rule == rule.name, a.state == "firing"
            )
        )
        .mappings()
        .first()
    )
    judged = [
        {"window": h["window"], "start_ms": h["start_ms"], "end_ms": h["end_ms"],
         **h["rules"][rule.name]}
        for h in history
        if rule.name in h["rules"]
    ]  # fmt: skip
    step = next_step(rule, judged, firing=firing is not None)
    verdict = judged[-1] if judged else {}
    if firing is not None:
        conn.execute(
            update(monitor_alerts).where(a.id == firing["id"]).values(last_window=window_id)
        )
    if step is None:
        return
    at = now_ms()
    if step == "fire":
        breaching = [v for v in judged if v.get("breached") is not None]
        evidence = {
            "rule": rule.to_dict(),
            "summary": f"{rule.name}: {verdict.get('reason')}",
            "windows": breaching[-rule.for_windows :],
        }
        alert_id = conn.execute(
            insert(monitor_alerts).values(
                monitor=monitor.name,
                rule=rule.name,
                state="firing",
                severity=rule.severity,
                opened_at=at,
                opened_window=window_id,
                last_window=window_id,
                evidence=evidence,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        add_edges(
            conn,
            [
                (
                    ("alert", str(alert_id)),
                    "triggered_by",
                    ("monitor_window", str(window_id)),
                    {"rule": rule.name},
                )
            ],
        )
        kind = "alert.firing"
    else:
        alert_id = firing["id"]  # type: ignore[index]
        conn.execute(
            update(monitor_alerts).where(a.id == alert_id).values(state="resolved", resolved_at=at)
        )
        kind = "alert.resolved"
    alert = find_alert(conn, int(alert_id))
    audit(
        conn,
        action=kind,
        object_kind="alert",
        object_id=str(alert_id),
        details={"monitor": monitor.name, "rule": rule.name, "window": window_id},
        actor="loopml",
    )
    _events.emit(conn, kind, monitor.name, alert.to_dict(), actor="loopml")
