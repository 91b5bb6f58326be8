"""Judging a canary from the payload log: the canary's live figures against the champion's.

Both versions answer the same deployment at the same time, so they see the same
traffic; the canary is rolled back when, on its own rows since it started:

* its failed-request share is above the policy's ``max_error_rate`` (judged as soon as
  it has ``min_rows``, without waiting for the watch to end);
* its p95 latency is above ``max_latency_ratio`` times the champion's;
* once ``min_labels`` of its rows (and of the champion's) have labels: its realized
  metric is worse than the champion's by more than ``max_metric_drop``, beyond the noise
  (the 5th percentile of the drop over bootstrap resamples clears the allowance too);
* its live inputs drifted from the data it was trained on (``rollback_on_drift``): a
  version trained on data unlike what it serves;
* the watch ran four times ``canary_for`` and it still has fewer than ``min_rows``.

Otherwise, once ``canary_for`` has passed with ``min_rows``, it is promoted.

Example:
    >>> verdict = judge_canary(  # doctest: +SKIP
    ...     settings, policy, "churn-api", "churn", version=5, champion=4, started=started)
    >>> verdict.decision, verdict.figures["canary"]["error_rate"]  # doctest: +SKIP
    ('rollback', 0.31)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.automation.models import AutomationPolicy
from loopml.clock import now_ms
from loopml.config import Settings
from loopml.metrics import REGRESSION_METRICS

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Verdict", "judge_canary"]

_LOSSES = frozenset({"rmse", "mae", "log_loss", "calibration_error"})
_PATIENCE = 4  # how many canary_for a canary without enough traffic is watched
_DRIFT_ALPHA = 0.001
_ROUNDS_FAST, _ROUNDS = 1000, 100  # bootstrap resamples (accuracy is cheap to recompute)
_Labels = tuple[Any, Any] | None  # a side's labelled rows: (labels, predictions)


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: str  # "promote", "rollback" or "wait"
    reason: str
    figures: dict[str, Any]


def judge_canary(
    settings: Settings,
    policy: AutomationPolicy,
    deployment: str,
    model: str,
    version: int,
    champion: int,
    started: int,
) -> Verdict:
    """The canary's verdict now (see the module docstring)."""
    from loopml.monitoring.reader import read_predictions

    frame = read_predictions(deployment, since=started, settings=settings, with_labels=True)
    if len(frame):
        frame = frame[(frame["role"] == "primary") & (frame["model"] == model)]
    elapsed = now_ms() - started
    metric, task, column = _metric(settings, deployment, policy, model, version)
    canary, canary_labels = _figures(frame, version, metric, task, column)
    incumbent, champion_labels = _figures(frame, champion, metric, task, column)
    figures: dict[str, Any] = {
        "canary": canary, "champion": incumbent, "elapsed_ms": elapsed, "metric": metric,
    }  # fmt: skip
    rows = canary["requests"]
    if rows >= policy.min_rows and canary["error_rate"] > policy.max_error_rate:
        return Verdict(
            "rollback",
            f"the canary failed {canary['error_rate']:.1%} of its {rows} requests "
            f"(the policy allows {policy.max_error_rate:.1%}; version {champion}: "
            f"{incumbent['error_rate']:.1%})",
            figures,
        )
    if elapsed < policy.canary_ms:
        return Verdict(
            "wait",
            f"canary watched {_seconds(elapsed)} of {policy.canary_for}: {rows} requests, "
            f"{canary['error_rate']:.1%} failed",
            figures,
        )
    if rows < policy.min_rows:
        if elapsed >= _PATIENCE * policy.canary_ms:
            return Verdict(
                "rollback",
                f"too little traffic to judge the canary: {rows} requests in "
                f"{_seconds(elapsed)} (the policy needs {policy.min_rows})",
                figures,
            )
        return Verdict(
            "wait",
            f"canary has {rows} of the {policy.min_rows} requests needed to judge it",
            figures,
        )
    p95, champion_p95 = canary["latency_p95"], incumbent["latency_p95"]
    if p95 is not None and champion_p95 and p95 > policy.max_latency_ratio * champion_p95:
        return Verdict(
            "rollback",
            f"the canary's p95 latency {p95:.1f} ms is over {policy.max_latency_ratio:g}x the "
            f"champion's {champion_p95:.1f} ms",
            figures,
        )
    drift = _input_drift(settings, frame, model, version)
    figures["drift"] = drift
    if policy.rollback_on_drift and drift is not None and drift["drifted"]:
        return Verdict(
            "rollback",
            f"the canary's live inputs drifted from its own training data "
            f"({drift['drift_share']:.0%} of features: {', '.join(drift['features'])}): it "
            "was trained on data unlike what it serves",
            figures,
        )
    mine, theirs = canary["metric"], incumbent["metric"]
    labelled = min(canary["labelled"], incumbent["labelled"])
    if (
        metric is not None
        and mine is not None
        and theirs is not None
        and labelled >= policy.min_labels
    ):
        worse = (mine - theirs) if metric in _LOSSES else (theirs - mine)
        # Worse by more than the policy allows, beyond the noise of a few hundred rows:
        # the bootstrap's 5th percentile of the drop must clear the allowance too.
        least = _least_drop(metric, task, canary_labels, champion_labels)
        figures["metric_drop"] = {"observed": worse, "at_least": least}
        if worse > policy.max_metric_drop and least > policy.max_metric_drop:
            return Verdict(
                "rollback",
                f"the canary's {metric} {mine:.3f} is {worse:.3f} worse than the champion's "
                f"{theirs:.3f} on labelled live traffic (at least {least:.3f} at 95 % "
                f"confidence; the policy allows {policy.max_metric_drop:g})",
                figures,
            )
        judged = f"{metric} {mine:.3f} vs {theirs:.3f}"
    else:
        judged = f"{metric or 'performance'} not compared yet (too few labels)"
    return Verdict(
        "promote",
        f"canary passed after {_seconds(elapsed)}: {rows} requests, "
        f"{canary['error_rate']:.1%} failed, {judged}",
        figures,
    )


