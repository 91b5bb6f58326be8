"""Automation: retraining policies, rollout plans, pipeline triggers and the loop's status."""

from __future__ import annotations

from typing import Any

from loopml.errors import InvalidInputError
from loopml.server.api import Api, Call, Param
from loopml.server.routes._numbers import path_id

__all__ = ["api"]

api = Api("/api/v1", tag="automation")


@api.get("/automation/policies", summary="Every model's automation policy")
def list_policies(call: Call) -> dict[str, Any]:
    found = call.ctx.automation.list_policies()
    return {"policies": [{"model": model, **policy.to_dict()} for model, policy in found]}


@api.get("/automation/policies/{model}", summary="A model's automation policy")
def get_policy(call: Call) -> dict[str, Any]:
    model = call.path["model"]
    return {"model": model, **call.ctx.automation.get_policy(model).to_dict()}


@api.put(
    "/automation/policies/{model}",
    summary="Set a model's automation policy (body: the policy's fields, and reason)",
)
def set_policy(call: Call) -> dict[str, Any]:
    call.field("pipeline")  # the one field a policy cannot do without
    body = dict(call.json())
    reason = call.field("reason", default=None)
    body.pop("reason", None)
    retrain_on = body.get("retrain_on")
    if retrain_on is not None and (
        not isinstance(retrain_on, list) or not all(isinstance(k, str) for k in retrain_on)
    ):
        raise InvalidInputError(
            f"retrain_on must be a list of trigger kinds, got {retrain_on!r}",
            details={"field": "retrain_on"},
        )
    for name in ("pipeline", "deployment", "evaluate_on", "target", "alias", "metric",
                 "canary_for", "cooldown"):  # fmt: skip
        if body.get(name) is not None:
            call.field(name)  # a string, or 400 naming the field
    model = call.path["model"]
    policy = call.ctx.automation.set_policy(model, body, reason=reason)
    return {"model": model, **policy.to_dict()}


@api.delete(
    "/automation/policies/{model}",
    summary="Forget a model's automation policy",
    params=(Param("reason", description="why"),),
)
def remove_policy(call: Call) -> dict[str, Any]:
    model = call.path["model"]
    removed = call.ctx.automation.remove_policy(model, reason=call.text("reason"))
    return {"model": model, "removed": True, **removed.to_dict()}


@api.get(
    "/automation/plans",
    summary="Rollout plans, newest first",
    params=(
        Param("model", description="only this model's plans"),
        Param("state", "array", "only plans in these states (running, waiting, promoted, ...)"),
        Param("limit", "integer", "how many (default 50)"),
    ),
)
def list_plans(call: Call) -> dict[str, Any]:
    found = call.ctx.automation.plans(
        model=call.text("model"), states=tuple(call.texts("state")), limit=call.limit(50)
    )
    return {"plans": found}


@api.get("/automation/plans/{plan_id}", summary="One rollout plan with its step log")
def get_plan(call: Call) -> Any:
    return call.ctx.automation.plan(path_id(call, "plan_id", "plan"))


@api.post(
    "/automation/plans/{plan_id}/cancel",
    summary="Stop a plan in progress; a live canary's traffic goes back (body: reason)",
)
def cancel_plan(call: Call) -> Any:
    return call.ctx.automation.cancel(
        path_id(call, "plan_id", "plan"), reason=call.field("reason", default=None)
    )


@api.post(
    "/registered-pipelines/{name}/trigger",
    summary="Ask the automation agent to run a registered pipeline (body: reason)",
    status=202,
)
def trigger(call: Call) -> dict[str, Any]:
    name = call.path["name"]
    request = call.ctx.automation.trigger(name, reason=call.field("reason", default=None))
    return {"pipeline": name, "request": request}


@api.get(
    "/automation/status",
    summary="The loop at a glance, per model with a policy (or one model)",
    params=(Param("model", description="only this model"),),
)
def status(call: Call) -> dict[str, Any]:
    return {"models": call.ctx.automation.status(call.text("model"))}
