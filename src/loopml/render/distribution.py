"""One column's distribution against its reference, as a plotly figure (plain JSON).

The validation report and the monitoring report draw the same picture: numbers as the two
histograms overlaid (each side's share of rows per bin; an open end, ``-inf`` or ``inf``,
closed one inner bin's width away), categories as grouped bars of each value's share. The
input is what :func:`loopml.data.reference.distribution` and
:meth:`loopml.data.sketch.ReferenceSketch.distribution` return.

Example:
    >>> spec = distribution_figure("plan", {"kind": "categorical", "values": ["a", "b"],
    ...                                     "reference": [5, 5], "current": [9, 1]})
    >>> [trace["name"] for trace in spec["data"]], spec["data"][1]["y"]
    (['reference', 'current'], [0.9, 0.1])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

__all__ = ["COLORS", "distribution_figure"]

COLORS = {"reference": "#98a2b3", "current": "#1f6feb"}
"""The two sides' colours, shared by every report."""


def distribution_figure(name: str, found: Mapping[str, Any]) -> dict[str, Any]:
    """The figure of one column's reference and current distributions (module docstring)."""
    layout: dict[str, Any] = {
        "template": "plotly_white",
        "margin": {"l": 55, "r": 10, "t": 10, "b": 40},
        "legend": {"orientation": "h", "y": 1.12, "x": 0},
        "yaxis": {"title": {"text": "share of rows"}, "tickformat": ".0%"},
        "xaxis": {"title": {"text": name}},
        "hovermode": "closest",
    }
    data: list[dict[str, Any]]
    if found.get("kind") == "numeric":
        edges = _finite_edges(found["edges"])
        centers = [(low + high) / 2 for low, high in pairwise(edges)]
        widths = [high - low for low, high in pairwise(edges)]
        data = [
            {
                "type": "bar", "name": side, "x": centers, "y": _shares(found[side]),
                "width": widths, "opacity": 0.6, "marker": {"color": COLORS[side]},
            }
            for side in ("reference", "current")
        ]  # fmt: skip
        layout.update(barmode="overlay", bargap=0)
    else:
        data = [
            {
                "type": "bar", "name": side, "x": [str(v) for v in found["values"]],
                "y": _shares(found[side]), "marker": {"color": COLORS[side]},
            }
            for side in ("reference", "current")
        ]  # fmt: skip
        layout["barmode"] = "group"
        layout["xaxis"]["type"] = "category"
    return {"data": data, "layout": layout}


def _finite_edges(raw: Sequence[Any]) -> list[float]:
    edges = [float(edge) for edge in raw]
    inner = [edge for edge in edges if math.isfinite(edge)]
    step = (inner[-1] - inner[0]) / max(len(inner) - 1, 1) if len(inner) > 1 else 1.0
    step = step or 1.0
    low = inner[0] if inner else 0.0
    high = inner[-1] if inner else 0.0
    return [
        edge if math.isfinite(edge) else (low - step if edge < 0 else high + step) for edge in edges
    ]


def _shares(counts: Sequence[Any]) -> list[float]:
    values = [float(c) if isinstance(c, int | float) and math.isfinite(c) else 0.0 for c in counts]
    total = sum(values)
    return [value / total if total else 0.0 for value in values]
