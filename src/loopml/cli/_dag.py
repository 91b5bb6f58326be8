"""Lay a DAG out for the terminal: one row per node, edges as lanes (like ``git log --graph``).

Nodes are ordered by layer (the longest path from a source), then as given, so every
node comes after all of its upstream nodes. Each edge is a lane (``│``) running from its
producer's row down to its consumer's row; a node with several downstream nodes forks
(``├─┐``) and a node with several upstream nodes gathers its lanes (``├─┘``). Every node
is drawn exactly once, so a diamond stays a diamond.

Example:
    >>> rows = draw({"load": [], "left": ["load"], "right": ["load"], "join": ["left", "right"]})
    >>> print("\\n".join(f"{row.graph}  {row.node or ''}".rstrip() for row in rows))
    ●    load
    ├─┐
    ● │  left
    │ ●  right
    ├─┘
    ●    join
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Row", "draw", "layers"]

NODE = "●"
_GAP = ""  # a lane that just ended: blank, but not free for the very next node


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the drawing.

    Attributes:
        graph: the lanes, padded to the width of the widest row.
        node: the node drawn on this row (``None`` for a row of edges only).
        column: the character offset of the node's marker in ``graph``.
        below: the lanes to draw under a node row when more lines about it follow.
    """

    graph: str
    node: str | None = None
    column: int = 0
    below: str = ""


def layers(upstream: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Each node's layer: 0 for a source, else one more than its deepest upstream node.

    Upstream names that are not nodes of ``upstream`` are ignored.

    Example:
        >>> layers({"a": [], "b": ["a"], "c": ["a", "b"]})
        {'a': 0, 'b': 1, 'c': 2}
    """
    found: dict[str, int] = {}
    for start in upstream:
        stack = [start]
        while stack:  # iterative depth-first: deep pipelines must not hit the recursion limit
            node = stack[-1]
            missing = [u for u in upstream[node] if u in upstream and u not in found]
            missing = [u for u in missing if u not in stack]  # a cycle: not a DAG, do not loop
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            known = [found[u] for u in upstream[node] if u in found]
            found[node] = 1 + max(known) if known else 0
    return {node: found[node] for node in upstream}


def draw(upstream: Mapping[str, Sequence[str]]) -> list[Row]:
    """The rows that draw the DAG whose nodes map to their upstream nodes."""
    depth = layers(upstream)
    position = {node: index for index, node in enumerate(upstream)}
    ordered = sorted(upstream, key=lambda node: (depth[node], position[node]))
    downstream: dict[str, list[str]] = {node: [] for node in ordered}
    for node in ordered:
        for parent in dict.fromkeys(upstream[node]):
            if parent in downstream:
                downstream[parent].append(node)
    lanes: list[str | None] = []
    rows: list[Row] = []
    for node in ordered:
        rows += _place(node, downstream[node], lanes)
    width = max((len(row.graph) for row in rows), default=0)
    return [
        Row(row.graph.ljust(width), row.node, row.column, row.below.ljust(width)) for row in rows
    ]


def _place(node: str, targets: list[str], lanes: list[str | None]) -> list[Row]:
    """The rows for ``node``: gathering its lanes, the node itself, forking to ``targets``."""
    rows: list[Row] = []
    arriving = [i for i, target in enumerate(lanes) if target == node]
    if arriving:
        column = arriving[0]
        if len(arriving) > 1:
            rows.append(Row(_gather(lanes, column, arriving[1:])))
            for i in arriving[1:]:
                lanes[i] = None
    else:
        column = _free(lanes)
    lanes[:] = [None if target == _GAP else target for target in lanes]
    lanes[column] = node
    rows.append(Row(_lanes(lanes, mark=column), node, 2 * column))
    lanes[column] = targets[0] if targets else _GAP
    below = _lanes(lanes)
    rows[-1] = Row(rows[-1].graph, node, 2 * column, below)
    branches = []
    for target in targets[1:]:
        slot = _free(lanes)
        lanes[slot] = target
        branches.append(slot)
    if branches:
        rows.append(Row(_fork(lanes, column, branches)))
    while lanes and lanes[-1] is None:
        lanes.pop()
    return rows


def _free(lanes: list[str | None]) -> int:
    for i, target in enumerate(lanes):
        if target is None:
            return i
    lanes.append(None)
    return len(lanes) - 1


def _active(target: str | None) -> bool:
    return bool(target)  # None (free) and _GAP (just ended) draw as blank


def _lanes(lanes: list[str | None], mark: int | None = None) -> str:
    cells = [NODE if i == mark else ("│" if _active(t) else " ") for i, t in enumerate(lanes)]
    return " ".join(cells).rstrip()


def _gather(lanes: list[str | None], column: int, others: list[int]) -> str:
    """Lanes at ``others`` join the one at ``column`` (all of them to its right)."""
    last = max(others)
    cells = []
    for i, target in enumerate(lanes):
        if i == column:
            char = "├"
        elif i in others:
            char = "┘" if i == last else "┴"
        elif column < i < last:
            char = "┼" if _active(target) else "─"
        else:
            char = "│" if _active(target) else " "
        cells.append(char + ("─" if column <= i < last else " "))
    return "".join(cells).rstrip()


def _fork(lanes: list[str | None], column: int, branches: list[int]) -> str:
    """The lane at ``column`` splits into new lanes at ``branches`` (either side of it)."""
    low, high = min(column, *branches), max(column, *branches)
    cells = []
    for i, target in enumerate(lanes):
        if i == column:
            char = {(True, True): "┼", (True, False): "┤", (False, True): "├"}[
                (low < column, high > column)
            ]
        elif i in branches:
            char = "┌" if i == low else "┐" if i == high else "┬"
        elif low < i < high:
            char = "┼" if _active(target) else "─"
        else:
            char = "│" if _active(target) else " "
        cells.append(char + ("─" if low <= i < high else " "))
    return "".join(cells).rstrip()
