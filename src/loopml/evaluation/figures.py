"""The pictures of an evaluation: what MLflow's ``evaluate`` draws, as plotly figures.

Classification: ``roc_curve`` and ``precision_recall_curve`` (two classes: the positive
class, the larger label; more classes: one curve per class, one-vs-rest),
``calibration_curve`` (two classes: the positive class's predicted probability against
how often it is the label, in 10 equal-width bins; more classes: the top-label
confidence against accuracy, the same bins the ``calibration_error`` metric uses) and
``confusion_matrix``. The first three need ``predict_proba``. Regression: ``residuals``
(residual against prediction) and ``residual_histogram``. Both tasks: ``slices``, a bar
per slice group of the headline metric (``f1``, or ``rmse``). When the champion was
measured on the same data, its curves, residuals and bars are drawn beside the
candidate's.

Example:
    >>> import numpy as np
    >>> drawn = Predicted("candidate", np.array([0, 1, 1]), None, np.array([0, 1]))
    >>> sorted(draw("classification", np.array([0, 1, 0]), drawn))
    ['confusion_matrix']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from loopml.evaluation.models import ChampionResult, SliceMetrics
from loopml.metrics import CALIBRATION_BINS, probability_table

if TYPE_CHECKING:
    import plotly.graph_objects as go
    from numpy.typing import NDArray

__all__ = ["HEADLINE", "MAX_POINTS", "Predicted", "draw", "draw_sides"]

HEADLINE = {"classification": "f1", "regression": "rmse"}
# A curve or a scatter keeps at most this many points: the picture is the same, the
# stored JSON stays small on large data.
MAX_POINTS = 2000
_COLORS = ("#1f6feb", "#d1242f")  # candidate, champion
_LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
    "legend": {"orientation": "h", "y": -0.2},
}


@dataclass(frozen=True, slots=True)
class Predicted:
    """One model's predictions on the evaluation data, kept for drawing.

    Attributes:
        label: how the legend names it (``"candidate v4"``, ``"champion v3"``).
        predictions: one predicted label (or number) per row.
        proba: ``predict_proba``'s output, or ``None``.
        classes: the class labels in ``proba``'s column order (classification).
    """

    label: str
    predictions: NDArray[Any]
    proba: NDArray[Any] | None = None
    classes: NDArray[Any] | None = None


def draw(
    task: str,
    y_true: NDArray[Any],
    candidate: Predicted,
    champion: Predicted | None = None,
    slices: SliceMetrics | None = None,
    champion_slices: SliceMetrics | None = None,
) -> dict[str, go.Figure]:
    """The evaluation's figures, by name (see the module docstring)."""
    sides = [candidate] + ([champion] if champion is not None else [])
    if task == "classification":
        figures = _classification(np.asarray(y_true), sides)
    else:
        figures = _regression(np.asarray(y_true, dtype=np.float64), sides)
    if slices:
        figures["slices"] = _slices(
            HEADLINE.get(task, "f1"), slices, champion_slices, candidate, champion
        )
    return figures


class _Measured(Protocol):
    @property
    def drawn(self) -> Predicted | None: ...


def draw_sides(
    task: str,
    y_true: NDArray[Any],
    version: Any,
    mine: _Measured,
    champion: ChampionResult | None,
    theirs: _Measured | None,
) -> tuple[dict[str, go.Figure], list[str]]:
    """:func:`draw` for what ``evaluate`` measured: the candidate (named by its version,
    when it has one) and the champion, when it was measured on the same data.

    Pictures never fail an evaluation: when drawing fails, there are none, and a note
    says why.
    """
    if mine.drawn is None:
        return {}, []
    number = getattr(version, "version", None)
    candidate = replace(mine.drawn, label="candidate" + (f" v{number}" if number else ""))
    rival = None
    if champion is not None and theirs is not None and theirs.drawn is not None:
        rival = replace(theirs.drawn, label=f"champion v{champion.version}")
    try:
        figures = draw(
            task,
            y_true,
            candidate,
            rival,
            getattr(mine, "slices", None),
            champion.slices if champion is not None else None,
        )
    except Exception as err:
        return {}, [f"figures left out: drawing them failed ({type(err).__name__}: {err})"]
    return figures, []


