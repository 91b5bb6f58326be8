"""Delayed labels (feedback): the true outcome of a logged prediction, joined by request id.

A label arrives after the prediction it belongs to (a churned customer, a chargeback): the
client sends it with the prediction's request id (the ``x-request-id`` response header, or
the V2 response's ``id``) through :func:`log_feedback`, ``POST /feedback`` on the serving
server or ``loopml feedback``. Labels live in the metadata store's ``feedback`` table, one per
``(deployment, request id)``: **a second label for the same request id replaces the first
(last write wins)**, so a retried or corrected send never counts twice in a join.
:func:`read_predictions` with ``with_labels=True`` (or :func:`join_labels`) adds them to the
payload log's rows; :func:`label_coverage` says which share of a window's requests has one.

Request ids are not checked against the payload log when a label is stored (that would read
Parquet on every send); a label for an unknown id is kept and simply joins nothing.

Example:
    >>> from loopml.monitoring import log_feedback, read_feedback
    >>> log_feedback("churn-api", ["r1", "r2"], [1, 0])  # doctest: +SKIP
    FeedbackResult(stored=2, replaced=0, duplicates=0)
    >>> read_feedback("churn-api", since="1h")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from loopml.clock import now_ms
from loopml.config import Settings
from loopml.errors import InvalidInputError
from loopml.monitoring._window import Moment, window
from loopml.store import Store, open_store
from loopml.store.schema import feedback

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_LABEL_BYTES",
    "MAX_REQUEST_ID",
    "FeedbackResult",
    "LabelCoverage",
    "join_labels",
    "label_coverage",
    "labels_for",
    "log_feedback",
    "read_feedback",
]

MAX_REQUEST_ID = 200
"""The longest request id a label can be stored for (characters)."""
MAX_LABEL_BYTES = 65_536
"""The largest label, as JSON (bytes)."""
_MAX_DEPTH = 32  # nesting of lists and objects in one label
_MAX_PROBLEMS = 10  # problems listed in one error
_CHUNK = 500  # rows per statement


@dataclass(frozen=True, slots=True)
class FeedbackResult:
    """What one :func:`log_feedback` call stored.

    Attributes:
        stored: distinct request ids whose label is now the one sent.
        replaced: of those, how many already had a label (it was replaced: last write wins).
        duplicates: items of the call whose request id came again later in the same call
            (the later item's label was kept).
    """

    stored: int
    replaced: int
    duplicates: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"stored": self.stored, "replaced": self.replaced, "duplicates": self.duplicates}


@dataclass(frozen=True, slots=True)
class LabelCoverage:
    """How many of a window's answered primary requests have a label.

    Attributes:
        requests: distinct request ids answered (status 200) by the primary in the window.
        labelled: of those, how many have a label.
    """

    requests: int
    labelled: int

    @property
    def share(self) -> float | None:
        """``labelled / requests``; ``None`` for a window without requests."""
        return self.labelled / self.requests if self.requests else None

    def to_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "labelled": self.labelled, "share": self.share}


def log_feedback(
    deployment: str,
    request_ids: str | Iterable[str],
    labels: Any,
    *,
    settings: Settings | None = None,
) -> FeedbackResult:
    """Store the label of one request, or of many, for ``deployment``'s logged predictions.

    With one request id (a ``str``), ``labels`` is its label: a number, string or bool, or a
    list or object for a model with several outputs. With a sequence of ids, ``labels`` is a
    sequence of the same length. A request id that already has a label gets the new one
    (last write wins); within one call the last item of an id wins. The whole call is one
    transaction: on bad input nothing of it is stored.

    Args:
        deployment: the deployment that logged the predictions.
        request_ids: the predictions' request ids (1 to 200 characters each).
        labels: the label, or one label per request id (JSON values; no NaN or infinity;
            at most 64 KiB each as JSON).
        settings: where the metadata store is; ``Settings.load()`` by default.

    Returns:
        The counts stored, replaced and repeated within the call.

    Raises:
        InvalidInputError: an empty or too long request id, a missing, NaN, infinite or
            non-JSON label, or lengths that differ; the message names each bad item.

    Example:
        >>> log_feedback("churn-api", "01JF3Q9Z8K", 1)  # doctest: +SKIP
        FeedbackResult(stored=1, replaced=0, duplicates=0)
    """
    _check_deployment(deployment)
    rows = _validated(request_ids, labels)
    settings = settings or Settings.load()
    return write_feedback(open_store(settings.db_url), deployment, rows)


def write_feedback(
    store: Store, deployment: str, rows: Sequence[tuple[str, Any]]
) -> FeedbackResult:
    """Store already-validated ``(request id, plain label)`` pairs in one transaction."""
    latest: dict[str, Any] = {}
    for request_id, label in rows:  # in order: the last item of an id wins
        latest[request_id] = label
    duplicates = len(rows) - len(latest)
    items = sorted(latest.items())  # one lock order for every writer: no deadlocks
    at = now_ms()

    statement = _insert(store)(feedback)
    upsert = statement.on_conflict_do_update(
        index_elements=[feedback.c.deployment, feedback.c.request_id],
        set_={
            "label": statement.excluded.label,
            "time_ms": statement.excluded.time_ms,
            "writes": feedback.c.writes + 1,
        },
    )

    def work(conn: Connection) -> int:
        replaced = 0
        for start in range(0, len(items), _CHUNK):
            chunk = items[start : start + _CHUNK]
            known = conn.execute(
                select(feedback.c.request_id).where(
                    feedback.c.deployment == deployment,
                    feedback.c.request_id.in_([request_id for request_id, _ in chunk]),
                )
            ).scalars()
            replaced += len(set(known))
            values = [
                {
                    "deployment": deployment,
                    "request_id": request_id,
                    "label": label,
                    "time_ms": at,
                    "first_ms": at,
                    "writes": 1,
                }
                for request_id, label in chunk
            ]
            conn.execute(upsert, values)  # executemany: one statement, many rows
        return replaced

    replaced = store.transact(work) if items else 0
    return FeedbackResult(stored=len(items), replaced=replaced, duplicates=duplicates)


def read_feedback(
    deployment: str,
    since: Moment | None = None,
    until: Moment | None = None,
    *,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The labels of ``deployment`` logged in ``[since, until)``, oldest first.

    The window is on when the label was (last) logged, not on the prediction's time.
    Columns: ``request_id``, ``label`` (Python values, null never), ``time_ms``.

    Example:
        >>> read_feedback("churn-api", since="1d").label.value_counts()  # doctest: +SKIP
    """
    import pandas as pd

    _check_deployment(deployment)
    start, end = window(since, until)
    query = select(feedback.c.request_id, feedback.c.label, feedback.c.time_ms).where(
        feedback.c.deployment == deployment
    )
    if start is not None:
        query = query.where(feedback.c.time_ms >= start)
    if end is not None:
        query = query.where(feedback.c.time_ms < end)
    store = open_store((settings or Settings.load()).db_url)
    with store.read() as conn:
        rows = conn.execute(query.order_by(feedback.c.time_ms, feedback.c.request_id)).all()
    return pd.DataFrame(
        {
            "request_id": pd.Series([row[0] for row in rows], dtype=object),
            "label": pd.Series([row[1] for row in rows], dtype=object),
            "time_ms": pd.Series([row[2] for row in rows], dtype="int64"),
        }
    )


def labels_for(store: Store, deployment: str, request_ids: Iterable[str]) -> dict[str, Any]:
    """The stored label of each of ``request_ids`` that has one."""
    wanted = list(dict.fromkeys(str(request_id) for request_id in request_ids))
    found: dict[str, Any] = {}
    with store.read() as conn:
        for start in range(0, len(wanted), _CHUNK):
            query = select(feedback.c.request_id, feedback.c.label).where(
                feedback.c.deployment == deployment,
                feedback.c.request_id.in_(wanted[start : start + _CHUNK]),
            )
            found.update((row[0], row[1]) for row in conn.execute(query))
    return found


def join_labels(
    predictions: pd.DataFrame, labels: pd.DataFrame | Mapping[str, Any]
) -> pd.DataFrame:
    """``predictions`` with a ``label`` column: each row's request's label, or null.

    ``labels`` is a frame with ``request_id`` and ``label`` columns (as
    :func:`read_feedback` gives; where an id comes more than once, its latest ``time_ms``,
    else its last row, wins) or a mapping from request id to label. Every row of a request
    gets the request's one label, so a label sent twice is still joined once.

    Example:
        >>> join_labels(read_predictions("churn-api"), read_feedback("churn-api"))  # doctest: +SKIP
    """
    if isinstance(labels, Mapping):
        lookup: Mapping[str, Any] = labels
    else:
        missing = {"request_id", "label"} - set(labels.columns)
        if missing:
            raise InvalidInputError(
                f"labels need the columns request_id and label; missing {sorted(missing)} "
                "(pass read_feedback(...)'s frame)"
            )
        ordered = labels.sort_values("time_ms", kind="stable") if "time_ms" in labels else labels
        lookup = dict(zip(ordered["request_id"], ordered["label"], strict=True))
    import pandas as pd

    joined = predictions.copy()
    joined["label"] = pd.Series(
        [lookup.get(request_id) for request_id in joined["request_id"]],
        index=joined.index,
        dtype=object,
    )
    return joined


def label_coverage(
    deployment: str,
    since: Moment | None = None,
    until: Moment | None = None,
    *,
    settings: Settings | None = None,
) -> LabelCoverage:
    """Which share of the requests ``deployment``'s primary answered in the window is labelled.

    The window is on the predictions' time; a label counts whenever it arrived.

    Example:
        >>> label_coverage("churn-api", since="7d").share  # doctest: +SKIP
        0.42
    """
    from loopml.monitoring.reader import read_predictions

    settings = settings or Settings.load()
    frame = read_predictions(deployment, since, until, settings=settings, role="primary")
    answered = list(dict.fromkeys(frame.loc[frame["status"] == 200, "request_id"]))
    labelled = labels_for(open_store(settings.db_url), deployment, answered)
    return LabelCoverage(requests=len(answered), labelled=len(labelled))


# -- validation ------------------------------------------------------------------------------


def parse_items(items: Any) -> list[tuple[str, Any]]:
    """``{"request_id" | "id": ..., "label": ...}`` objects (one or a list) as checked pairs.

    What ``POST /feedback`` takes; every bad item is named (up to ten) in one error.
    """
    if isinstance(items, Mapping):
        items = [items]
    if not isinstance(items, list) or not items:
        raise InvalidInputError(
            'send {"request_id": "...", "label": ...} or a non-empty list of such objects, '
            f"got {_kind(items)}"
        )
    ids: list[Any] = []
    labels: list[Any] = []
    problems: list[str] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            problems.append(f"item {index}: expected an object, got {_kind(item)}")
            ids.append("?")
            labels.append(0)
            continue
        extra = set(item) - {"request_id", "id", "label"}
        if extra:
            problems.append(
                f"item {index}: unknown field(s) {sorted(map(str, extra))}; "
                "use request_id (or id) and label"
            )
        if "request_id" in item and "id" in item and item["request_id"] != item["id"]:
            problems.append(f"item {index}: request_id and id differ; send one of them")
        if "label" not in item:
            problems.append(f"item {index}: no label")
        ids.append(item.get("request_id", item.get("id")))
        labels.append(item.get("label", 0))  # a missing label is reported once, above
    return _validated(ids, labels, problems)


def _validated(
    request_ids: str | Iterable[str], labels: Any, problems: list[str] | None = None
) -> list[tuple[str, Any]]:
    problems = [] if problems is None else problems
    if isinstance(request_ids, str):
        ids: list[Any] = [request_ids]
        values: list[Any] = [labels]
    else:
        try:
            ids = list(request_ids)
        except TypeError as err:
            raise InvalidInputError(
                f"request ids must be a string or a sequence of strings, got {_kind(request_ids)}"
            ) from err
        if isinstance(labels, str | bytes | Mapping) or not hasattr(labels, "__len__"):
            raise InvalidInputError(
                f"{len(ids)} request ids need a sequence of {len(ids)} labels, got "
                f"{_kind(labels)} (for one request pass its id as a string)"
            )
        values = list(labels)
        if len(values) != len(ids):
            raise InvalidInputError(
                f"{len(ids)} request ids but {len(values)} labels; send one label per request id"
            )
    if not ids:
        raise InvalidInputError("no request ids given; send at least one")
    rows: list[tuple[str, Any]] = []
    for index, (request_id, label) in enumerate(zip(ids, values, strict=True)):
        if len(problems) > _MAX_PROBLEMS:
            break
        where = f"item {index}" if len(ids) > 1 else "the item"
        request_id = _plain_id(request_id, where, problems)
        plain = _plain_label(label, f"{where}: label", problems, 0)
        if request_id is not None and plain is not _BAD:
            size = len(json.dumps(plain, allow_nan=False))
            if size > MAX_LABEL_BYTES:
                problems.append(
                    f"{where}: label is {size} bytes as JSON, over {MAX_LABEL_BYTES}; "
                    "store a smaller label (a class, a value, a short list)"
                )
            rows.append((request_id, plain))
    if problems:
        listed = problems[:_MAX_PROBLEMS]
        more = "; and more (the list stops here)" if len(problems) > _MAX_PROBLEMS else ""
        raise InvalidInputError(f"bad feedback, nothing stored: {'; '.join(listed)}{more}")
    return rows


_BAD = object()


def _plain_id(request_id: Any, where: str, problems: list[str]) -> str | None:
    if not isinstance(request_id, str):
        problems.append(
            f"{where}: request id must be a string, got {_kind(request_id)} "
            "(send the prediction's x-request-id or V2 id as text)"
        )
        return None
    if not request_id.strip():
        problems.append(f"{where}: request id is empty; send the prediction's request id")
        return None
    if _bad_text(request_id):
        problems.append(
            f"{where}: request id {request_id[:40]!r} holds a NUL or an unpaired surrogate; "
            "send the id the server returned"
        )
        return None
    if len(request_id) > MAX_REQUEST_ID:
        problems.append(
            f"{where}: request id is {len(request_id)} characters, over {MAX_REQUEST_ID}; "
            "send the id the server returned"
        )
        return None
    return request_id


def _plain_label(value: Any, where: str, problems: list[str], depth: int) -> Any:
    """``value`` as plain JSON data (numpy scalars and arrays too), or ``_BAD`` with a problem."""
    if depth > _MAX_DEPTH:
        problems.append(f"{where}: nested deeper than {_MAX_DEPTH} levels")
        return _BAD
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        problems.append(f"{where} is missing (null); send a value or leave the request out")
        return _BAD
    if isinstance(value, str) and _bad_text(value):
        problems.append(f"{where} holds a NUL or an unpaired surrogate; send plain text")
        return _BAD
    if isinstance(value, bool | str):
        return value
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():  # a numpy scalar
        value = item()
        if isinstance(value, bool | str):
            return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            problems.append(f"{where} is {value}; send a finite number or leave the request out")
            return _BAD
        return value
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and hasattr(value, "shape"):  # a numpy array
        value = tolist()
    if isinstance(value, list | tuple):
        parts = [_plain_label(v, f"{where}[{i}]", problems, depth + 1) for i, v in enumerate(value)]
        return _BAD if any(part is _BAD for part in parts) else parts
    if isinstance(value, Mapping):
        plain: dict[str, Any] = {}
        for key, inner in value.items():
            if not isinstance(key, str) or _bad_text(key):
                problems.append(f"{where}: object keys must be strings of plain text, got {key!r}")
                return _BAD
            part = _plain_label(inner, f"{where}.{key}", problems, depth + 1)
            if part is _BAD:
                return _BAD
            plain[key] = part
        return plain
    problems.append(
        f"{where}: {_kind(value)} is not a JSON value; send a number, string, bool, list or object"
    )
    return _BAD


def _bad_text(text: str) -> bool:
    """Text no database stores as it is: a NUL (PostgreSQL refuses it) or a lone surrogate."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _kind(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'…' if len(text) > 60 else ''}"


def _check_deployment(deployment: str) -> None:
    if not isinstance(deployment, str) or not deployment or len(deployment) > 250:
        raise InvalidInputError(
            f"deployment must be a name of 1 to 250 characters, got {deployment!r:.80}"
        )


def _insert(store: Store) -> Any:
    if store.is_sqlite:
        from sqlalchemy.dialects.sqlite import insert

        return insert
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    return pg_insert
