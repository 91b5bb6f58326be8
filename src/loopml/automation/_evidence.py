"""What the store shows of each maturity criterion: a few COUNT and latest-row queries.

Every function takes a read connection and returns a :class:`Found`: how many things
meet the criterion, the latest one (an id or URI) and one line of evidence. None of
them reads a whole table into Python: counts, ``LIMIT 1`` rows, JSON paths SQLAlchemy
renders for both databases, and the few rows whose JSON is read in Python (promotion
policies and their events, registrations, automation policies), so the same code runs
on SQLite and PostgreSQL.

Example:
    >>> with store.read() as conn:  # doctest: +SKIP
    ...     tracked_runs(conn)
    Found(count=3, example='runs:/01J…', evidence='3 runs with parameters or metrics; …')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, case, exists, func, or_, select

from loopml.store.schema import (
    automation_cursors,
    automation_lease,
    automation_plans,
    automation_policies,
    dataset_versions,
    datasets,
    deployments,
    latest_metrics,
    lineage_edges,
    model_evaluations,
    model_versions,
    monitor_windows,
    monitors,
    params,
    payload_segments,
    pipeline_runs,
    registered_models,
    registered_pipelines,
    registry_events,
    runs,
)
from loopml.uris import model_uri, node_uri, run_uri

__all__ = ["MEASURES", "Found", "names"]


@dataclass(frozen=True, slots=True)
class Found:
    """What the store shows of one criterion."""

    count: int
    example: str | None
    evidence: str
    met: bool | None = None  # None: met when count > 0

    @property
    def is_met(self) -> bool:
        return self.count > 0 if self.met is None else self.met


def _when(ms: int | None) -> str:
    if ms is None:
        return "?"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def _scalar(conn: Connection, query: Any) -> int:
    return int(conn.execute(query).scalar() or 0)


# -- level 1 ----------------------------------------------------------------------------


def tracked_runs(conn: Connection) -> Found:
    r = runs.c
    logged = or_(
        exists().where(params.c.run_id == r.id), exists().where(latest_metrics.c.run_id == r.id)
    )
    live = and_(r.deleted_at.is_(None), logged)
    count = _scalar(conn, select(func.count()).select_from(runs).where(live))
    if not count:
        return Found(0, None, "no run has logged a parameter or a metric")
    latest = conn.execute(
        select(r.id, r.name).where(live).order_by(r.start_time.desc()).limit(1)
    ).first()
    assert latest is not None
    uri = run_uri(latest.id)
    return Found(
        count, uri, f"{_plural(count, 'run')} with parameters or metrics; latest {uri} "
        f"({latest.name})",
    )  # fmt: skip


def _consumed() -> Any:
    e = lineage_edges.c
    return and_(e.edge == "consumed", e.src_kind == "run", e.dst_kind == "dataset_version")


def dataset_lineage(conn: Connection) -> Found:
    e = lineage_edges.c
    row = conn.execute(
        select(func.count(func.distinct(e.dst_id)), func.count(func.distinct(e.src_id))).where(
            _consumed()
        )
    ).first()
    versions, consumers = (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)
    if not versions:
        logged = _scalar(conn, select(func.count()).select_from(dataset_versions))
        note = f"{_plural(logged, 'dataset version')} logged, " if logged else ""
        return Found(0, None, f"{note}no run consumed a dataset version")
    latest = conn.execute(select(e.dst_id).where(_consumed()).order_by(e.id.desc()).limit(1))
    uri = node_uri("dataset_version", latest.scalar_one())
    return Found(
        versions, uri, f"{_plural(versions, 'dataset version')} consumed by "
        f"{_plural(consumers, 'run')}; latest {uri}",
    )  # fmt: skip


def registered_versions(conn: Connection) -> Found:
    v = model_versions.c
    row = conn.execute(select(func.count(), func.count(func.distinct(v.model)))).first()
    count, models = (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)
    if not count:
        return Found(0, None, "no model version registered")
    latest = conn.execute(
        select(v.model, v.version).order_by(v.created_at.desc(), v.version.desc()).limit(1)
    ).one()
    uri = model_uri(latest.model, latest.version)
    return Found(
        count, uri, f"{_plural(count, 'version')} of {_plural(models, 'model')}; latest {uri}"
    )


# -- level 2 ----------------------------------------------------------------------------


def pipeline_run_count(conn: Connection) -> Found:
    p, r = pipeline_runs.c, runs.c
    finished = (
        select(p.id, p.pipeline, p.created_at)
        .join(runs, r.id == p.id)
        .where(r.status == "finished", r.deleted_at.is_(None))
    )
    count = _scalar(conn, select(func.count()).select_from(finished.subquery()))
    if not count:
        started = _scalar(conn, select(func.count()).select_from(pipeline_runs))
        note = f" ({_plural(started, 'pipeline run')} started)" if started else ""
        return Found(0, None, f"no pipeline run finished{note}")
    latest = conn.execute(finished.order_by(p.created_at.desc()).limit(1)).one()
    return Found(
        count, run_uri(latest.id), f"{_plural(count, 'finished pipeline run')}; latest "
        f"{latest.pipeline} ({latest.id})",
    )  # fmt: skip


def gated_evaluations(conn: Connection) -> Found:
    m = model_evaluations.c
    judged = m.passed.is_not(None)
    row = conn.execute(
        select(func.count(), func.sum(case((m.passed.is_(True), 1), else_=0))).where(judged)
    ).first()
    count, passed = (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)
    if not count:
        return Found(0, None, "no evaluation was judged by gates")
    latest = conn.execute(
        select(m.id, m.model_uri, m.passed).where(judged).order_by(m.created_at.desc()).limit(1)
    ).one()
    verdict = "passed" if latest.passed else "failed"
    return Found(
        count, latest.id, f"{_plural(count, 'evaluation')} judged by gates ({passed} passed); "
        f"latest {latest.model_uri} {verdict}",
    )  # fmt: skip


def _gated_models(conn: Connection) -> dict[str, tuple[str, ...]]:
    """Every model whose promotion policy has gates now, with the gates."""
    m = registered_models.c
    rows = conn.execute(select(m.name, m.policy).where(m.policy.is_not(None)))
    found = {}
    for name, policy in rows:
        gates = tuple((policy or {}).get("gates") or ())
        if gates:
            found[name] = gates
    return found


def promotion_policies(conn: Connection) -> Found:
    gated = _gated_models(conn)
    if not gated:
        return Found(0, None, "no model's promotion policy has gates")
    name = sorted(gated)[0]
    gates = ", ".join(gated[name][:3]) + (", …" if len(gated[name]) > 3 else "")
    return Found(len(gated), name, f"{_plural(len(gated), 'model')} with gates; {name}: {gates}")


def _gated_spans(conn: Connection) -> dict[str, list[tuple[int, int | None]]]:
    """Per model, the registry event ids between which its policy had gates."""
    e = registry_events.c
    rows = conn.execute(
        select(e.id, e.model, e.payload).where(e.kind == "policy.updated").order_by(e.id)
    )
    spans: dict[str, list[tuple[int, int | None]]] = {}
    for event_id, model, payload in rows:
        on = bool(((payload or {}).get("new") or {}).get("gates"))
        mine = spans.setdefault(model, [])
        is_open = bool(mine) and mine[-1][1] is None
        if on and not is_open:
            mine.append((int(event_id), None))
        elif not on and is_open:
            mine[-1] = (mine[-1][0], int(event_id))
    return {model: found for model, found in spans.items() if found}


def gated_promotions(conn: Connection) -> Found:
    spans = _gated_spans(conn)
    if not spans:
        return Found(0, None, "no version was promoted under a policy with gates")
    e = registry_events.c
    rows = conn.execute(
        select(e.id, e.model, e.version, e.payload, e.at)
        .where(e.kind == "model_version.promoted", e.model.in_(list(spans)))
        .order_by(e.id.desc())
    ).all()
    inside = [
        row for row in rows
        if any(start < row.id and (end is None or row.id < end) for start, end in spans[row.model])
    ]  # fmt: skip
    if not inside:
        return Found(0, None, "no version was promoted under a policy with gates")
    latest = inside[0]
    alias = (latest.payload or {}).get("alias", "?")
    uri = model_uri(latest.model, latest.version)
    return Found(
        len(inside), uri, f"{_plural(len(inside), 'promotion')} under gates; latest {uri} "
        f"-> @{alias} at {_when(latest.at)}",
    )  # fmt: skip


# -- level 3 ----------------------------------------------------------------------------


def serving_deployments(conn: Connection) -> Found:
    d, m = deployments.c, registered_models.c
    served = select(d.name, d.model, d.updated_at).join(registered_models, m.name == d.model)
    count = _scalar(conn, select(func.count()).select_from(served.subquery()))
    if not count:
        return Found(0, None, "no deployment of a registered model")
    latest = conn.execute(served.order_by(d.updated_at.desc()).limit(1)).one()
    return Found(
        count, latest.name, f"{_plural(count, 'deployment')}; latest {latest.name} serves "
        f"{latest.model}",
    )  # fmt: skip


def payload_log(conn: Connection) -> Found:
    s = payload_segments.c
    row = conn.execute(
        select(func.sum(s.prediction_count), func.count(), func.count(func.distinct(s.deployment)))
        .where(s.prediction_count > 0)
    ).first()  # fmt: skip
    predictions, segments, where = (int(v or 0) for v in row) if row else (0, 0, 0)
    if not predictions:
        return Found(0, None, "no prediction logged")
    latest = conn.execute(
        select(s.deployment, s.end_ms).where(s.prediction_count > 0)
        .order_by(s.end_ms.desc()).limit(1)
    ).one()  # fmt: skip
    return Found(
        predictions, latest.deployment, f"{_plural(predictions, 'prediction')} in "
        f"{_plural(segments, 'segment')} of {_plural(where, 'deployment')}; latest "
        f"{latest.deployment} at {_when(latest.end_ms)}",
    )  # fmt: skip


def monitor_window_count(conn: Connection) -> Found:
    w = monitor_windows.c
    row = conn.execute(select(func.count(), func.count(func.distinct(w.monitor)))).first()
    count, watched = (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)
    if not count:
        defined = _scalar(conn, select(func.count()).select_from(monitors))
        if defined:
            return Found(0, None, f"{_plural(defined, 'monitor')}, no window computed yet")
        return Found(0, None, "no monitor")
    latest = conn.execute(
        select(w.monitor, w.end_ms, w.dataset_drifted).order_by(w.end_ms.desc()).limit(1)
    ).one()
    drift = "drifted" if latest.dataset_drifted else "no drift"
    return Found(
        count, latest.monitor, f"{_plural(count, 'window')} of {_plural(watched, 'monitor')}; "
        f"latest {latest.monitor} to {_when(latest.end_ms)} ({drift})",
    )  # fmt: skip


def _fires(schedule: str | None, triggers: Iterable[Any]) -> list[str]:
    kinds = [f"schedule {schedule}"] if schedule else []
    for trigger in triggers or ():
        kind = trigger.get("kind", "?") if isinstance(trigger, dict) else str(trigger)
        what = trigger.get("dataset") if isinstance(trigger, dict) else None
        kinds.append(f"{kind} {what}" if what else str(kind))
    return kinds


def triggered_pipelines(conn: Connection) -> Found:
    p = registered_pipelines.c
    rows = conn.execute(
        select(p.name, p.schedule, p.triggers)
        .where(p.enabled.is_(True))
        .order_by(p.updated_at.desc())
    ).all()  # fmt: skip
    firing = [(row.name, _fires(row.schedule, row.triggers)) for row in rows]
    firing = [(name, kinds) for name, kinds in firing if kinds]
    if not firing:
        return Found(0, None, "no enabled registered pipeline with a schedule or triggers")
    name, kinds = firing[0]
    return Found(
        len(firing), name, f"{_plural(len(firing), 'registered pipeline')} with a schedule or "
        f"triggers; latest {name} ({', '.join(kinds)})",
    )  # fmt: skip


# -- level 4 ----------------------------------------------------------------------------


def automation_policy_count(conn: Connection) -> Found:
    a = automation_policies.c
    rows = conn.execute(
        select(a.model, a.pipeline, a.deployment, a.policy).order_by(a.updated_at.desc())
    ).all()
    if not rows:
        return Found(0, None, "no model has an automation policy")
    latest = rows[0]
    share = int((latest.policy or {}).get("canary_share") or 0)
    canary = (
        f"{share}% canary on {latest.deployment}" if latest.deployment and share else "no canary"
    )
    return Found(
        len(rows), latest.model, f"{_plural(len(rows), 'model')} with a policy; latest "
        f"{latest.model}: pipeline {latest.pipeline}, {canary}",
    )  # fmt: skip


def agent_passes(conn: Connection) -> Found:
    lease = conn.execute(select(automation_lease.c.holder).limit(1)).scalar()
    c, p = automation_cursors.c, automation_plans.c
    last_pass = conn.execute(select(func.max(c.updated_at))).scalar()
    plans = _scalar(conn, select(func.count()).select_from(automation_plans))
    last_plan = conn.execute(select(p.updated_at).order_by(p.id.desc()).limit(1)).scalar()
    if lease is None and last_pass is None and not plans:
        return Found(0, None, "the agent never ran")
    seen = max((int(t) for t in (last_pass, last_plan) if t is not None), default=None)
    held = f"lease of {lease}" if lease is not None else "no lease held"
    return Found(
        plans, lease, f"{_plural(plans, 'plan')}; last activity {_when(seen)}; {held}", met=True
    )


def _kind() -> Any:
    return automation_plans.c.trigger["kind"].as_string()


def _latest_plan(conn: Connection, where: Any) -> Any:
    p = automation_plans.c
    return conn.execute(
        select(p.id, p.model, p.version, p.state, _kind().label("kind"), p.ended_at)
        .where(where)
        .order_by(p.id.desc())
        .limit(1)
    ).one()


def _plan_uri(row: Any) -> str:
    return model_uri(row.model, row.version) if row.model and row.version else "?"


def canary_promotions(conn: Connection) -> Found:
    p = automation_plans.c
    # JSON paths SQLAlchemy renders for SQLite (json_extract) and PostgreSQL (->>) alike.
    automatic = and_(
        p.state == "promoted",
        _kind() != "manual",
        p.details["canary_policy"].as_string().is_not(None),
    )
    count = _scalar(conn, select(func.count()).select_from(automation_plans).where(automatic))
    if not count:
        return Found(0, None, "no automatic retrain was promoted through a canary")
    latest = _latest_plan(conn, automatic)
    return Found(
        count, f"plan {latest.id}", f"{_plural(count, 'automatic promotion')} through a "
        f"canary; latest plan {latest.id} ({latest.kind}) promoted {_plan_uri(latest)} at "
        f"{_when(latest.ended_at)}",
    )  # fmt: skip


def safety_net(conn: Connection) -> Found:
    p = automation_plans.c
    stopped = p.state.in_(("rolled_back", "rejected"))
    rows = conn.execute(select(p.state, func.count()).where(stopped).group_by(p.state))
    counts: dict[str, int] = {str(state): int(n) for state, n in rows}
    rolled, rejected = int(counts.get("rolled_back", 0)), int(counts.get("rejected", 0))
    if not rolled + rejected:
        return Found(0, None, "no plan was rolled back or rejected")
    latest = _latest_plan(conn, stopped)
    what = "rolled back" if latest.state == "rolled_back" else "rejected"
    return Found(
        rolled + rejected, f"plan {latest.id}", f"{rolled:,} rolled back, {rejected:,} "
        f"rejected; latest plan {latest.id} {what} {_plan_uri(latest)}",
    )  # fmt: skip


MEASURES = {
    "tracked_runs": tracked_runs,
    "dataset_lineage": dataset_lineage,
    "registered_models": registered_versions,
    "pipeline_runs": pipeline_run_count,
    "gated_evaluations": gated_evaluations,
    "promotion_policy": promotion_policies,
    "gated_promotion": gated_promotions,
    "deployment": serving_deployments,
    "payload_log": payload_log,
    "monitor_windows": monitor_window_count,
    "pipeline_triggers": triggered_pipelines,
    "automation_policy": automation_policy_count,
    "agent": agent_passes,
    "canary_promotion": canary_promotions,
    "safety_net": safety_net,
}
"""Criterion key -> the function that measures it."""


# -- the names the commands are written with -------------------------------------------


def names(conn: Connection) -> dict[str, str]:
    """The store's latest model, version, run, dataset, deployment, monitor and pipeline,
    so that a suggested command names real things (placeholders where there are none)."""
    v, r, d = model_versions.c, runs.c, datasets.c
    found = {
        "model": "MODEL", "version": "VERSION", "run": "RUN_ID", "dataset": "DATASET",
        "deployment": "DEPLOYMENT", "monitor": "MONITOR", "pipeline": "PIPELINE",
    }  # fmt: skip
    latest = conn.execute(
        select(v.model, v.version).order_by(v.created_at.desc(), v.version.desc()).limit(1)
    ).first()
    if latest is not None:
        found["model"], found["version"] = latest.model, str(latest.version)
    picks = {
        "run": select(r.id).where(r.deleted_at.is_(None)).order_by(r.start_time.desc()),
        "dataset": select(d.name).order_by(d.created_at.desc()),
        "deployment": select(deployments.c.name).order_by(deployments.c.updated_at.desc()),
        "monitor": select(monitors.c.name).order_by(monitors.c.updated_at.desc()),
        "pipeline": select(registered_pipelines.c.name).order_by(
            registered_pipelines.c.updated_at.desc()
        ),
    }
    for key, query in picks.items():
        value = conn.execute(query.limit(1)).scalar()
        if value is not None:
            found[key] = str(value)
    policies = conn.execute(
        select(automation_policies.c.model, automation_policies.c.policy).where(
            automation_policies.c.deployment.is_not(None)
        )
    )
    found["canary_model"] = next(
        (model for model, policy in policies if int((policy or {}).get("canary_share") or 0)), ""
    )
    return found
