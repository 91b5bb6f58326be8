"""Stored evaluations: one row per evaluation of a model on a dataset, and its effects.

:mod:`loopml.evaluation` computes metrics and gates; the registry stores the result and,
for a registered version evaluated with gates, moves its status in the same transaction
(``registered``/``validated``/``rejected`` -> ``validated`` when the gates passed,
``rejected`` when they failed; ``approved``, ``deployed`` and ``archived`` stay).

Example:
    >>> plain({"accuracy": float("nan"), "n": 3})
    {'accuracy': None, 'n': 3}
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, select

from loopml._ids import new_id
from loopml.artifacts import StoredFile
from loopml.clock import now_ms
from loopml.errors import InvalidInputError, NotFoundError, quote
from loopml.registry import _records, events
from loopml.registry._files import resolve_version
from loopml.registry._records import Row
from loopml.registry.models import SavedEvaluation, VersionStatus
from loopml.store.audit import record as audit
from loopml.store.lineage import Edge, Node, add_edges
from loopml.store.schema import artifact_files, model_evaluations
from loopml.uris import is_uri, parse_uri

__all__ = [
    "COLUMNS",
    "FIGURES",
    "OWNER",
    "check_figure_name",
    "get",
    "list_for_version",
    "plain",
    "save",
]

REQUIRED = ("model_uri", "data", "target", "task", "metrics")
COLUMNS = (*REQUIRED, "model", "version", "slices", "champion", "gates", "passed", "notes")
OWNER = "evaluation"  # owner_kind of an evaluation's figure files in artifact_files
FIGURES = "figures"  # the folder of those files: figures/<name>.json
_FIGURE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
# Statuses an evaluation with gates moves; the others are past evaluation.
_MOVABLE = frozenset({VersionStatus.REGISTERED, VersionStatus.VALIDATED, VersionStatus.REJECTED})
_EV = model_evaluations.c


def plain(value: Any) -> Any:
    """``value`` as plain JSON: numpy scalars unwrapped, NaN and infinities as ``None``.

    Raises:
        InvalidInputError: something JSON cannot hold (the message names its type).
    """
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [plain(item) for item in value]
    item = getattr(value, "item", None)  # numpy scalars and 0-d arrays
    if callable(item):
        return plain(item())
    tolist = getattr(value, "tolist", None)  # numpy arrays
    if callable(tolist):
        return plain(tolist())
    raise InvalidInputError(
        f"an evaluation holds a {type(value).__name__} ({value!r}), which cannot be stored "
        "as JSON; give numbers, strings, lists and dicts"
    )


def _checked(record: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(record, Mapping):
        raise InvalidInputError(f"an evaluation record must be a dict, got {type(record).__name__}")
    unknown = sorted(set(record) - set(COLUMNS))
    missing = [key for key in REQUIRED if record.get(key) is None]
    if unknown or missing:
        raise InvalidInputError(
            "bad evaluation record: "
            + "; ".join(
                ([f"unknown field(s) {', '.join(unknown)}"] if unknown else [])
                + ([f"missing {', '.join(missing)}"] if missing else [])
            )
            + f"; fields: {', '.join(COLUMNS)}"
        )
    row = {key: plain(record.get(key)) for key in COLUMNS}
    row["slices"] = _checked_slices(row["slices"] if row["slices"] is not None else {})
    row["gates"] = row["gates"] if row["gates"] is not None else []
    row["notes"] = [str(note) for note in row["notes"] or []]
    if row["passed"] is not None:
        row["passed"] = bool(row["passed"])
    if (row["model"] is None) != (row["version"] is None):
        raise InvalidInputError("give both model and version of an evaluated version, or neither")
    return row


_SLICES_SHAPE = "{'region': {'eu': {'rows': 120, 'accuracy': 0.91}}}"


def _checked_slices(slices: Any) -> dict[str, Any]:
    """``slices`` (already :func:`plain`) if shaped slice -> group -> metric -> number."""
    if not isinstance(slices, dict):
        raise InvalidInputError(
            f"slices must be a mapping of slice name to groups to metrics, e.g. {_SLICES_SHAPE}; "
            f"got {type(slices).__name__} {quote(slices, 60)}"
        )
    for name, groups in slices.items():
        if not isinstance(groups, dict):
            raise InvalidInputError(
                f"slice {name!r} must map each group to its metrics, e.g. {_SLICES_SHAPE}; "
                f"got {type(groups).__name__} {quote(groups, 60)}"
            )
        for group, metrics in groups.items():
            if not isinstance(metrics, dict):
                raise InvalidInputError(
                    f"slice {name!r} group {group!r} must map metric names to numbers, got "
                    f"{type(metrics).__name__} {quote(metrics, 60)}"
                )
            for metric, value in metrics.items():
                if isinstance(value, bool) or not isinstance(value, int | float | None):
                    raise InvalidInputError(
                        f"slice {name!r} group {group!r} metric {metric!r} must be a number, "
                        f"got {type(value).__name__} {quote(value, 60)}"
                    )
    return slices


def check_figure_name(name: object) -> str:
    """``name`` if it can name a figure file (letters, digits, ``_.-``; up to 100).

    Raises:
        InvalidInputError: anything else (a path, an empty name).
    """
    if not isinstance(name, str) or not _FIGURE_NAME.match(name) or ".." in name:
        raise InvalidInputError(
            f"figure name {str(name)[:60]!r} is not allowed; use letters, digits and _ . - "
            "(e.g. 'roc_curve')"
        )
    return name


def _version_of(conn: Connection, row: dict[str, Any]) -> None:
    """Fill model/version from a ``models:/`` URI when the record left them out."""
    if row["model"] is None and is_uri(row["model_uri"], "models"):
        found = resolve_version(conn, parse_uri(row["model_uri"]))
        row["model"], row["version"] = found["model"], int(found["version"])


def save(
    conn: Connection,
    record: Mapping[str, Any],
    *,
    move_status: bool,
    dataset_node: Node | None,
    actor: str,
    figures: Mapping[str, StoredFile] | None = None,
) -> SavedEvaluation:
    """Store one evaluation (and its status move, lineage, audit and event).

    ``figures`` are the evaluation's figures, already in the artifact store (name ->
    the stored plotly JSON); they become its files ``figures/<name>.json``.
    """
    row = _checked(record)
    figures = dict(figures or {})
    for name in figures:
        check_figure_name(name)
    row["figures"] = {name: stored.digest for name, stored in figures.items()}
    _version_of(conn, row)
    evaluation_id = new_id()
    now = now_ms()
    model, version = row["model"], row["version"]
    node: Node = ("evaluation", evaluation_id)
    edges: list[Edge] = []
    status = None
    if model is not None:
        _records.lock_model(conn, model)
        found = _records.find_version(conn, model, int(version))
        status = _move(conn, found, row["passed"], move_status, now)
        edges.append((node, "consumed", ("model_version", f"{model}/{version}"), None))
    elif is_uri(row["model_uri"], "runs"):
        edges.append((node, "consumed", ("run", parse_uri(row["model_uri"]).name), None))
    if dataset_node is not None:
        edges.append((node, "evaluated_on", _check_node(dataset_node), None))
    conn.execute(
        model_evaluations.insert(),
        {**row, "id": evaluation_id, "created_at": now, "created_by": actor},
    )
    if figures:
        conn.execute(
            artifact_files.insert(),
            [
                {
                    "owner_kind": OWNER,
                    "owner_id": evaluation_id,
                    "path": f"{FIGURES}/{name}.json",
                    "digest": stored.digest,
                    "size": stored.size,
                    "created_at": now,
                }
                for name, stored in figures.items()
            ],
        )
    add_edges(conn, edges)
    payload = {"evaluation": evaluation_id, "passed": row["passed"], "data": row["data"]}
    if model is None:
        audit(conn, action="evaluation.created", object_kind="evaluation",
              object_id=evaluation_id, details=payload, actor=actor)  # fmt: skip
    else:
        events.record(conn, "model_version.evaluated", model, int(version),
                      {**payload, "status": status}, actor=actor)  # fmt: skip
    return SavedEvaluation(evaluation_id, status)


def _move(conn: Connection, found: Row, passed: bool | None, move: bool, now: int) -> str:
    current = VersionStatus(found["status"])
    if passed is None or not move or current not in _MOVABLE:
        return current.value
    target = VersionStatus.VALIDATED if passed else VersionStatus.REJECTED
    if target is not current:
        _records.update_status(conn, found["model"], int(found["version"]), target, now)
    return target.value


def _check_node(node: object) -> Node:
    if (
        not isinstance(node, tuple)
        or len(node) != 2
        or not all(isinstance(part, str) and part for part in node)
    ):
        raise InvalidInputError(
            f"dataset_node must be a (kind, id) pair like ('dataset_version', 'iris/3'), "
            f"got {node!r}"
        )
    return (node[0], node[1])


def list_for_version(conn: Connection, model: str, version: int) -> list[dict[str, Any]]:
    """Every evaluation of ``model/version``, newest first."""
    _records.find_version(conn, model, version)
    rows = conn.execute(
        select(model_evaluations)
        .where(_EV.model == model, _EV.version == version)
        .order_by(_EV.created_at.desc(), _EV.id.desc())
    ).mappings()
    return [_filled(row) for row in rows]


def _filled(row: RowMapping) -> dict[str, Any]:
    """A stored row; evaluations from before 0005 read with no notes and no figures."""
    found = dict(row)
    found["notes"] = found.get("notes") or []
    found["figures"] = found.get("figures") or {}
    return found


def get(conn: Connection, evaluation_id: str) -> dict[str, Any]:
    """One stored evaluation by id."""
    row = conn.execute(select(model_evaluations).where(_EV.id == evaluation_id)).mappings().first()
    if row is None:
        raise NotFoundError(
            "evaluation",
            str(evaluation_id),
            hint="list a version's evaluations with RegistryClient.list_evaluations(name, version)",
        )
    return _filled(row)
