"""The web UI's pages: sign-in, the loop at a glance, models, experiments and runs."""

from __future__ import annotations

import functools
import urllib.parse
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInputError, NotFoundError, UnauthorizedError
from loopml.server._http import TOKEN_COOKIE
from loopml.server.api import Api, Call, Reply
from loopml.server.ui._render import form, page, redirect, render

__all__ = ["api"]

api = Api("", tag="ui")

STATIC = Path(__file__).parent / "static"
MAX_CHART_POINTS = 4000
MAX_COMPARED = 20
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


# -- sign-in -----------------------------------------------------------------------------


def _next(target: str | None) -> str:
    """Only this server's own pages are followed after signing in."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@page(api, "/login", summary="The sign-in form", login=False)
def login_form(call: Call) -> Reply:
    if call.ctx.config.auth == "none":
        return redirect(_next(call.text("next")))
    return render(call, "login.j2", title="Sign in", next=_next(call.text("next")), problem=None)


@page(api, "/login", method="POST", summary="Sign in with an API token", login=False)
def login(call: Call) -> Reply:
    fields = form(call)
    target = _next(fields.get("next"))
    token = fields.get("token", "").strip()
    try:
        if not token:
            raise UnauthorizedError(
                "paste an API token (an admin makes one with `loopml tokens create USER`)"
            )
        call.ctx.accounts.authenticate(token)
    except UnauthorizedError as err:
        return render(call, "login.j2", status=401, title="Sign in", next=target, problem=str(err))
    cookie = f"{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
    return redirect(target, {"Set-Cookie": cookie})


@page(api, "/logout", method="POST", summary="Sign out (forget the token cookie)", login=False)
def logout(call: Call) -> Reply:
    cookie = f"{TOKEN_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
    return redirect("/login", {"Set-Cookie": cookie})


@page(api, "/static/{name}", summary="The UI's stylesheet and scripts", login=False)
def static(call: Call) -> Reply:
    name = call.path["name"]
    if name != "plotly.min.js" and name not in {p.name for p in STATIC.iterdir()}:
        raise NotFoundError("file", name, hint="the UI serves ui.css, ui.js and plotly.min.js")
    return Reply(
        _static_bytes(name),
        content_type=_TYPES.get(Path(name).suffix, "application/octet-stream"),
        headers={"Cache-Control": "public, max-age=3600"},
    )


@functools.cache
def _static_bytes(name: str) -> bytes:
    """A static file's bytes (read once: plotly's bundle is some 5 MB)."""
    if name == "plotly.min.js":
        import plotly

        return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
    return (STATIC / name).read_bytes()


# -- home: the loop per model -------------------------------------------------------------


@page(api, "/", summary="The loop per model and what needs attention")
def home(call: Call) -> Reply:
    ctx = call.ctx
    loops: list[dict[str, Any]] = []
    pending: list[Any] = []
    failed: list[dict[str, Any]] = []
    for model in ctx.registry.list_models():
        status = ctx.automation.status(model.name)[0]
        latest = None
        if model.latest_version is not None:
            latest = ctx.registry.get_version(model.name, model.latest_version)
            evaluations = ctx.registry.list_evaluations(model.name, latest.version)
            if evaluations and evaluations[0].get("passed") is False:
                failed.append(
                    {"model": model.name, "version": latest.version, "evaluation": evaluations[0]}
                )
        pending.extend(v for v in ctx.registry.list_versions(model.name, status="validated"))
        loops.append({"model": model, "status": status, "latest": latest})
    alerts = ctx.monitors.alerts(state="firing", limit=50).items
    return render(
        call,
        "home.j2",
        title="The loop",
        loops=loops,
        pending=pending,
        failed=failed,
        alerts=alerts,
    )


# -- models --------------------------------------------------------------------------------


@page(api, "/models", summary="Registered models")
def models(call: Call) -> Reply:
    return render(call, "models.j2", title="Models", models=call.ctx.registry.list_models())


@page(api, "/models/{name}", summary="A model: versions, aliases, evaluations, approvals")
def model(call: Call) -> Reply:
    registry = call.ctx.registry
    name = call.path["name"]
    found = registry.get_model(name)
    versions = list(reversed(registry.list_versions(name)))
    details = []
    for version in versions[:50]:
        details.append(
            {
                "version": version,
                "evaluations": registry.list_evaluations(name, version.version),
                "approvals": registry.list_approvals(name, version.version),
            }
        )
    return render(
        call,
        "model.j2",
        title=f"Model {name}",
        model=found,
        versions=details,
        history=list(reversed(registry.list_alias_changes(name))),
        may_approve=call.principal.allows("approver", f"model:{name}"),
        notice=call.text("notice"),
    )


def _decide(call: Call, decision: str) -> Reply:
    name = call.path["name"]
    version = _version_number(call.path["version"])
    call.require("approver", f"model:{name}", action=f"{decision} versions of model '{name}'")
    fields = form(call)
    comment = fields.get("comment", "").strip() or None
    if decision == "approve":
        registry_decision = call.ctx.registry.approve(name, version, comment=comment)
    else:
        if comment is None:
            raise InvalidInputError(
                "a rejection needs a comment saying why; write one and send it again"
            )
        registry_decision = call.ctx.registry.reject(name, version, comment=comment)
    notice = f"version {version} {registry_decision.decision} by {registry_decision.actor}"
    back = f"/models/{urllib.parse.quote(name, safe='')}"
    if fields.get("next"):  # the page the form was on (only this server's own pages)
        back = _next(fields["next"]).partition("?")[0]
    return redirect(f"{back}?notice={urllib.parse.quote(notice)}")


def _version_number(text: str) -> int:
    if not text.isdigit():
        raise InvalidInputError(f"a version is a whole number, got {text!r}")
    return int(text)


@page(api, "/models/{name}/versions/{version}/approve", method="POST", summary="Approve a version")
def approve(call: Call) -> Reply:
    return _decide(call, "approve")


@page(api, "/models/{name}/versions/{version}/reject", method="POST", summary="Reject a version")
def reject(call: Call) -> Reply:
    return _decide(call, "reject")


# -- experiments and runs ---------------------------------------------------------------------


@page(api, "/experiments", summary="Experiments and their run counts")
def experiments(call: Call) -> Reply:
    found = call.ctx.tracking.list_experiment_summaries(
        filter=call.text("filter") or None,
        order_by=call.text("order") or None,
        limit=call.limit(100),
        page_token=call.text("page_token"),
    )
    return render(
        call, "experiments.j2", title="Experiments", page=found, filter=call.text("filter") or ""
    )


@page(api, "/experiments/{name}", summary="An experiment's runs: filter, sort, page, compare")
def experiment(call: Call) -> Reply:
    tracking = call.ctx.tracking
    found = tracking.get_experiment(call.path["name"])
    text = call.text("filter") or ""
    order = call.text("order") or ""
    problem = None
    try:
        runs = tracking.list_runs(
            found.id,
            filter=text or None,
            order_by=order or None,
            limit=call.limit(50),
            page_token=call.text("page_token"),
        )
    except InvalidInputError as err:
        problem = str(err)
        runs = tracking.list_runs(found.id, limit=call.limit(50))
    params = sorted({k for r in runs.items for k in r.params})
    metrics = sorted({k for r in runs.items for k in r.metrics})
    return render(
        call,
        "experiment.j2",
        title=f"Experiment {found.name}",
        experiment=found,
        runs=runs,
        params=params,
        metrics=metrics,
        filter=text,
        order=order,
        problem=problem,
    )


@page(api, "/runs/{run_id}", summary="A run: params, metrics and their charts, tags")
def run(call: Call) -> Reply:
    found = call.ctx.tracking.get_run(call.path["run_id"])
    experiment = call.ctx.tracking.get_experiment(found.experiment_id)
    return render(call, "run.j2", title=f"Run {found.name}", run=found, experiment=experiment)


@page(api, "/runs/{run_id}/metrics/{key}", summary="A metric's history, downsampled to ?points")
def metric_points(call: Call) -> Any:
    points = call.integer("points", 1000, low=2, high=MAX_CHART_POINTS) or 1000
    total, sampled = call.ctx.tracking.sampled_metric_history(
        call.path["run_id"], call.path["key"], points
    )
    steps, values = [m.step for m in sampled], [m.value for m in sampled]
    return {"key": call.path["key"], "total": total, "steps": steps, "values": values}


@page(api, "/compare", summary="Runs side by side, with parallel coordinates of their params")
def compare(call: Call) -> Reply:
    ids = call.texts("run")
    if not ids:
        raise InvalidInputError("choose runs to compare: tick them in an experiment's run table")
    if len(ids) > MAX_COMPARED:
        raise InvalidInputError(f"compare at most {MAX_COMPARED} runs at once, got {len(ids)}")
    runs = [call.ctx.tracking.get_run(run_id) for run_id in ids]
    params = sorted({k for r in runs for k in r.params})
    metrics = sorted({k for r in runs for k in r.metrics})
    return render(
        call,
        "compare.j2",
        title="Compare runs",
        runs=runs,
        params=params,
        metrics=metrics,
        chart=_parallel(runs, params, metrics),
    )


def _parallel(runs: list[Any], params: list[str], metrics: list[str]) -> dict[str, Any]:
    """Plotly parcoords dimensions: numbers as they are, text as numbered categories."""
    dimensions = []
    for label, values in [
        *((f"params.{k}", [r.params.get(k) for r in runs]) for k in params),
        *((f"metrics.{k}", [r.metrics.get(k) for r in runs]) for k in metrics),
    ]:
        numbers = [_float(v) for v in values]
        if all(n is not None for n in numbers if True) and all(v is not None for v in values):
            dimensions.append({"label": label, "values": numbers})
        else:
            names = sorted({str(v) for v in values})
            dimensions.append(
                {
                    "label": label,
                    "values": [names.index(str(v)) for v in values],
                    "tickvals": list(range(len(names))),
                    "ticktext": names,
                }
            )
    return {"dimensions": dimensions}


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