# -- classification ------------------------------------------------------------------------


def _classification(y_true: NDArray[Any], sides: list[Predicted]) -> dict[str, go.Figure]:
    figures: dict[str, go.Figure] = {}
    tables = [(side, _table(side)) for side in sides]
    with_proba = [(side, table) for side, table in tables if table is not None]
    if with_proba:
        figures["roc_curve"] = _curves(y_true, with_proba, "roc")
        figures["precision_recall_curve"] = _curves(y_true, with_proba, "pr")
        figures["calibration_curve"] = _calibration(y_true, with_proba)
    figures["confusion_matrix"] = _confusion(y_true, sides[0])
    return figures


def _table(side: Predicted) -> NDArray[np.float64] | None:
    if side.proba is None or side.classes is None:
        return None
    table, _ = probability_table(side.proba, np.asarray(side.classes))
    return table


def _curves(
    y_true: NDArray[Any], sides: list[tuple[Predicted, NDArray[np.float64]]], kind: str
) -> go.Figure:
    import plotly.graph_objects as go
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    figure = go.Figure()
    for number, (side, table) in enumerate(sides):
        classes = np.asarray(side.classes)
        columns = [1] if len(classes) == 2 else range(len(classes))
        for column in columns:
            truth = y_true == classes[column]
            if truth.all() or not truth.any():
                continue  # a class absent from the labels has no curve
            score = table[:, column]
            name = side.label if len(classes) == 2 else f"{side.label}: {classes[column]}"
            if kind == "roc":
                x, y, _ = roc_curve(truth, score)
                name += f" (AUC {auc(x, y):.3f})"
            else:
                precision, recall, _ = precision_recall_curve(truth, score)
                x, y = recall, precision
                name += f" (AP {average_precision_score(truth, score):.3f})"
            x, y = _thin(x), _thin(y)
            figure.add_trace(
                go.Scatter(
                    x=x, y=y, mode="lines", name=name,
                    line={"color": _COLORS[number] if len(classes) == 2 else None,
                          "dash": "solid" if number == 0 else "dash"},
                )
            )  # fmt: skip
    if kind == "roc":
        figure.add_trace(_diagonal("chance"))
        titles = ("ROC curve", "false positive rate", "true positive rate")
    else:
        titles = ("Precision-recall curve", "recall", "precision")
    return _finish(figure, *titles, square=True)


def _calibration(
    y_true: NDArray[Any], sides: list[tuple[Predicted, NDArray[np.float64]]]
) -> go.Figure:
    import plotly.graph_objects as go

    figure = go.Figure()
    for number, (side, table) in enumerate(sides):
        classes = np.asarray(side.classes)
        if len(classes) == 2:
            confidence, hit = table[:, 1], y_true == classes[1]
            axis = f"predicted probability of {classes[1]}"
        else:
            confidence = table.max(axis=1)
            hit = classes[table.argmax(axis=1)] == y_true
            axis = "top-label confidence"
        index = np.clip(np.ceil(confidence * CALIBRATION_BINS).astype(np.int64) - 1, 0, None)
        bins = np.unique(index)
        x = [float(confidence[index == b].mean()) for b in bins]
        y = [float(hit[index == b].mean()) for b in bins]
        rows = [int((index == b).sum()) for b in bins]
        figure.add_trace(
            go.Scatter(
                x=x, y=y, mode="lines+markers", name=side.label, customdata=rows,
                hovertemplate="predicted %{x:.3f}<br>observed %{y:.3f}<br>%{customdata} rows",
                line={"color": _COLORS[number], "dash": "solid" if number == 0 else "dash"},
            )
        )  # fmt: skip
    figure.add_trace(_diagonal("perfectly calibrated"))
    return _finish(figure, "Calibration curve", axis, "observed frequency", square=True)


