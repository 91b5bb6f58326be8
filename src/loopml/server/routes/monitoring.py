"""Monitors: their windows (drift and performance over time), alerts and events."""

from __future__ import annotations

from typing import Any

from loopml.server.api import PAGING, Api, Call, Param
from loopml.server.routes._common import listing
from loopml.server.routes._numbers import INT64_MAX, path_id

__all__ = ["api"]

api = Api("/api/v1", tag="monitoring")

_ALERT_STATE = Param("state", description="firing or resolved")


@api.get(
    "/monitors",
    summary="Monitors by name",
    params=(Param("deployment", description="only this deployment's monitors"), *PAGING),
)
def list_monitors(call: Call) -> dict[str, Any]:
    page = call.ctx.monitors.list_monitors(
        deployment=call.text("deployment"),
        limit=call.limit(),
        page_token=call.text("page_token"),
    )
    return listing("monitors", page)


@api.get("/monitors/{name}", summary="One monitor: what it watches, its rules and reference")
def get_monitor(call: Call) -> Any:
    return call.ctx.monitors.get(call.path["name"])


@api.get(
    "/monitors/{name}/status",
    summary="A monitor at a glance: its last window and the alerts firing",
)
def monitor_status(call: Call) -> Any:
    return call.ctx.monitors.status(call.path["name"])


@api.get(
    "/monitors/{name}/windows",
    summary="A monitor's windows, newest first: drift, performance and health over time",
    params=(
        Param("since", description="windows ending after: Unix ms, ISO time or an age (24h)"),
        Param("until", description="windows ending at or before this moment"),
        Param("summary", "boolean", "only each window's headline figures (default false)"),
        *PAGING,
    ),
)
def list_windows(call: Call) -> dict[str, Any]:
    page = call.ctx.monitors.windows(
        call.path["name"],
        since=call.text("since"),
        until=call.text("until"),
        limit=call.limit(),
        page_token=call.text("page_token"),
    )
    if call.flag("summary"):
        return listing("windows", page, lambda window: window.summary())
    return listing("windows", page)


@api.get("/windows/{window_id}", summary="One monitor window with all it measured")
def get_window(call: Call) -> Any:
    return call.ctx.monitors.window(path_id(call, "window_id", "window"))


@api.get(
    "/monitors/{name}/alerts",
    summary="A monitor's alerts, newest first",
    params=(_ALERT_STATE, *PAGING),
)
def monitor_alerts(call: Call) -> dict[str, Any]:
    return _alerts(call, call.path["name"])


@api.get(
    "/alerts",
    summary="Alerts of every monitor, newest first (state=firing: what needs attention)",
    params=(_ALERT_STATE, *PAGING),
)
def list_alerts(call: Call) -> dict[str, Any]:
    return _alerts(call, None)


def _alerts(call: Call, name: str | None) -> dict[str, Any]:
    page = call.ctx.monitors.alerts(
        name, state=call.text("state"), limit=call.limit(), page_token=call.text("page_token")
    )
    return listing("alerts", page)


@api.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert (body: reason)")
def ack_alert(call: Call) -> Any:
    return call.ctx.monitors.ack(
        path_id(call, "alert_id", "alert"), reason=call.field("reason", default=None)
    )


@api.get(
    "/monitoring/events",
    summary="Monitoring events after a cursor, oldest first (alert.firing, alert.resolved, ...)",
    params=(
        Param("after", "integer", "the id of the last event seen (default 0)"),
        Param("monitor", description="only this monitor's events"),
        Param("kind", "array", "only these kinds"),
        Param("limit", "integer", "page size"),
    ),
)
def list_events(call: Call) -> dict[str, Any]:
    limit = call.limit()
    found = call.ctx.monitors.events(
        call.integer("after", 0, low=0, high=INT64_MAX) or 0,
        limit=limit,
        monitor=call.text("monitor"),
        kinds=call.texts("kind") or None,
    )
    return {"events": found, "next_after": found[-1].id if len(found) == limit else None}
