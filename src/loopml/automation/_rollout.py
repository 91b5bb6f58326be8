"""A rollout plan's steps, each one safe to run again after a crash.

train -> register -> evaluate -> approve -> canary -> watch -> promote (or rollback)

Each step reads what the world already holds before it acts, so an agent killed
anywhere resumes the plan where it stood: a pipeline run it started and recorded is
resumed (its finished steps reused), not run again; a version already registered from
the run is found, not registered twice; a canary already set is adopted; a promotion
already made is not made again. Every write that ends a step checks the lease in the
same transaction, so an agent that lost its lease cannot overwrite the new holder's
work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from loopml._user_code import user_code_error
from loopml.automation import _records
from loopml.automation._canary import judge_canary
from loopml.automation.lease import Lease
from loopml.automation.models import AutomationPolicy, Plan
from loopml.clock import now_ms
from loopml.config import Settings
from loopml.errors import LoopmlError, NotFoundError
from loopml.store import Store
from loopml.store.audit import record as audit
from loopml.store.lineage import Node, add_edge_once
from loopml.store.schema import artifact_files, model_versions, step_runs
from loopml.uris import model_uri, run_uri

if TYPE_CHECKING:
    from loopml.registry import RegistryClient
    from loopml.serving.deployments import DeploymentClient
    from loopml.serving.models import Deployment

__all__ = ["MAX_ATTEMPTS", "Rollout", "restore_traffic"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 2
"""How many times a step is started before the plan fails (a crash retries it once)."""
_ACTOR = "loopml-agent"


@dataclass
class _Outcome:
    """What a step decided: the next step, the plan's state, and why."""

    step: str
    state: str = "running"
    message: str = ""
    values: dict[str, Any] | None = None


