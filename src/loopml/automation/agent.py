"""The agent: the reconciliation loop that closes the MLOps loop.

One pass (:meth:`Agent.run_once`, ``loopml agent --once``):

1. takes (or renews) the store's lease; without it the pass does nothing (another
   agent is acting: two agents never both act);
2. computes the monitors' due windows (their alerts fire here);
3. reads every trigger source from its cursor (schedules, new dataset versions,
   changed code, requests from ``loopml trigger`` and webhooks, drift and performance
   alerts) and starts a rollout plan for each firing, in the same transaction that
   moves the cursor; a firing the model's policy holds back (cool-down, daily budget,
   a plan already in progress) is stored as a ``skipped`` plan with the reason, so
   every event is handled exactly once and visibly;
4. advances every plan in progress as far as it can go now (it stops where it must
   wait: for an approval, or for the canary's watch to end).

``loopml agent`` repeats passes every ``--interval`` seconds until stopped; it gives
the lease back when it stops.

Example:
    >>> report = Agent(Settings.load()).run_once()  # doctest: +SKIP
    >>> report.created, report.advanced  # doctest: +SKIP
    ([7], {7: 'waiting'})
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from loopml.automation import _records, _sources
from loopml.automation._rollout import Rollout
from loopml.automation.lease import DEFAULT_TTL_MS, Lease, LeaseLostError
from loopml.automation.models import AutomationPolicy, PassReport, Plan
from loopml.clock import now_ms
from loopml.config import Settings
from loopml.errors import LoopmlError
from loopml.store import Store, open_store
from loopml.store.audit import record as audit

__all__ = ["Agent"]

_DAY_MS = 86_400_000
_ACTOR = "loopml-agent"


class Agent:
    """An automation agent on one store (see the module docstring).

    Args:
        settings: the store and artifacts; :meth:`Settings.load` by default.
        holder: the name the lease is held under (default ``host:pid``).
        lease_ttl_ms: how long the lease lasts without a renewal.
        run_monitors: compute monitor windows in each pass.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        holder: str | None = None,
        lease_ttl_ms: int = DEFAULT_TTL_MS,
        run_monitors: bool = True,
    ) -> None:
        self.settings = settings or Settings.load()
        self.store: Store = open_store(self.settings.db_url)
        self.lease = Lease(self.store, holder=holder, ttl_ms=lease_ttl_ms)
        self.rollout = Rollout(self.settings, self.store, self.lease)
        self.run_monitors = run_monitors

    @property
    def holder(self) -> str:
        return self.lease.holder

    def run_once(self) -> PassReport:
        """One reconciliation pass (see the module docstring)."""
        began = time.monotonic()
        report = self._begin()
        if not report.acted:
            report.seconds = time.monotonic() - began
            return report
        try:
            if self.run_monitors:
                report.windows = self._run_monitors(report)
            report.created = self._collect(report)
            for plan in self._active():
                moved = self.rollout.advance(plan)
                if moved.state != plan.state or moved.step != plan.step:
                    report.advanced[moved.id] = moved.state
        except LeaseLostError as err:
            report.errors.append(str(err))
        report.seconds = time.monotonic() - began
        return report

    def collect(self) -> PassReport:
        """Only the intake of a pass: read every trigger source and start (or skip) the
        plans, without computing monitors or advancing plans (for tests and benchmarks
        of the event path)."""
        began = time.monotonic()
        report = self._begin()
        if not report.acted:
            return report
        report.created = self._collect(report)
        report.seconds = time.monotonic() - began
        return report

    def run(
        self,
        interval_s: float = 30.0,
        *,
        stop: threading.Event | None = None,
        on_pass: Callable[[PassReport], Any] | None = None,
        max_passes: int | None = None,
    ) -> None:
        """Pass after pass, ``interval_s`` apart, until ``stop`` is set; then release."""
        stop = stop or threading.Event()
        passes = 0
        try:
            while not stop.is_set():
                try:
                    report = self.run_once()
                except LoopmlError as err:  # the store is away for a moment: try next pass
                    report = PassReport(acted=False, holder=self.holder, errors=[str(err)])
                passes += 1
                if on_pass is not None:
                    on_pass(report)
                if max_passes is not None and passes >= max_passes:
                    break
                stop.wait(interval_s)
        finally:
            self.lease.release()

    def release(self) -> None:
        """Give the lease back now."""
        self.lease.release()

    # -- the pass's parts ---------------------------------------------------------------

    def _begin(self) -> PassReport:
        """A pass's report: acting when this agent holds (or took) the lease, else standing
        by and naming who holds it."""
        if self.lease.acquire():
            return PassReport(acted=True, holder=self.holder)
        current = Lease.current(self.store)
        return PassReport(acted=False, holder=current.holder if current else "?")

    def _run_monitors(self, report: PassReport) -> int:
        from loopml.monitoring import MonitorClient

        monitors = MonitorClient(self.settings)
        computed = 0
        for monitor in monitors.list_monitors(limit=1000).items:
            try:
                computed += len(monitors.run(monitor.name))
            except Exception as err:  # one broken monitor must not stop the others
                report.errors.append(f"monitor {monitor.name}: {type(err).__name__}: {err}")
        return computed

    def _active(self) -> list[Plan]:
        with self.store.read() as conn:
            return _records.active_plans(conn)

    def _collect(self, report: PassReport) -> list[int]:
        """Read every source; start (or skip) a plan per firing; move the cursors."""
        from loopml.pipelines import list_registrations

        created: list[int] = []
        for registration in list_registrations(settings=self.settings):
            if not registration.enabled:
                continue
            self._ingest_changed_sources(registration, report)
            with self.store.read() as conn:
                try:
                    found = _sources.from_registration(conn, registration)
                except LoopmlError as err:
                    report.errors.append(f"pipeline {registration.name}: {err}")
                    continue
            for source, position, fired in found:
                created += self._handle(fired, cursor=(source, position))
        with self.store.read() as conn:
            requests = _sources.from_requests(conn)
            position, alerts = _sources.from_alerts(conn)
        for one in requests:
            created += self._handle([one])
        created += self._handle(alerts, cursor=("monitor_events", position))
        return created

    def _ingest_changed_sources(self, registration: Any, report: PassReport) -> None:
        """Log a new version of each watched dataset whose source file or folder changed."""
        from pathlib import Path

        from loopml.data.versions import DatasetClient
        from loopml.pipelines import DatasetTrigger

        for trigger in registration.triggers:
            if not isinstance(trigger, DatasetTrigger) or not trigger.watch_source:
                continue
            datasets = DatasetClient(self.settings)
            try:
                latest = datasets.get(trigger.dataset)
            except LoopmlError:  # no version yet: nothing to compare the source with
                continue
            source = latest.source
            if not source or "://" in source or not Path(source).exists():
                continue
            try:
                if datasets.changed(trigger.dataset, source).changed:
                    datasets.log(trigger.dataset, source)
                    report.ingested.append(trigger.dataset)
            except LoopmlError as err:
                report.errors.append(f"dataset {trigger.dataset}: {err}")

    def _handle(
        self, fired: list[_sources.Fired], *, cursor: tuple[str, dict[str, Any]] | None = None
    ) -> list[int]:
        def work(conn: Connection) -> list[int]:
            self.lease.check(conn)
            made = [plan for one in fired for plan in self._start(conn, one)]
            if cursor is not None:
                _records.write_cursor(conn, *cursor)
            return made

        if not fired and cursor is None:
            return []
        try:
            return self.store.transact(work)
        except IntegrityError:  # a key taken meanwhile (a stale agent): read again next pass
            return []

    def _start(self, conn: Connection, fired: _sources.Fired) -> list[int]:
        """The plans one firing starts: one per model whose policy names the pipeline
        (or the alert's model), else one plain pipeline run."""
        if fired.model is not None:
            row = _records.policy_row(conn, fired.model)
            targets = [] if row is None else [(fired.model, AutomationPolicy.from_dict(row.policy))]
        else:
            targets = list(_records.policies_for(conn, pipeline=fired.pipeline))
        trigger = {**fired.trigger, "node": list(fired.node)}
        made: list[int | None] = []
        if not targets:
            if fired.model is None:
                made.append(self._insert(conn, fired, None, trigger, None))
            return [plan for plan in made if plan is not None]
        for model, policy in targets:
            if not policy.retrains(fired.kind):
                continue
            held = _held_back(conn, model, policy, fired.kind)
            made.append(self._insert(conn, fired, model, trigger, held))
        return [plan for plan in made if plan is not None]

    def _insert(
        self,
        conn: Connection,
        fired: _sources.Fired,
        model: str | None,
        trigger: dict[str, Any],
        held: str | None,
    ) -> int | None:
        key = fired.key if fired.model is not None or model is None else f"{fired.key}:{model}"
        if _records.key_taken(conn, key):
            return None
        plan_id = _records.insert_plan(
            conn, key=key, pipeline=fired.pipeline, model=model, trigger=trigger,
            state="skipped" if held else "running", step="end" if held else "train",
            reason=held,
        )  # fmt: skip
        if fired.request is not None:
            _records.mark_request(conn, fired.request, plan_id)
        audit(
            conn, action="plan.skipped" if held else "plan.started", object_kind="plan",
            object_id=str(plan_id), reason=held or trigger.get("summary"), actor=_ACTOR,
            details={"key": key, "pipeline": fired.pipeline, "model": model, "kind": fired.kind},
        )  # fmt: skip
        return plan_id


def _held_back(conn: Connection, model: str, policy: AutomationPolicy, kind: str) -> str | None:
    """Why the policy holds a retrain of ``model`` back now (``None``: it does not)."""
    active = _records.active_plans(conn, model)
    if active:
        return f"plan {active[0].id} for {model} is still in progress ({active[0].step})"
    if kind == "manual":  # a person asked: cool-down and budget are for automatic retrains
        return None
    now = now_ms()
    recent = [
        p
        for p in _records.recent_plans(conn, model, now - _DAY_MS)
        if p.trigger.get("kind") != "manual"
    ]
    if recent and now - recent[0].created_at < policy.cooldown_ms:
        wait_s = (recent[0].created_at + policy.cooldown_ms - now) / 1000
        return (
            f"cool-down: {model} was last retrained by plan {recent[0].id} less than "
            f"{policy.cooldown} ago ({wait_s:.0f}s to go)"
        )
    if len(recent) >= policy.max_retrains_per_day:
        return (
            f"budget: {model} was retrained {len(recent)} times in the last 24 hours "
            f"(the policy allows {policy.max_retrains_per_day})"
        )
    return None
