"""The payload log's value objects: a segment of the log, and a writer's counters.

Example:
    >>> stats = PayloadStats(written=3, dropped=1)
    >>> stats.lost
    1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["PayloadSegment", "PayloadStats"]


@dataclass(frozen=True, slots=True)
class PayloadSegment:
    """One Parquet file of logged predictions, as indexed in the metadata store.

    A segment is indexed only after its blob is fully written, so every segment listed
    can be read.

    Attributes:
        id: the segment's id (a ULID: sortable by creation).
        deployment: the deployment whose predictions it holds.
        start_ms, end_ms: the earliest and latest ``time_ms`` of its rows (both inclusive).
        row_count: Parquet rows (one per predicted row).
        prediction_count: model calls (a request with a shadow is two).
        digest, size: the blob in the artifact store (SHA-256) and its bytes.
        models: the model versions in it, as ``(model, version)`` pairs, sorted.
        columns: its column names, in order (segments may differ in columns).
        writer: the process that wrote it (``host:pid:nonce``).
        created_at: when it was indexed (Unix ms).
    """

    id: str
    deployment: str
    start_ms: int
    end_ms: int
    row_count: int
    prediction_count: int
    digest: str
    size: int
    models: tuple[tuple[str, int], ...]
    columns: tuple[str, ...]
    writer: str
    created_at: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "deployment": self.deployment,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "row_count": self.row_count,
            "prediction_count": self.prediction_count,
            "digest": self.digest,
            "size": self.size,
            "models": [{"model": m, "version": v} for m, v in self.models],
            "columns": list(self.columns),
            "writer": self.writer,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class PayloadStats:
    """What a :class:`~loopml.monitoring.PayloadWriter` did with the predictions it got.

    Attributes:
        queued: predictions accepted and not yet written (the queue and the batch in
            flight).
        written: predictions written to indexed segments.
        rows: Parquet rows written (a prediction has one per predicted row).
        segments: segments written and indexed.
        dropped: predictions refused because the queue was full (or the writer closed).
        sampled_out: predictions not kept by the deployment's sample rate (not a loss).
        rejected: predictions that were not valid :class:`Prediction` records (a bug in
            the caller), logged and skipped.
        failed: predictions lost because writing their segment failed.
        errors: write failures (each logged); one failure can lose many predictions.
    """

    queued: int = 0
    written: int = 0
    rows: int = 0
    segments: int = 0
    dropped: int = 0
    sampled_out: int = 0
    rejected: int = 0
    failed: int = 0
    errors: int = 0

    @property
    def lost(self) -> int:
        """Predictions that should have been logged and were not."""
        return self.dropped + self.rejected + self.failed
