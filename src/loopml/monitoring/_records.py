"""Monitoring's rows as value objects: a monitor, a window, an alert.

Example:
    >>> with store.read() as conn:  # doctest: +SKIP
    ...     monitor_of(conn, "churn-api").config.window
    '1h'
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from loopml.errors import InvalidInputError, NotFoundError
from loopml.monitoring.models import Alert, Monitor, MonitorConfig, MonitorWindow
from loopml.store.schema import monitor_alerts, monitors

__all__ = ["alert_of", "find_alert", "monitor_of", "window_of"]


def monitor_of(conn: Connection, name: str) -> Monitor:
    row = conn.execute(select(monitors).where(monitors.c.name == name)).mappings().first()
    if row is None:
        known = conn.execute(select(monitors.c.name).order_by(monitors.c.name).limit(20))
        raise NotFoundError(
            "monitor",
            name,
            hint=f"create it with `loopml monitor create DEPLOYMENT`; monitors: "
            f"{list(known.scalars())}",
        )
    return Monitor(
        name=row["name"],
        deployment=row["deployment"],
        source=row["source"],
        reference=row["reference"],
        reference_digest=row["reference_digest"],
        model=row["model"],
        version=row["version"],
        config=MonitorConfig.from_dict(row["config"]),
        revision=row["revision"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        updated_at=row["updated_at"],
    )


def window_of(row: Any) -> MonitorWindow:
    return MonitorWindow(
        id=int(row["id"]),
        monitor=row["monitor"],
        start_ms=row["start_ms"],
        end_ms=row["end_ms"],
        rows=row["rows"],
        requests=row["requests"],
        versions=tuple(row["versions"]),
        drift_share=row["drift_share"],
        dataset_drifted=bool(row["dataset_drifted"]),
        results=row["results"],
        created_at=row["created_at"],
    )


def alert_of(row: Any) -> Alert:
    return Alert(**{key: row[key] for key in Alert.__slots__})


def find_alert(conn: Connection, alert_id: int) -> Alert:
    if isinstance(alert_id, bool) or not isinstance(alert_id, int):
        raise InvalidInputError(f"an alert id is a whole number, got {alert_id!r}")
    row = (
        conn.execute(select(monitor_alerts).where(monitor_alerts.c.id == alert_id))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFoundError("alert", str(alert_id), hint="list them with `loopml monitor alerts`")
    return alert_of(row)
