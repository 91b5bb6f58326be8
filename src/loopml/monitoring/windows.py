"""One window of the payload log, measured: drift, data quality, service health, performance.

:func:`measure_window` is the pure heart of a monitor: it takes the window's rows (as
:func:`~loopml.monitoring.read_predictions` gives them, labels joined), the stored
reference sketch and the monitor's configuration, and returns what the window holds. It
never reads the reference's raw data: a window costs the same whatever the reference's
size. :class:`~loopml.monitoring.monitors.MonitorClient` stores the results.

What it measures:

- **drift** of each watched feature (``input.*`` and looked-up ``feature.*`` columns,
  named without their prefix) against the sketch, by
  :func:`loopml.data.sketch.drift_against` (the one drift module validation uses too),
  with the reference-vs-current distributions for the report;
- **prediction drift** of each output the sketch holds (``output.*``: the model's
  predictions on the reference, stored when the monitor was created);
- **data quality**: per feature (in the drift results) the missing share beside the
  reference's, the share of values outside the reference's range and the categories it
  never had; per window the inputs the reference does not know and the features the
  window lacks;
- **service health** from every primary request, failed ones included: requests,
  errors, error rate and the model's latency percentiles;
- **realized performance** on the rows whose request has a label, with the same metric
  functions as evaluation gates (:mod:`loopml.metrics`), overall and per version, and
  the label coverage.

Example:
    >>> results = measure_window(frame, sketch, MonitorConfig())  # doctest: +SKIP
    >>> results.results["drift"]["drift_share"]  # doctest: +SKIP
    0.25
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from loopml.data.schema import DataSchema
from loopml.data.sketch import ReferenceSketch, drift_against
from loopml.metrics import compute_metrics
from loopml.monitoring._rows import FEATURE_PREFIX, INPUT_PREFIX, OUTPUT_PREFIX
from loopml.monitoring.models import MonitorConfig

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "CBPE_ASSUMPTIONS",
    "Measured",
    "estimate_performance",
    "measure_performance",
    "measure_window",
    "realized_metrics",
    "row_label",
    "same_kind",
    "stream_rows",
    "watched_features",
]

CBPE_ASSUMPTIONS = (
    "an estimate without labels (confidence-based, like NannyML's CBPE): it holds while the "
    "model's probabilities are calibrated on production data and only the inputs' "
    "distribution moved (P(label | inputs) did not); a changed relation between inputs and "
    "labels (concept drift) is invisible to it"
)
_MAX_LISTED = 50  # column names listed in one quality finding
_CLASS_LIMIT = 50  # distinct labels beyond which an unknown task is taken for regression


@dataclass(frozen=True, slots=True)
class Measured:
    """What :func:`measure_window` found: the counts a window row keeps, and its results."""

    rows: int
    requests: int
    versions: tuple[dict[str, Any], ...]
    drift_share: float | None
    dataset_drifted: bool
    results: dict[str, Any]


def watched_features(sketch: ReferenceSketch, config: MonitorConfig) -> tuple[str, ...]:
    """The features a monitor watches: its configured ones, else the sketch's inputs.

    The sketch's inputs are its columns but the label (``config.target``) and the
    reference predictions (``output.*``).
    """
    if config.features:
        return tuple(config.features)
    return tuple(
        name
        for name in sketch.columns
        if name != config.target and not name.startswith(OUTPUT_PREFIX)
    )


def measure_window(
    frame: pd.DataFrame,
    sketch: ReferenceSketch,
    config: MonitorConfig,
    *,
    baseline: Mapping[str, float] | None = None,
    outputs: ReferenceSketch | None = None,
    schema: DataSchema | None = None,
) -> Measured:
    """Measure one window's rows against the reference sketch (see the module docstring).

    Args:
        frame: the window's payload-log rows (any roles and statuses; a ``label`` column
            when labels were joined).
        sketch: the monitor's stored reference.
        config: the monitor's configuration (features, drift options, task, …).
        baseline: the served version's stored evaluation metrics, for rules that compare
            with them.
        outputs: the sketch of the model's predictions on the reference (``output.*``
            columns), for prediction drift; ``None`` leaves prediction drift out.
        schema: a data schema the window's inputs must follow (its column checks: types,
            nulls, ranges, categories, extra columns); ``None`` checks the sketch only.
    """
    primary = frame[frame["role"] == "primary"] if len(frame) else frame
    answered = primary[primary["status"] == 200] if len(primary) else primary
    health = _health(primary)
    inputs = _inputs(answered)
    features = [name for name in watched_features(sketch, config) if name in sketch.columns]
    present = [name for name in features if name in inputs]
    quality: dict[str, Any] = {
        "unexpected_columns": sorted(set(inputs) - set(sketch.columns))[:_MAX_LISTED],
        "missing_columns": sorted(set(features) - set(inputs))[:_MAX_LISTED],
    }
    if schema is not None and len(answered):
        quality["schema"] = _schema_check(inputs, schema)
    drift = None
    if len(answered) and present:
        drift = drift_against(
            sketch,
            _table(inputs, present),
            columns=present,
            method=config.method,
            thresholds=config.thresholds or None,
            calibrated=not config.thresholds,
            correction=config.correction,  # type: ignore[arg-type]
            alpha=config.alpha,
            importance=config.importance or None,
            share_threshold=config.share_threshold,
            distributions=True,
        )
    watched_outputs = (
        [] if outputs is None else [name for name in outputs.columns if name in answered.columns]
    )
    prediction_drift = None
    if len(answered) and outputs is not None and watched_outputs:
        prediction_drift = drift_against(
            outputs,
            _table({name: answered[name] for name in watched_outputs}, watched_outputs),
            columns=watched_outputs,
            method=config.method,
            thresholds=config.thresholds or None,
            calibrated=not config.thresholds,
            correction=config.correction,  # type: ignore[arg-type]
            alpha=config.alpha,
            share_threshold=config.share_threshold,
            distributions=True,
        )
    results: dict[str, Any] = {
        "drift": None if drift is None else drift.to_dict(),
        "prediction_drift": None if prediction_drift is None else prediction_drift.to_dict(),
        "quality": quality,
        "health": health,
        "performance": _performance(primary, answered, config, baseline),
        "estimated_performance": estimate_performance(answered, config),
    }
    versions = _versions(answered)
    return Measured(
        rows=len(answered),
        requests=int(health["requests"]),
        versions=versions,
        drift_share=None if drift is None else drift.drift_share,
        dataset_drifted=False if drift is None else drift.dataset_drifted,
        results=results,
    )


def measure_performance(
    frame: pd.DataFrame, config: MonitorConfig, baseline: Mapping[str, float] | None = None
) -> dict[str, Any] | None:
    """Only the realized performance of a window's rows (labels joined): what changes when
    labels arrive after the window was measured."""
    primary = frame[frame["role"] == "primary"] if len(frame) else frame
    answered = primary[primary["status"] == 200] if len(primary) else primary
    return _performance(primary, answered, config, baseline)


def stream_rows(
    table: pa.Table, dataset: str, version: int, at: int, config: MonitorConfig
) -> pd.DataFrame:
    """One dataset version of a table stream in the payload log's shape, so a window of a
    stream is measured like a deployment's: each column an ``input.*`` (the label column,
    ``config.target``, becomes ``label``; the prediction column, ``config.prediction``,
    ``output.*``), every row answered, no latency."""
    import pandas as pd

    rows = table.num_rows
    frame = pd.DataFrame(
        {
            "request_id": np.arange(rows).astype(str),
            "row": np.zeros(rows, dtype=np.int32),
            "time_ms": np.full(rows, at, dtype=np.int64),
            "model": dataset,
            "version": version,
            "role": "primary",
            "status": np.full(rows, 200, dtype=np.int32),
            "latency_ms": np.full(rows, np.nan),
        }
    )
    columns = {}
    for name in table.column_names:
        values = table.column(name).to_pandas()
        if name == config.target:
            columns["label"] = values.astype(object).where(values.notna(), None)
        elif name == config.prediction:
            columns[OUTPUT_PREFIX + name] = values
        else:
            columns[INPUT_PREFIX + name] = values
    return pd.concat([frame, pd.DataFrame(columns)], axis=1)


def estimate_performance(answered: pd.DataFrame, config: MonitorConfig) -> dict[str, Any] | None:
    """A binary classifier's expected accuracy, precision, recall and f1 on a window without
    labels, from its probabilities (``config.probability``): each row counts as a true
    positive with its probability p when predicted positive (p >= 0.5), as a false positive
    with 1 - p, and so on (CBPE). ``None`` when the monitor names no probability output.

    Example:
        >>> import pandas as pd
        >>> rows = pd.DataFrame({"output.p": [0.9, 0.8, 0.3, 0.1]})
        >>> estimated = estimate_performance(rows, MonitorConfig(probability="p"))
        >>> round(estimated["metrics"]["accuracy"], 3)
        0.825
    """
    if config.probability is None:
        return None
    column = OUTPUT_PREFIX + config.probability
    result: dict[str, Any] = {"method": "cbpe", "estimate": True, "rows": 0, "metrics": {},
                              "assumptions": CBPE_ASSUMPTIONS, "notes": []}  # fmt: skip
    if column not in answered.columns:
        result["notes"].append(f"the window has no output {config.probability!r}")
        return result
    values = [v[-1] if isinstance(v, list | tuple | np.ndarray) and len(v) else v
              for v in answered[column].tolist()]  # fmt: skip
    p = np.asarray([v if isinstance(v, int | float) else np.nan for v in values], dtype=float)
    p = p[np.isfinite(p) & (p >= 0) & (p <= 1)]
    result["rows"] = int(p.size)
    if not p.size:
        result["notes"].append(f"no probabilities in [0, 1] in {config.probability!r}")
        return result
    positive = p >= 0.5
    tp, fp = float(p[positive].sum()), float((1 - p[positive]).sum())
    fn, tn = float(p[~positive].sum()), float((1 - p[~positive]).sum())
    metrics = {"accuracy": (tp + tn) / p.size}
    if tp + fp > 0:
        metrics["precision"] = tp / (tp + fp)
    if tp + fn > 0:
        metrics["recall"] = tp / (tp + fn)
    if "precision" in metrics and "recall" in metrics and tp > 0:
        metrics["f1"] = 2 * tp / (2 * tp + fp + fn)
    result["metrics"] = metrics
    return result


def _schema_check(inputs: Mapping[str, Any], schema: DataSchema) -> dict[str, Any]:
    """The window's inputs against the data schema: passed, and the violations."""
    import pandas as pd

    from loopml.data.validate import validate

    table = pd.DataFrame({name: column.to_numpy() for name, column in inputs.items()})
    found = validate(table, schema)
    violations = [
        {key: value for key, value in v.to_dict().items() if key != "examples"}
        for v in found.violations[:_MAX_LISTED]
    ]
    return {"passed": found.passed, "violations": violations}