def _figures(
    frame: pd.DataFrame, version: int, metric: str | None, task: str | None, column: str
) -> tuple[dict[str, Any], _Labels]:
    import numpy as np

    rows = frame[frame["version"] == version] if len(frame) else frame
    requests = int(rows["request_id"].nunique()) if len(rows) else 0
    failed = int(rows.loc[rows["status"] != 200, "request_id"].nunique()) if len(rows) else 0
    answered = rows[rows["status"] == 200] if len(rows) else rows
    latency = (
        answered["latency_ms"].dropna().to_numpy(dtype=float) if len(answered) else np.array([])
    )
    result: dict[str, Any] = {
        "version": version,
        "requests": requests,
        "error_rate": failed / requests if requests else 0.0,
        "latency_p95": float(np.percentile(latency, 95)) if len(latency) else None,
        "labelled": 0,
        "metric": None,
    }
    if metric is None or "label" not in answered.columns or column not in answered.columns:
        return result, None
    pairs = zip(answered["label"], answered["row"], strict=True)
    labels = [_row_label(label, row) for label, row in pairs]
    has = np.array([label is not None for label in labels], dtype=bool)
    result["labelled"] = int(has.sum())
    if not has.any() or task is None:
        return result, None
    from loopml.monitoring.windows import realized_metrics

    y_true = np.asarray([label for label in labels if label is not None], dtype=object)
    y_pred = answered[column].to_numpy(dtype=object)[has]
    values, _ = realized_metrics(task, y_true, y_pred)
    result["metric"] = values.get(metric)
    return result, (y_true, y_pred)


