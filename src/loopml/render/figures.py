"""Plotly figures as plain JSON: what loopml stores and what a page embeds.

A figure is accepted as a ``plotly.graph_objects.Figure`` (anything with ``to_json``)
or as its JSON already parsed (a mapping with ``data`` and ``layout``). Stored and
embedded figures are always the plain form, so reading one back needs no plotly.

Example:
    >>> spec = figure_spec({"data": [{"type": "bar", "x": ["a"], "y": [1]}]})
    >>> spec["data"][0]["type"], spec["layout"]
    ('bar', {})
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from loopml.errors import InvalidInputError

__all__ = ["FigureLike", "figure_json", "figure_spec"]


@runtime_checkable
class _PlotlyFigure(Protocol):
    def to_json(self) -> str: ...


FigureLike = Mapping[str, Any] | _PlotlyFigure


def figure_spec(figure: FigureLike) -> dict[str, Any]:
    """``figure`` as plain plotly JSON: ``{"data": [...], "layout": {...}}``.

    Raises:
        InvalidInputError: neither a plotly figure nor a mapping with a ``data`` list.
    """
    if isinstance(figure, _PlotlyFigure) and not isinstance(figure, Mapping):
        spec = json.loads(figure.to_json())
    elif isinstance(figure, Mapping):
        spec = dict(figure)
    else:
        raise InvalidInputError(
            f"a figure must be a plotly Figure or its JSON ({{'data': [...], 'layout': {{}}}}), "
            f"got {type(figure).__name__}"
        )
    if not isinstance(spec.get("data"), list):
        raise InvalidInputError(
            "a figure's JSON needs a 'data' list of traces, got keys "
            f"{sorted(str(key) for key in spec)}"
        )
    return {"data": spec["data"], "layout": dict(spec.get("layout") or {})}


def figure_json(figure: FigureLike) -> str:
    """``figure`` as compact plotly JSON text (what the artifact store keeps)."""
    return json.dumps(figure_spec(figure), separators=(",", ":"), allow_nan=False)
