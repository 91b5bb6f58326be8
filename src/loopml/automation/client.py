"""The automation service: policies, trigger requests, plans and the loop's status.

The CLI (``loopml automation``, ``loopml trigger``, ``loopml plans``, ``loopml status``)
and the server call these methods; the :class:`~loopml.automation.agent.Agent` acts on
what they store.

Example:
    >>> client = AutomationClient()  # doctest: +SKIP
    >>> client.set_policy("churn", AutomationPolicy(pipeline="train-churn",
    ...                   deployment="churn-api", canary_share=20))  # doctest: +SKIP
    >>> client.trigger("train-churn", reason="new labels")  # doctest: +SKIP
    12
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from loopml.automation import _records
from loopml.automation.lease import Lease
from loopml.automation.models import AutomationPolicy, Plan
from loopml.clock import now_ms
from loopml.config import Settings
from loopml.errors import InvalidInputError, NotFoundError, UnauthorizedError
from loopml.store import Store, open_store
from loopml.store.audit import current_actor
from loopml.store.audit import record as audit
from loopml.store.lineage import consumed_by_producers
from loopml.store.schema import automation_policies, automation_requests
from loopml.uris import dataset_uri, model_uri

__all__ = ["AutomationClient"]

_POL = automation_policies.c
_HINT = "set one with `loopml automation set MODEL --pipeline NAME`"


class AutomationClient:
    """Policies, requests, plans and status on one store (see the module docstring)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.load()
        self.store: Store = open_store(self.settings.db_url)

    # -- policies -----------------------------------------------------------------------

    def set_policy(
        self,
        model: str,
        policy: AutomationPolicy | Mapping[str, Any],
        *,
        reason: str | None = None,
    ) -> AutomationPolicy:
        """Store ``model``'s automation policy (replacing the one it had; audited).

        Raises:
            NotFoundError: the model, the registered pipeline or the deployment does not
                exist.
            InvalidInputError: a bad policy, or a deployment that serves another model.
        """
        from loopml.pipelines import get_registration
        from loopml.registry import RegistryClient

        if not isinstance(policy, AutomationPolicy):
            policy = AutomationPolicy.from_dict(dict(policy))
        RegistryClient(self.settings).get_model(model)
        get_registration(policy.pipeline, settings=self.settings)
        if policy.deployment is not None:
            from loopml.serving.deployments import DeploymentClient

            served = DeploymentClient(self.settings).get(policy.deployment).model
            if served != model:
                raise InvalidInputError(
                    f"deployment {policy.deployment!r} serves model {served!r}, not {model!r}; "
                    f"name a deployment of {model}"
                )
        actor, at = current_actor(), now_ms()
        values = {
            "pipeline": policy.pipeline,
            "deployment": policy.deployment,
            "policy": policy.to_dict(),
            "updated_at": at,
            "updated_by": actor,
        }

        def work(conn: Connection) -> AutomationPolicy:
            row = _records.policy_row(conn, model)
            if row is None:
                conn.execute(
                    insert(automation_policies).values(
                        model=model, revision=1, created_at=at, **values
                    )
                )
            else:
                conn.execute(
                    update(automation_policies)
                    .where(_POL.model == model)
                    .values(revision=row.revision + 1, **values)
                )
            audit(
                conn, action="automation.policy_set", object_kind="model", object_id=model,
                reason=reason, details=policy.to_dict(), actor=actor,
            )  # fmt: skip
            return policy

        return self.store.transact(work)

    def get_policy(self, model: str) -> AutomationPolicy:
        """``model``'s automation policy (NotFoundError when it has none)."""
        with self.store.read() as conn:
            row = _records.policy_row(conn, model)
            if row is None:
                names = conn.execute(select(_POL.model)).scalars().all()
                raise NotFoundError("automation policy", model, choices=names, hint=_HINT)
        return AutomationPolicy.from_dict(row.policy)

    def list_policies(self) -> list[tuple[str, AutomationPolicy]]:
        """Every ``(model, policy)``, by model."""
        with self.store.read() as conn:
            return _records.policies_for(conn)

    def remove_policy(self, model: str, *, reason: str | None = None) -> AutomationPolicy:
        """Forget ``model``'s policy: the agent stops retraining it (plans in progress end
        at their next step)."""
        policy = self.get_policy(model)

        def work(conn: Connection) -> None:
            conn.execute(delete(automation_policies).where(_POL.model == model))
            audit(
                conn, action="automation.policy_removed", object_kind="model", object_id=model,
                reason=reason,
            )  # fmt: skip

        self.store.transact(work)
        return policy

    # -- requests -----------------------------------------------------------------------

    def trigger(self, pipeline: str, *, reason: str | None = None) -> int:
        """Ask the agent to run registered pipeline ``pipeline`` (and roll out what it
        trains) on its next pass; returns the request's id.

        Raises:
            NotFoundError: no such registered pipeline.
            InvalidInputError: it is disabled.
        """
        return self._request(pipeline, "manual", reason)

    def call_webhook(self, pipeline: str, token: str, *, reason: str | None = None) -> int:
        """A webhook call: the same as :meth:`trigger` when ``token`` is the pipeline's.

        Raises:
            UnauthorizedError: no such pipeline, no webhook trigger, or a wrong token
                (one message for all three, so a caller learns nothing by guessing).
        """
        from loopml.pipelines import WebhookTrigger, get_registration

        try:
            registration = get_registration(pipeline, settings=self.settings)
        except NotFoundError:
            registration = None
        hooks = [] if registration is None else [
            t for t in registration.triggers if isinstance(t, WebhookTrigger)
        ]  # fmt: skip
        if not isinstance(token, str) or not any(hook.accepts(token) for hook in hooks):
            raise UnauthorizedError(
                f"webhook token refused for pipeline {pipeline!r}; use the token shown when "
                "it was registered with on_webhook() (register again with "
                "on_webhook(new_token=True) for a new one)"
            )
        return self._request(pipeline, "webhook", reason)

    def _request(self, pipeline: str, source: str, reason: str | None) -> int:
        from loopml.pipelines import get_registration

        registration = get_registration(pipeline, settings=self.settings)
        if not registration.enabled:
            raise InvalidInputError(
                f"pipeline {pipeline!r} is disabled; enable it first: "
                f"`loopml pipeline enable {pipeline}`"
            )
        actor = current_actor()

        def work(conn: Connection) -> int:
            request_id = int(
                conn.execute(
                    insert(automation_requests).values(
                        pipeline=pipeline, source=source, actor=actor, reason=reason,
                        created_at=now_ms(), plan_id=None,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )  # fmt: skip
            audit(
                conn, action=f"pipeline.trigger_{source}", object_kind="pipeline",
                object_id=pipeline, reason=reason, details={"request": request_id}, actor=actor,
            )  # fmt: skip
            return request_id

        return self.store.transact(work)

    # -- plans --------------------------------------------------------------------------

    def plans(
        self, *, model: str | None = None, states: tuple[str, ...] = (), limit: int = 50
    ) -> list[Plan]:
        """Plans, newest first (``model`` and ``states`` narrow them)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidInputError(f"limit must be a whole number from 1 to 10000, got {limit!r}")
        with self.store.read() as conn:
            return _records.list_plans(conn, model=model, states=states, limit=limit)

    def plan(self, plan_id: int) -> Plan:
        """The plan ``plan_id``."""
        with self.store.read() as conn:
            return _records.find_plan(conn, plan_id)

    def cancel(self, plan_id: int, *, reason: str | None = None) -> Plan:
        """Stop a plan in progress; a live canary's traffic goes back to the champion.

        Raises:
            InvalidInputError: the plan has already ended.
        """
        plan = self.plan(plan_id)
        if plan.ended:
            raise InvalidInputError(
                f"plan {plan_id} already ended ({plan.state}); nothing to cancel"
            )
        restored = None
        if plan.details.get("canary_policy") and plan.step == "watch":
            restored = self._restore(plan, reason)
        actor = current_actor()
        message = f"cancelled by {actor}" + (f": {reason}" if reason else "")
        if restored:
            message += f"; {restored}"

        def work(conn: Connection) -> Plan:
            current = _records.find_plan(conn, plan_id, lock=True)
            if current.ended:
                return current
            details = _records.append_log(current.details, "end", "cancelled", message)
            _records.write_plan(
                conn, current, state="cancelled", step="end", reason=message, details=details
            )
            audit(
                conn, action="plan.cancelled", object_kind="plan", object_id=str(plan_id),
                reason=reason, actor=actor,
            )  # fmt: skip
            return _records.find_plan(conn, plan_id)

        return self.store.transact(work)

    def _restore(self, plan: Plan, reason: str | None) -> str | None:
        from loopml.automation._rollout import restore_traffic
        from loopml.serving.deployments import DeploymentClient

        deployment = plan.trigger.get("deployment") or self._deployment_of(plan)
        if deployment is None:
            return None
        why = f"plan {plan.id} cancelled: {reason or ''}"
        changed = restore_traffic(DeploymentClient(self.settings), deployment, plan, why)
        if changed is None:
            return None
        return f"{deployment} back to {', '.join(r.target for r in changed.policy.routes)}"

    def _deployment_of(self, plan: Plan) -> str | None:
        if plan.model is None:
            return None
        try:
            return self.get_policy(plan.model).deployment
        except NotFoundError:
            return None

    # -- status -------------------------------------------------------------------------

    def status(self, model: str | None = None) -> list[dict[str, Any]]:
        """The loop at a glance, per model with a policy (or just ``model``)."""
        models = [model] if model is not None else [m for m, _ in self.list_policies()]
        if model is not None:
            self._check_model(model)
        lease = Lease.current(self.store)
        return [self._status(name, lease) for name in models]

    def _check_model(self, model: str) -> None:
        from loopml.registry import RegistryClient

        RegistryClient(self.settings).get_model(model)

    def _status(self, model: str, lease: Any) -> dict[str, Any]:
        from loopml.pipelines import get_registration
        from loopml.registry import RegistryClient

        registry = RegistryClient(self.settings)
        try:
            policy: AutomationPolicy | None = self.get_policy(model)
        except NotFoundError:
            policy = None
        alias = policy.alias if policy else "production"
        summary: dict[str, Any] = {
            "model": model,
            "policy": None if policy is None else policy.to_dict(),
            "production": None,
            "data": [],
            "canary": None,
            "drift": [],
            "alerts": [],
            "last_trigger": None,
            "next_schedule": None,
            "plans": [],
            "agent": None if lease is None else {
                **lease.to_dict(), "alive": lease.expires_at > now_ms()
            },
        }  # fmt: skip
        try:
            version = registry.resolve(model_uri(model, alias=alias))
        except NotFoundError:
            version = None
        if version is not None:
            evaluations = registry.list_evaluations(model, version.version)
            latest = evaluations[0] if evaluations else None
            summary["production"] = {
                "uri": version.uri,
                "version": version.version,
                "run_id": version.run_id,
                "since": version.status_changed_at,
                "gate": None if latest is None else {
                    "passed": latest.get("passed"), "metrics": latest.get("metrics"),
                    "data": latest.get("data"),
                },
            }  # fmt: skip
            summary["data"] = self._data(version.model, version.version)
        with self.store.read() as conn:
            active = _records.active_plans(conn, model)
            last = _records.list_plans(conn, model=model, limit=1)
        summary["plans"] = [
            {"id": p.id, "step": p.step, "state": p.state, "reason": p.reason} for p in active
        ]
        for plan in active:
            if plan.step == "watch":
                summary["canary"] = {
                    "plan": plan.id,
                    "version": plan.version,
                    "share": policy.canary_share if policy else None,
                    "since": plan.details.get("canary_started"),
                    "figures": plan.details.get("canary"),
                }
        if last:
            plan = last[0]
            summary["last_trigger"] = {
                "plan": plan.id,
                "kind": plan.trigger.get("kind"),
                "summary": plan.trigger.get("summary"),
                "at": plan.created_at,
                "state": plan.state,
            }
        if policy is not None:
            try:
                registration = get_registration(policy.pipeline, settings=self.settings)
                times = registration.next_fire_times(1)
                summary["next_schedule"] = times[0].isoformat() if times else None
            except NotFoundError:
                summary["next_schedule"] = None
            if policy.deployment is not None:
                summary["drift"], summary["alerts"] = self._watching(policy.deployment)
        return summary

    def _data(self, model: str, version: int) -> list[dict[str, Any]]:
        """The dataset versions the version's run consumed, and each dataset's latest."""
        from loopml.data.versions import DatasetClient

        with self.store.read() as conn:
            made = ("model_version", f"{model}/{version}")
            consumed = sorted({found for found, _ in consumed_by_producers(conn, made)})
        datasets = DatasetClient(self.settings)
        found = []
        for node in consumed:
            name, _, number = node.rpartition("/")
            versions = datasets.list_versions(name)
            latest = versions[-1].version if versions else None
            found.append(
                {
                    "dataset": name,
                    "uri": dataset_uri(name, int(number)),
                    "version": int(number),
                    "latest": latest,
                }
            )
        return found

    def _watching(self, deployment: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        from loopml.monitoring import MonitorClient

        monitors = MonitorClient(self.settings)
        drift, alerts = [], []
        for monitor in monitors.list_monitors(deployment=deployment, limit=1000).items:
            windows = monitors.windows(monitor.name, limit=1).items
            if windows:
                w = windows[0]
                drift.append(
                    {
                        "monitor": monitor.name,
                        "end_ms": w.end_ms,
                        "drift_share": w.drift_share,
                        "drifted": w.dataset_drifted,
                        "features": list(w.drifted_features),
                    }
                )
            firing = monitors.alerts(monitor.name, state="firing", limit=100).items
            alerts += [a.to_dict() for a in firing]
        return drift, alerts