def _least_drop(metric: str, task: str | None, mine: _Labels, theirs: _Labels) -> float:
    """The 5th percentile of the canary's drop against the champion over bootstrap
    resamples of both sides' labelled rows (how much worse it surely is)."""
    import numpy as np

    from loopml.monitoring.windows import realized_metrics, same_kind

    if mine is None or theirs is None or task is None:
        return float("-inf")
    rng = np.random.default_rng(0)
    loss = metric in _LOSSES

    def score(pair: tuple[Any, Any], index: Any) -> float | None:
        truth, predicted = pair[0][index], pair[1][index]
        if metric == "accuracy":  # the common case, without the metrics' overhead
            a, b = same_kind(truth, predicted)
            return float(np.mean(a == b))
        value = realized_metrics(task, truth, predicted)[0].get(metric)
        return None if value is None else float(value)

    rounds = _ROUNDS_FAST if metric == "accuracy" else _ROUNDS
    drops = []
    for _ in range(rounds):
        a = score(mine, rng.integers(0, len(mine[0]), len(mine[0])))
        b = score(theirs, rng.integers(0, len(theirs[0]), len(theirs[0])))
        if a is not None and b is not None:
            drops.append(a - b if loss else b - a)
    return float(np.percentile(drops, 5)) if drops else float("-inf")


def _input_drift(
    settings: Settings, frame: pd.DataFrame, model: str, version: int
) -> dict[str, Any] | None:
    """The drift of the canary's live inputs against the data its version was trained on
    (found through lineage); ``None`` when the lineage names no training data."""
    from loopml.data.sketch import drift_against, sketch_table
    from loopml.data.versions import DatasetClient
    from loopml.store import open_store
    from loopml.store.lineage import consumed_by_producers
    from loopml.uris import dataset_uri

    node = ("model_version", f"{model}/{version}")
    with open_store(settings.db_url).read() as conn:
        consumed = sorted(found for found, _ in consumed_by_producers(conn, node))
    rows = frame[frame["version"] == version] if len(frame) else frame
    inputs = {c: c.removeprefix("input.") for c in rows.columns if c.startswith("input.")}
    if not consumed or not len(rows) or not inputs:
        return None
    name, _, number = consumed[-1].rpartition("/")
    reference = dataset_uri(name, int(number))
    training = DatasetClient(settings).load(reference)
    if isinstance(training, Path):  # a folder of files: no columns to compare
        return None
    live = rows[list(inputs)].rename(columns=inputs)
    shared = [c for c in live.columns if c in training.columns]
    if not shared:
        return None
    live = live[shared].apply(lambda column: column.infer_objects())
    # Rolling a canary back is a strong act: only strong evidence (p < 0.001) counts.
    result = drift_against(sketch_table(training[shared]), live, alpha=_DRIFT_ALPHA)
    return {
        "reference": reference,
        "drift_share": result.drift_share,
        "drifted": result.dataset_drifted,
        "features": [c.column for c in result.columns if c.drifted],
    }


def _row_label(label: Any, row: Any) -> Any:
    """A request's label for one of its rows (monitoring's rule); a missing one is None."""
    from loopml.monitoring.windows import row_label

    if label is None or (isinstance(label, float) and label != label):
        return None
    return row_label(label, row)


def _metric(
    settings: Settings, deployment: str, policy: AutomationPolicy, model: str, version: int
) -> tuple[str | None, str | None, str]:
    """The metric to compare, the task (the policy's, else the version's evaluation's) and
    the output column compared with labels (the deployment's monitor's, else ``predict``)."""
    from loopml.monitoring import MonitorClient
    from loopml.registry import RegistryClient

    watching = MonitorClient(settings).list_monitors(deployment=deployment, limit=1).items
    prediction = watching[0].config.prediction if watching else "predict"
    task = watching[0].config.task if watching else None
    evaluations = RegistryClient(settings).list_evaluations(model, version)
    if task is None and evaluations:
        task = evaluations[0].get("task")
    metric = policy.metric
    if metric is None and task is not None:
        metric = REGRESSION_METRICS[0] if task == "regression" else "accuracy"
    if task is None and metric is not None:
        task = "regression" if metric in REGRESSION_METRICS else "classification"
    return metric, task, f"output.{prediction}"  # the payload log's output columns


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.0f}s" if ms < 120_000 else f"{ms / 60_000:.1f}m"