def _inputs(answered: pd.DataFrame) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for column in answered.columns:
        for prefix in (INPUT_PREFIX, FEATURE_PREFIX):
            if column.startswith(prefix):
                found.setdefault(column.removeprefix(prefix), answered[column])
    return found


def _table(columns: Mapping[str, Any], names: Sequence[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({name: columns[name].to_numpy() for name in names})


def _health(primary: pd.DataFrame) -> dict[str, Any]:
    if not len(primary):
        return {
            "requests": 0,
            "errors": 0,
            "error_rate": None,
            "latency_ms": {"p50": None, "p95": None, "p99": None, "mean": None},
        }
    requests = primary.drop_duplicates("request_id")
    errors = int((requests["status"] != 200).sum())
    latency = requests["latency_ms"].to_numpy(dtype=np.float64, na_value=np.nan)
    latency = latency[np.isfinite(latency)]
    figures: dict[str, float | None] = {"p50": None, "p95": None, "p99": None, "mean": None}
    if latency.size:
        p50, p95, p99 = np.percentile(latency, [50, 95, 99]).tolist()
        figures = {"p50": p50, "p95": p95, "p99": p99, "mean": float(latency.mean())}
    return {
        "requests": len(requests),
        "errors": errors,
        "error_rate": errors / len(requests),
        "latency_ms": figures,
    }


def _versions(answered: pd.DataFrame) -> tuple[dict[str, Any], ...]:
    if not len(answered):
        return ()
    counts = answered.groupby(["model", "version"], sort=True).size()
    found: list[dict[str, Any]] = []
    for key, rows in counts.items():
        pair: Any = key
        found.append({"model": str(pair[0]), "version": int(pair[1]), "rows": int(rows)})
    return tuple(found)


def _performance(
    primary: pd.DataFrame,
    answered: pd.DataFrame,
    config: MonitorConfig,
    baseline: Mapping[str, float] | None,
) -> dict[str, Any] | None:
    column = OUTPUT_PREFIX + config.prediction
    if "label" not in answered.columns or column not in answered.columns:
        return None
    requests = primary["request_id"].nunique() if len(primary) else 0
    answered_requests = answered["request_id"].nunique() if len(answered) else 0
    labels = [
        row_label(label, row) for label, row in zip(answered["label"], answered["row"], strict=True)
    ]
    has = np.array([label is not None for label in labels], dtype=bool)
    labelled = answered[has]
    coverage = {
        "requests": int(answered_requests),
        "labelled": int(labelled["request_id"].nunique()) if len(labelled) else 0,
        "share": (labelled["request_id"].nunique() / answered_requests)
        if answered_requests
        else None,
        "failed_requests": int(requests - answered_requests),
    }
    result: dict[str, Any] = {
        "task": config.task,
        "labelled_rows": int(has.sum()),
        "coverage": coverage,
        "metrics": {},
        "baseline": dict(baseline) if baseline else None,
        "by_version": {},
        "notes": [],
    }
    if not has.any():
        result["notes"].append("no labels yet: send them with loopml feedback or POST /feedback")
        return result
    y_true = np.asarray([label for label in labels if label is not None], dtype=object)
    y_pred = labelled[column].to_numpy(dtype=object)
    task = config.task or _infer_task(y_true)
    result["task"] = task
    metrics, notes = realized_metrics(task, y_true, y_pred)
    result["metrics"], result["notes"] = metrics, notes
    versions = labelled["model"].astype(str) + "/" + labelled["version"].astype(str)
    keys = sorted(set(versions))
    for key in keys:
        mask = (versions == key).to_numpy()
        figures = (
            metrics if len(keys) == 1 else realized_metrics(task, y_true[mask], y_pred[mask])[0]
        )
        result["by_version"][key] = {"labelled_rows": int(mask.sum()), "metrics": figures}
    return result


def row_label(label: Any, row: Any) -> Any:
    """A request's label for one of its rows: a list labels its rows one by one."""
    if isinstance(label, list) and not isinstance(row, bool):
        index = int(row)
        return label[index] if 0 <= index < len(label) else None
    return label


def _infer_task(y_true: np.ndarray[Any, Any]) -> str:
    values = [v for v in y_true.tolist() if v is not None]
    if all(isinstance(v, bool | str) for v in values):
        return "classification"
    numbers = [v for v in values if isinstance(v, int | float)]
    if len(numbers) == len(values) and all(float(v).is_integer() for v in numbers):
        return "classification" if len(set(numbers)) <= _CLASS_LIMIT else "regression"
    return "regression"


def realized_metrics(
    task: str, y_true: np.ndarray[Any, Any], y_pred: np.ndarray[Any, Any]
) -> tuple[dict[str, float], list[str]]:
    """The task's metrics of live predictions against their labels (object arrays as the
    payload log holds them: numbers when both sides are numbers, else text), finite only."""
    if not len(y_true):
        return {}, []
    if task == "regression":
        truth = np.asarray(y_true, dtype=np.float64)
        predicted = np.asarray(y_pred, dtype=np.float64)
    else:
        truth, predicted = same_kind(y_true, y_pred)
    values, notes = compute_metrics(task, truth, predicted)  # type: ignore[arg-type]
    return {k: float(v) for k, v in values.items() if math.isfinite(float(v))}, notes


def same_kind(
    y_true: np.ndarray[Any, Any], y_pred: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Labels and predictions as one kind: numbers when both are, else text."""
    try:
        return np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    except (TypeError, ValueError):
        return y_true.astype(str), y_pred.astype(str)