class Rollout:
    """Moves plans through their steps for one agent (see the module docstring)."""

    def __init__(self, settings: Settings, store: Store, lease: Lease) -> None:
        self.settings = settings
        self.store = store
        self.lease = lease
        self._registry: RegistryClient | None = None
        self._deployments: DeploymentClient | None = None

    @property
    def registry(self) -> RegistryClient:
        if self._registry is None:
            from loopml.registry import RegistryClient

            self._registry = RegistryClient(self.settings)
        return self._registry

    @property
    def deployments(self) -> DeploymentClient:
        if self._deployments is None:
            from loopml.serving.deployments import DeploymentClient

            self._deployments = DeploymentClient(self.settings)
        return self._deployments

    # -- driving ------------------------------------------------------------------------

    def advance(self, plan: Plan) -> Plan:
        """Run the plan's steps until it waits or ends; return it as it stands then."""
        for _ in range(12):  # a plan has fewer steps than this; a bound against a loop
            if plan.ended:
                return plan
            step = getattr(self, f"_{plan.step}", None)
            if step is None:
                return self._write(plan, _Outcome("end", "failed", f"unknown step {plan.step!r}"))
            try:
                outcome = step(plan, self._policy(plan))
            except LoopmlError as err:
                outcome = self._failure(plan, err)
            except Exception as err:  # a plan must not take the agent down with it
                located: LoopmlError | None = user_code_error(err)  # theirs: file and line
                if located is None:
                    log.exception("plan %s failed in %s", plan.id, plan.step)
                    located = LoopmlError(
                        f"{type(err).__name__}: {err} (a bug in loopml: the agent's log has "
                        "the traceback)"
                    )
                outcome = self._failure(plan, located)
            moved = plan.state != outcome.state or plan.step != outcome.step
            plan = self._write(plan, outcome, log=moved or outcome.state != "waiting")
            if outcome.state == "waiting":
                return plan
        return plan

    def _failure(self, plan: Plan, err: LoopmlError) -> _Outcome:
        from loopml.automation.lease import LeaseLostError

        if isinstance(err, LeaseLostError):
            raise err
        message = f"{plan.step} failed: {err}"
        if plan.step in ("watch", "promote") and plan.details.get("canary_policy"):
            # A canary is live: put the deployment back before giving up.
            try:
                self._restore_traffic(plan, f"plan {plan.id} failed in {plan.step}")
            except LoopmlError as restore_error:
                message += f"; restoring the traffic failed too: {restore_error}"
        return _Outcome("end", "failed", message)

    def _policy(self, plan: Plan) -> AutomationPolicy | None:
        if plan.model is None:
            return None
        with self.store.read() as conn:
            row = _records.policy_row(conn, plan.model)
        if row is None:
            raise NotFoundError(
                "automation policy", plan.model, hint="it was removed while the plan ran"
            )
        return AutomationPolicy.from_dict(row.policy)

    def _write(self, plan: Plan, outcome: _Outcome, *, log: bool = True) -> Plan:
        """Store the step's outcome over the plan as it is stored now (a step may have
        written to it meanwhile: its details are merged, its log appended to)."""
        values = dict(outcome.values or {})
        given = values.pop("details", None)

        def work(conn: Connection) -> Plan:
            self.lease.check(conn)
            current = _records.find_plan(conn, plan.id, lock=True)
            if current.ended:  # cancelled meanwhile: a person's word is final
                return current
            details = dict(current.details)
            if given is not None:
                details.update({k: v for k, v in given.items() if k != "log"})
            if log:
                details = _records.append_log(details, outcome.step, outcome.state, outcome.message)
            if outcome.step != current.step:
                values.setdefault("attempts", 0)
            _records.write_plan(
                conn, current, step=outcome.step, state=outcome.state, details=details,
                reason=outcome.message or None, **values,
            )  # fmt: skip
            if outcome.state != current.state and outcome.state not in ("running", "waiting"):
                audit(
                    conn, action=f"plan.{outcome.state}", object_kind="plan",
                    object_id=str(plan.id), reason=outcome.message, actor=_ACTOR,
                    details={"model": plan.model, "version": current.version, "key": plan.key},
                )  # fmt: skip
            return _records.find_plan(conn, plan.id)

        return self.store.transact(work)

    def _edge(self, src: Node, plan: Plan) -> None:
        """``src --triggered_by-->`` what started the plan (and the plan itself)."""
        node = plan.trigger.get("node")

        def work(conn: Connection) -> None:
            if node:
                add_edge_once(conn, src, "triggered_by", (node[0], node[1]), {"plan": plan.id})
            add_edge_once(conn, src, "triggered_by", ("plan", str(plan.id)))

        self.store.transact(work)

    # -- train --------------------------------------------------------------------------

    def _train(self, plan: Plan, policy: AutomationPolicy | None) -> _Outcome:
        from loopml.pipelines import get_registration, load_pipeline, resume
        from loopml.pipelines.history import get_run

        previous = None
        if plan.pipeline_run_id is not None:
            previous = get_run(self.store, plan.pipeline_run_id)
            if previous.status == "finished":
                return self._trained(plan, previous.id, policy)
        if plan.attempts >= MAX_ATTEMPTS:
            return _Outcome("end", "failed", f"training failed {plan.attempts} times; see "
                            f"`loopml pipeline show {plan.pipeline_run_id}`")  # fmt: skip
        self._write(plan, _Outcome("train", "running", "training", {"attempts": plan.attempts + 1}))
        registration = get_registration(plan.pipeline, settings=self.settings)
        recorded: dict[str, str] = {}

        def on_event(event: Any) -> None:
            if "id" not in recorded:
                recorded["id"] = event.pipeline_run_id
                self.store.transact(
                    lambda conn: _records.write_plan(
                        conn, plan, pipeline_run_id=event.pipeline_run_id
                    )
                )

        with self._renewing():
            if previous is not None:  # the last agent died mid-run: reuse its finished steps
                run = resume(
                    previous.id, settings=self.settings, on_event=on_event, raise_on_failure=False
                )
            else:
                run = load_pipeline(registration.entrypoint).run(
                    registration.params, executor=registration.executor,
                    run_name=f"plan {plan.id}", settings=self.settings, on_event=on_event,
                    raise_on_failure=False,
                )  # fmt: skip
        self._edge(("run", run.id), plan)
        if run.status != "finished":
            failed = ", ".join(run.info.failed_steps) or "?"
            return _Outcome(
                "end", "failed",
                f"pipeline run {run.id} {run.status} (step {failed}); see "
                f"`loopml pipeline show {run.id}`",
                {"pipeline_run_id": run.id},
            )  # fmt: skip
        return self._trained(plan, run.id, policy)

    def _trained(self, plan: Plan, run_id: str, policy: AutomationPolicy | None) -> _Outcome:
        values = {"pipeline_run_id": run_id}
        if policy is None:
            return _Outcome("end", "done", f"pipeline run {run_id} finished", values)
        return _Outcome("register", "running", f"pipeline run {run_id} finished", values)

    # -- register -----------------------------------------------------------------------

    def _register(self, plan: Plan, policy: AutomationPolicy | None) -> _Outcome:
        assert plan.model is not None
        assert plan.pipeline_run_id is not None
        found = self._version_from(plan.model, plan.pipeline_run_id, plan.created_at)
        if found is None:
            package = self._package_from(plan.pipeline_run_id)
            if package is None:
                return _Outcome(
                    "end", "done",
                    f"pipeline run {plan.pipeline_run_id} made no new model package (its "
                    f"training was cached: same data and code); {plan.model} is unchanged",
                )  # fmt: skip
            run_id, path = package
            registered = self.registry.register(
                run_uri(run_id, path), plan.model,
                description=f"trained by plan {plan.id} ({plan.trigger.get('summary', '')})",
                tags={"loopml.plan": str(plan.id)},
            )  # fmt: skip
            found = registered.version
        uri = model_uri(plan.model, found)
        self._edge(("model_version", f"{plan.model}/{found}"), plan)
        return _Outcome("evaluate", "running", f"registered {uri}", {"version": found})

    def _version_from(self, model: str, pipeline_run_id: str, since: int) -> int | None:
        """The version of ``model`` registered from one of the run's steps (newest)."""
        with self.store.read() as conn:
            run_ids = select(step_runs.c.run_id).where(
                step_runs.c.pipeline_run_id == pipeline_run_id,
                step_runs.c.cached_from.is_(None),
            )
            return conn.execute(
                select(model_versions.c.version)
                .where(
                    model_versions.c.model == model,
                    model_versions.c.run_id.in_(run_ids),
                    model_versions.c.created_at >= since,
                )
                .order_by(model_versions.c.version.desc())
                .limit(1)
            ).scalar()

    def _package_from(self, pipeline_run_id: str) -> tuple[str, str] | None:
        """``(run id, path)`` of a model package a step of the run logged (not cached)."""
        f = artifact_files.c
        with self.store.read() as conn:
            row = conn.execute(
                select(step_runs.c.run_id, f.path)
                .join(artifact_files, f.owner_id == step_runs.c.run_id)
                .where(
                    step_runs.c.pipeline_run_id == pipeline_run_id,
                    step_runs.c.cached_from.is_(None),
                    f.owner_kind == "run",
                    (f.path == "model.json") | f.path.like("%/model.json"),
                )
                .order_by(step_runs.c.ended_at.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        return str(row.run_id), str(row.path).removesuffix("model.json").rstrip("/") or "."

    # -- evaluate -----------------------------------------------------------------------

    def _evaluate(self, plan: Plan, policy: AutomationPolicy | None) -> _Outcome:
        assert plan.model is not None
        assert plan.version is not None
        assert policy is not None
        uri = model_uri(plan.model, plan.version)
        if policy.evaluate_on is not None and policy.target is not None:
            from loopml.evaluation import evaluate

            gates = self.registry.get_policy(plan.model).gates
            with self._renewing():
                result = evaluate(
                    uri, policy.evaluate_on, policy.target, champion=policy.alias,
                    settings=self.settings, infra_check="infra" in gates,
                )  # fmt: skip
            passed, reasons, metrics = result.passed, list(result.reasons), dict(result.metrics)
        else:
            stored = self.registry.list_evaluations(plan.model, plan.version)
            if not stored:
                return _Outcome(
                    "end", "failed",
                    f"{uri} has no evaluation: evaluate it in the pipeline, or give the "
                    f"policy evaluation data (`loopml automation set {plan.model} "
                    "--evaluate-on datasets:/NAME@latest --target COLUMN`)",
                )  # fmt: skip
            latest = stored[0]
            passed = latest.get("passed")
            reasons = [
                g.get("reason", "") for g in latest.get("gates") or () if not g.get("passed")
            ]
            metrics = dict(latest.get("metrics") or {})
        details = {**plan.details, "evaluation": {"passed": passed, "metrics": metrics}}
        if passed is False:
            return _Outcome(
                "end", "rejected",
                f"{uri} failed the gates: {'; '.join(reasons)}; production is unchanged",
                {"details": details},
            )  # fmt: skip
        note = "passed the gates" if passed else "no gates in the model's promotion policy"
        return _Outcome("approve", "running", f"{uri} {note}", {"details": details})

    # -- approve ------------------------------------------------------------------------

    def _approve(self, plan: Plan, policy: AutomationPolicy | None) -> _Outcome:
        assert plan.model is not None
        assert plan.version is not None
        assert policy is not None
        uri = model_uri(plan.model, plan.version)
        rules = self.registry.get_policy(plan.model)
        if rules.require_approval:
            decisions = self.registry.list_approvals(plan.model, plan.version)
            if any(d.decision == "rejected" for d in decisions):
                who = next(d.actor for d in decisions if d.decision == "rejected")
                return _Outcome("end", "rejected", f"{who} rejected {uri}; production is unchanged")
            if not any(d.decision == "approved" for d in decisions):
                role = (
                    f"someone with role {rules.approver_role}" if rules.approver_role else "anyone"
                )
                return _Outcome(
                    "approve", "waiting",
                    f"waiting for an approval of {uri} by {role}: "
                    f"`loopml models approve {plan.model} {plan.version}`",
                )  # fmt: skip
        blockers = self.registry.promotion_blockers(plan.model, plan.version, policy.alias)
        if blockers:
            return _Outcome("end", "rejected", f"{uri} may not be promoted: {'; '.join(blockers)}")
        return _Outcome("canary", "running", f"{uri} may be promoted")

    # -- canary -------------------------------------------------------------------------

    def _canary(self, plan: Plan, policy: AutomationPolicy | None) -> _Outcome:
        from loopml.serving.policy import Route, TrafficPolicy

        assert plan.model is not None
        assert plan.version is not None
        assert policy is not None
        champion = self._champion(plan.model, policy.alias)
        if policy.deployment is None or policy.canary_share == 0:
            return _Outcome("promote", "running", "no canary in the policy")
        if champion is None:
            return _Outcome(
                "promote", "running", f"no {policy.alias} version yet: nothing to compare"
            )
        if champion == plan.version:
            return _Outcome("end", "done", f"{model_uri(plan.model, plan.version)} already serves")
        deployment = self.deployments.get(policy.deployment)
        follow = TrafficPolicy.follow(policy.alias)
        canary = TrafficPolicy(
            routes=(
                Route(alias=policy.alias, weight=100 - policy.canary_share),
                Route(version=plan.version, weight=policy.canary_share),
            ),
            shadow=deployment.policy.shadow,
        )
        if deployment.policy.routes == canary.routes:  # set before a crash: adopt it
            started = plan.details.get("canary_started") or deployment.updated_at
            revision = deployment.revision
        elif deployment.policy.routes != follow.routes:
            routes = ", ".join(f"{r.target}={r.weight}" for r in deployment.policy.routes)
            return _Outcome(
                "end", "failed",
                f"deployment {deployment.name} does not simply follow @{policy.alias} "
                f"(routes: {routes}); the agent canaries only a deployment that does: "
                f"`loopml deployments update {deployment.name} --follow {policy.alias}`",
            )  # fmt: skip
        else:
            changed = self.deployments.set_traffic(
                deployment.name, canary, expected_revision=deployment.revision,
                reason=f"plan {plan.id}: canary of {model_uri(plan.model, plan.version)}",
            )  # fmt: skip
            started, revision = changed.updated_at, changed.revision
        self._edge(("deployment_revision", f"{deployment.name}/{revision}"), plan)
        details = {
            **plan.details,
            # What a promotion or a rollback restores: the alias, all traffic, same shadow.
            "canary_policy": TrafficPolicy(follow.routes, deployment.policy.shadow).to_dict(),
            "canary_started": started,
            "champion": champion,
        }
        return _Outcome(
            "watch", "running",
            f"canary: {policy.canary_share}% of {deployment.name} to version {plan.version}, "
            f"{100 - policy.canary_share}% to version {champion}, watched for {policy.canary_for}",
            {"details": details},
        )  # fmt: skip

    def _champion(self, model: str, alias: str) -> int | None:
        try:
            return self.registry.resolve(model_uri(model, alias=alias)).version
        except NotFoundError:
            return None

    # -- watch --------------------------------------------------------------------------

    def _watch(self, plan: Plan, policy: AutomationPolicy | None) -> _Outcome:
        assert plan.model is not None
        assert plan.version is not None
        assert policy is not None
        assert policy.deployment is not None
        started = int(plan.details["canary_started"])
        verdict = judge_canary(
            self.settings, policy, policy.deployment, plan.model, plan.version,
            int(plan.details["champion"]), started,
        )  # fmt: skip
        details = {**plan.details, "canary": verdict.figures}
        if verdict.decision == "rollback":
            return _Outcome("rollback", "running", verdict.reason, {"details": details})
        if verdict.decision == "promote":
            return _Outcome("promote", "running", verdict.reason, {"details": details})
        return _Outcome("watch", "waiting", verdict.reason, {"details": details})

    # -- promote and roll back ----------------------------------------------------------

    def _promote(self, plan: Plan, policy: AutomationPolicy | None) -> _Outcome:
        assert plan.model is not None
        assert plan.version is not None
        assert policy is not None
        uri = model_uri(plan.model, plan.version)
        reason = f"plan {plan.id}: {plan.reason or 'canary passed'}"
        if self._champion(plan.model, policy.alias) != plan.version:
            self.registry.promote(plan.model, plan.version, policy.alias, reason=reason)
        if plan.details.get("canary_policy"):
            self._restore_traffic(plan, f"plan {plan.id}: {uri} takes all traffic")
        rebased = self._rebase(policy, reason)
        at = now_ms()
        details = {**plan.details, "promoted_at": at, "rebased_monitors": rebased}
        message = f"promoted {uri} to @{policy.alias}"
        if policy.deployment is not None:
            message += f"; it serves all of {policy.deployment}"
        return _Outcome("end", "promoted", message, {"details": details})

    def _rollback(self, plan: Plan, policy: AutomationPolicy | None) -> _Outcome:
        assert plan.model is not None
        assert plan.version is not None
        uri = model_uri(plan.model, plan.version)
        why = plan.reason or "the canary failed"
        self._restore_traffic(plan, f"plan {plan.id}: rolled back {uri}: {why}")
        version = self.registry.get_version(plan.model, plan.version)
        if version.status.value not in ("rejected", "archived"):
            self.registry.set_status(plan.model, plan.version, "rejected", reason=f"canary: {why}")
        return _Outcome("end", "rolled_back", f"rolled back {uri}: {why}")

    def _restore_traffic(self, plan: Plan, reason: str) -> None:
        policy = self._policy(plan)
        assert policy is not None
        assert policy.deployment is not None
        changed = restore_traffic(self.deployments, policy.deployment, plan, reason)
        if changed is not None:
            self._edge(("deployment_revision", f"{policy.deployment}/{changed.revision}"), plan)

    def _rebase(self, policy: AutomationPolicy, reason: str) -> list[str]:
        """Point the deployment's monitors at the new version's training data."""
        if policy.deployment is None:
            return []
        from loopml.monitoring import MonitorClient

        monitors = MonitorClient(self.settings)
        rebased = []
        for monitor in monitors.list_monitors(deployment=policy.deployment, limit=1000).items:
            try:
                monitors.rebase(monitor.name, reason=reason)
            except LoopmlError:  # no lineage to training data: keep the old reference
                continue
            rebased.append(monitor.name)
        return rebased

    # -- the lease ----------------------------------------------------------------------

    @contextmanager
    def _renewing(self) -> Iterator[None]:
        """Renew the lease in the background while a long step (training) runs."""
        stop = threading.Event()
        interval = max(self.lease.ttl_ms / 3000, 0.05)

        def renew() -> None:
            while not stop.wait(interval):
                try:
                    self.lease.acquire()
                except LoopmlError:
                    continue

        thread = threading.Thread(target=renew, name="loopml-lease", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def restore_traffic(
    deployments: DeploymentClient, deployment: str, plan: Plan, reason: str
) -> Deployment | None:
    """Put ``deployment``'s traffic policy back to the one ``plan``'s canary replaced (only
    if no one changed it meanwhile); the changed deployment, or ``None`` when it already is."""
    from loopml.serving.policy import TrafficPolicy

    before = TrafficPolicy.from_dict(plan.details["canary_policy"])
    current = deployments.get(deployment)
    if current.policy == before:
        return None
    return deployments.set_traffic(
        deployment, before, expected_revision=current.revision, reason=reason
    )
