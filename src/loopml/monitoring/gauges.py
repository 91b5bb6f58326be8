"""Monitors' latest figures as Prometheus gauges, read in one go from the metadata store.

Light on purpose: a serving worker refreshes its deployments' gauges after every poll of
its follower, so this reads three queries' worth of rows and renders them
(:func:`~loopml.monitoring.prometheus.prometheus_text`); it never imports the drift
statistics (scipy) that computing a window needs.

Example:
    >>> print(gauges_text(open_store(url), deployments=["churn-api"]))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select

from loopml.monitoring._records import alert_of, monitor_of, window_of
from loopml.monitoring.prometheus import prometheus_text
from loopml.store import Store
from loopml.store.schema import monitor_alerts, monitor_windows, monitors

__all__ = ["gauges_text"]


def gauges_text(store: Store, deployments: Iterable[str] | None = None) -> str:
    """Every monitor's latest window and alert states as Prometheus text (format 0.0.4);
    ``deployments`` narrows to the monitors of those deployments."""
    m, w, a = monitors.c, monitor_windows.c, monitor_alerts.c
    query = select(m.name).order_by(m.name)
    if deployments is not None:
        query = query.where(m.deployment.in_(sorted(set(deployments))))
    with store.read() as conn:
        found = [monitor_of(conn, name) for name in conn.execute(query).scalars()]
        names = [monitor.name for monitor in found]
        newest = (
            select(func.max(w.id)).where(w.monitor.in_(names)).group_by(w.monitor).scalar_subquery()
        )
        latest = {
            row["monitor"]: window_of(row)
            for row in conn.execute(select(monitor_windows).where(w.id.in_(newest))).mappings()
        }
        firing = [
            alert_of(row)
            for row in conn.execute(
                select(monitor_alerts)
                .where(a.monitor.in_(names), a.state == "firing")
                .order_by(a.id.desc())
            ).mappings()
        ]
    return prometheus_text(found, latest, firing)
