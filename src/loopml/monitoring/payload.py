"""What serving hands to the payload log: one :class:`Prediction` per model call.

The sink contract is the whole coupling between serving and monitoring. ``record`` is
called on the request path, so a sink must return at once, never raise and never block:
it queues the record and writes it later, dropping (and counting) when its queue is full.

Example:
    >>> sink = NullSink()
    >>> sink.record(Prediction(request_id="r1", time_ms=0, deployment="churn-api",
    ...     model="churn", version=3, role="primary", inputs={"x": [1.0]},
    ...     outputs={"predict": [0]}, latency_ms=0.4, status=200))
    >>> sink.dropped
    0
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from loopml.errors import InvalidInputError

__all__ = ["ColumnBlock", "NullSink", "Prediction", "PredictionSink", "Role"]

Role = Literal["primary", "shadow"]


@dataclass(frozen=True, slots=True)
class Prediction:
    """One model call as served: what came in, what went out, how long it took.

    Attributes:
        request_id: the request's id (the client's V2 ``id`` when it sent one); a shadow
            call carries the same id as the primary call it copies.
        time_ms: when the request arrived (``loopml.clock.now_ms``).
        deployment: the deployment's name.
        model, version: the model version that answered.
        role: ``"primary"`` (its answer was returned) or ``"shadow"`` (logged only).
        inputs: column or tensor name -> values, as the model saw them (after feature
            lookup); ``None`` when the deployment excludes inputs from the log.
        outputs: output name -> values; ``None`` when the call failed.
        latency_ms: the model's share of the request (parse to serialize for primary).
        status: the HTTP status the request got (a shadow's own failure is 500 here and
            never reaches the client).
        features: feature name -> values looked up from the online store, if any.
        error: the failure's message when ``status`` is not 2xx.
    """

    request_id: str
    time_ms: int
    deployment: str
    model: str
    version: int
    role: Role
    inputs: Mapping[str, Any] | None
    outputs: Mapping[str, Any] | None
    latency_ms: float
    status: int
    features: Mapping[str, Any] | None = None
    error: str | None = None


class ColumnBlock(Mapping[str, Any]):
    """Named columns that are the columns of one 2-D array: a frame of one numeric dtype.

    A read-only mapping of name -> column (a view of ``block[:, i]``), so it is what a
    :class:`Prediction`'s ``inputs`` or ``outputs`` may be like any other. Handing a
    frame's columns over this way costs one object instead of one array per column, and
    the payload log joins a batch of blocks with one concatenation instead of one per
    column and prediction.

    Args:
        names: the columns' names, unique, one per column of ``block``.
        block: a 2-D array (numpy), one row per row.

    Raises:
        InvalidInputError: ``block`` is not 2-D, or the names do not match its columns.

    Example:
        >>> import numpy as np
        >>> columns = ColumnBlock(["age", "income"], np.array([[31.0, 1.5], [45.0, 2.5]]))
        >>> list(columns), columns["income"].tolist()
        (['age', 'income'], [1.5, 2.5])
    """

    __slots__ = ("_columns", "block", "names")

    def __init__(self, names: Sequence[str], block: Any) -> None:
        self.names = tuple(names)
        self.block = block
        self._columns: dict[str, Any] | None = None  # the views, made when first read
        shape: tuple[int, ...] = getattr(block, "shape", ())
        if len(shape) != 2 or shape[1] != len(self.names):
            raise InvalidInputError(
                f"a ColumnBlock needs a 2-D array with one column per name: got shape "
                f"{shape} for {len(self.names)} names"
            )
        if len(set(self.names)) != len(self.names):
            raise InvalidInputError(f"a ColumnBlock's names must be unique, got {self.names}")

    def __getitem__(self, name: str) -> Any:
        if self._columns is None:
            self._columns = dict(zip(self.names, self.block.T, strict=True))
        return self._columns[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"ColumnBlock({list(self.names)!r}, shape={self.block.shape})"


@runtime_checkable
class PredictionSink(Protocol):
    """Where serving hands predictions: returns at once, never raises, never blocks."""

    def record(self, prediction: Prediction) -> None:
        """Queue ``prediction`` for writing (or drop and count it when the queue is full)."""

    @property
    def dropped(self) -> int:
        """Predictions dropped so far because the queue was full (or sampled out: no)."""

    @property
    def queue_depth(self) -> int:
        """Predictions queued and not yet written."""

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (waiting at most ``timeout`` seconds), then stop."""


class NullSink:
    """A sink that keeps nothing: for deployments with the payload log turned off."""

    def record(self, prediction: Prediction) -> None:
        """Drop ``prediction``: nothing is logged."""

    @property
    def dropped(self) -> int:
        """Always 0: a null sink has no queue to overflow."""
        return 0

    @property
    def queue_depth(self) -> int:
        """Always 0."""
        return 0

    def close(self, timeout: float = 10.0) -> None:
        """Nothing to write."""