def _confusion(y_true: NDArray[Any], side: Predicted) -> go.Figure:
    import plotly.graph_objects as go
    from sklearn.metrics import confusion_matrix

    labels = (
        np.asarray(side.classes)
        if side.classes is not None
        else np.unique(np.concatenate([y_true, side.predictions]))
    )
    counts = confusion_matrix(y_true, side.predictions, labels=labels)
    names = [str(label) for label in labels]
    figure = go.Figure(
        go.Heatmap(
            z=counts.tolist(), x=names, y=names, colorscale="Blues", name=side.label,
            text=counts.tolist(), texttemplate="%{text}", showscale=False,
            hovertemplate="true %{y}<br>predicted %{x}<br>%{z} rows<extra></extra>",
        )
    )  # fmt: skip
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_xaxes(type="category")
    return _finish(figure, f"Confusion matrix ({side.label})", "predicted", "true")


# -- regression ----------------------------------------------------------------------------


def _regression(y_true: NDArray[np.float64], sides: list[Predicted]) -> dict[str, go.Figure]:
    import plotly.graph_objects as go

    scatter, histogram = go.Figure(), go.Figure()
    for number, side in enumerate(sides):
        predicted = np.asarray(side.predictions, dtype=np.float64).reshape(len(y_true))
        residual = y_true - predicted
        keep = _thin_index(len(residual))
        style = {"color": _COLORS[number]}
        scatter.add_trace(
            go.Scattergl(
                x=predicted[keep], y=residual[keep], mode="markers", name=side.label,
                marker={**style, "size": 5, "opacity": 0.6},
            )
        )  # fmt: skip
        histogram.add_trace(
            go.Histogram(x=residual, name=side.label, marker=style, opacity=0.6, nbinsx=40)
        )
    scatter.add_hline(y=0, line={"color": "#667085", "dash": "dot"})
    histogram.update_layout(barmode="overlay")
    return {
        "residuals": _finish(scatter, "Residuals", "predicted", "residual (true - predicted)"),
        "residual_histogram": _finish(
            histogram, "Residual distribution", "residual (true - predicted)", "rows"
        ),
    }


# -- slices --------------------------------------------------------------------------------


def _slices(
    metric: str,
    slices: SliceMetrics,
    champion_slices: SliceMetrics | None,
    candidate: Predicted,
    champion: Predicted | None,
) -> go.Figure:
    import plotly.graph_objects as go

    figure = go.Figure()
    sides: list[tuple[Predicted, Mapping[str, Mapping[str, Mapping[str, float]]]]]
    sides = [(candidate, slices)]
    if champion is not None and champion_slices:
        sides.append((champion, champion_slices))
    for number, (side, values) in enumerate(sides):
        x, y, rows = [], [], []
        for name, groups in values.items():
            for group, measured in groups.items():
                x.append(f"{name}={group}")
                y.append(measured.get(metric))
                rows.append(measured.get("rows"))
        figure.add_trace(
            go.Bar(
                x=x, y=y, name=side.label, marker={"color": _COLORS[number]}, customdata=rows,
                hovertemplate="%{x}<br>" + metric + " %{y:.4f}<br>%{customdata} rows",
            )
        )  # fmt: skip
    figure.update_layout(barmode="group")
    return _finish(figure, f"{metric} per slice", "slice group", metric)


# -- shared --------------------------------------------------------------------------------


def _diagonal(name: str) -> go.Scatter:
    import plotly.graph_objects as go

    return go.Scatter(
        x=[0, 1], y=[0, 1], mode="lines", name=name, line={"color": "#98a2b3", "dash": "dot"}
    )


def _finish(figure: go.Figure, title: str, x: str, y: str, *, square: bool = False) -> go.Figure:
    figure.update_layout(title={"text": title}, xaxis_title=x, yaxis_title=y, **_LAYOUT)
    if square:
        figure.update_xaxes(range=[-0.02, 1.02])
        figure.update_yaxes(range=[-0.02, 1.02])
    return figure


def _thin_index(n: int) -> NDArray[np.intp]:
    if n <= MAX_POINTS:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, MAX_POINTS).round().astype(np.intp))


def _thin(values: NDArray[Any]) -> NDArray[Any]:
    return np.asarray(values)[_thin_index(len(values))]
