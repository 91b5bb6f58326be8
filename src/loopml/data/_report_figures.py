"""Pictures of the validation report: each compared column beside its reference.

Numbers: the two histograms overlaid (shares of each side's rows in the reference's
equal-width bins, widened to cover the data); categories: grouped bars of each value's
share. Built as plain plotly JSON, so drawing needs no plotly import.

Example:
    >>> spec = distribution_figure("plan", {"kind": "categorical", "values": ["a", "b"],
    ...                                     "reference": [5, 5], "current": [9, 1]})
    >>> [trace["name"] for trace in spec["data"]]
    ['reference', 'current']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

__all__ = ["distribution_figure"]

_COLORS = {"reference": "#98a2b3", "current": "#1f6feb"}


def distribution_figure(name: str, found: Mapping[str, Any]) -> dict[str, Any]:
    """The figure of one column's distribution (see :func:`loopml.data.reference.distribution`)."""
    layout: dict[str, Any] = {
        "template": "plotly_white",
        "margin": {"l": 50, "r": 10, "t": 10, "b": 40},
        "legend": {"orientation": "h", "y": 1.12, "x": 0},
        "yaxis": {"title": {"text": "share of rows"}, "tickformat": ".0%"},
        "xaxis": {"title": {"text": name}},
    }
    data: list[dict[str, Any]]
    if found["kind"] == "numeric":
        edges = [float(edge) for edge in found["edges"]]
        centers = [(low + high) / 2 for low, high in pairwise(edges)]
        widths = [high - low for low, high in pairwise(edges)]
        data = [
            {
                "type": "bar", "name": side, "x": centers, "y": _shares(found[side]),
                "width": widths, "opacity": 0.6, "marker": {"color": _COLORS[side]},
            }
            for side in ("reference", "current")
        ]  # fmt: skip
        layout["barmode"] = "overlay"
        layout["bargap"] = 0
    else:
        data = [
            {
                "type": "bar", "name": side, "x": [str(v) for v in found["values"]],
                "y": _shares(found[side]), "marker": {"color": _COLORS[side]},
            }
            for side in ("reference", "current")
        ]  # fmt: skip
        layout["barmode"] = "group"
        layout["xaxis"]["type"] = "category"
    return {"data": data, "layout": layout}


def _shares(counts: Sequence[int]) -> list[float]:
    total = sum(counts)
    return [count / total if total else 0.0 for count in counts]
