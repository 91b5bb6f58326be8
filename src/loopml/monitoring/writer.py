"""The payload log's writer: serving's :class:`PredictionSink`, writing Parquet segments.

:meth:`PayloadWriter.record` puts a prediction on a bounded in-memory queue and returns:
it never blocks and never raises. A background thread takes batches off the queue (up
to ``batch_size`` predictions, or whatever arrived within ``flush_seconds`` of the
first, so a quiet deployment's predictions still land), writes each batch as one
Parquet segment to the artifact store (local or S3: segments are content-addressed
blobs, so any number of processes can write one deployment's log without clashing) and
then indexes it in the metadata store. A segment is visible only once both are done;
a process killed with ``kill -9`` loses what was queued, never the log.

When the queue is full the prediction is dropped and counted (:attr:`dropped`). A
failure while writing (the artifact store unwritable, the database away, a bug) is
logged and counted (``stats().errors``); it never reaches the request.

Sampling keeps a request or drops it by its id (:func:`is_sampled`), so a shadow call
and its primary call are kept or dropped together, in every process.

The writer shares the serving process and its GIL, so it is built to cost the request
threads little: ``record`` is one put on a queue, and the conversion to Arrow
(``_rows.build_tables``) reads each prediction's layout once (names, dtypes, shapes, in C)
and joins a batch's columns with one concatenation per column, or per batch when serving
hands a frame's columns over as one :class:`~loopml.monitoring.payload.ColumnBlock`. It
releases the GIL between slices of a few hundred microseconds, so a request thread seldom
waits out the interpreter's 5 ms switch interval (a probe thread waited 4 ms at most while
batches were written, 7 ms before). Measured on an identity model (60 columns a request),
the conversion went from ~60 µs to ~7 µs a prediction (~35 µs for dicts of column arrays)
and the c1 p99 from 37 ms to 7 ms (log off: 0.9 ms; docs/benchmarks.md).

A child process per worker was considered and not built: handing it the predictions costs
more than converting them here (pickling 1,000 such predictions took 11 ms as blocks and
480 ms as dicts of column views, against 7 and 40 ms to convert them), it adds ~86 MB of
memory per worker and the failure modes of a second process, and what it would take away
(Parquet, compression, hashing) already runs without the GIL.

Example:
    >>> from loopml.config import Settings
    >>> writer = PayloadWriter(Settings.load(), "churn-api", sample_rate=0.5)  # doctest: +SKIP
    >>> writer.record(prediction)  # doctest: +SKIP
    >>> writer.close()  # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import queue
import socket
import threading
import time
import weakref
from typing import TYPE_CHECKING

from loopml._ids import new_id
from loopml.artifacts import ArtifactStore
from loopml.clock import Clock, now_ms
from loopml.config import Settings
from loopml.errors import InvalidInputError
from loopml.monitoring.models import PayloadSegment, PayloadStats
from loopml.monitoring.payload import Prediction
from loopml.monitoring.segments import index_segment
from loopml.store import Store, open_store

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["PayloadWriter", "is_sampled"]

logger = logging.getLogger(__name__)

_POLL_SECONDS = 0.1  # how often an idle writer looks at its stop flag
_GATHER_SECONDS = 0.01  # how often a gathering writer looks at its queue's size
_open_writers: weakref.WeakSet[PayloadWriter] = weakref.WeakSet()


def is_sampled(request_id: str, sample_rate: float) -> bool:
    """Whether the payload log keeps the request ``request_id`` at ``sample_rate``.

    Decided by a hash of the id alone: the same id gets the same answer in every
    process, so a shadow call is kept exactly when its primary call is.

    Example:
        >>> is_sampled("r-1", 1.0), is_sampled("r-1", 0.0)
        (True, False)
        >>> is_sampled("r-1", 0.5) == is_sampled("r-1", 0.5)
        True
    """
    if sample_rate >= 1.0:
        return True
    if sample_rate <= 0.0:
        return False
    digest = hashlib.blake2b(request_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") < sample_rate * 2**64


class PayloadWriter:
    """Writes a deployment's predictions to the payload log, off the request path.

    Args:
        settings: where the metadata store and artifact store are; ``Settings.load()``
            when ``None``.
        deployment: the deployment whose predictions this writer logs.
        sample_rate: the share of requests kept (0-1), decided by request id.
        log_inputs: keep inputs (``input.*`` columns); turn off for privacy. Outputs,
            latency, status and errors are always kept.
        log_features: keep the feature values looked up (``feature.*``); follows
            ``log_inputs`` unless given, since features describe the same person.
        queue_size: predictions held in memory at most; more are dropped and counted.
        batch_size: predictions per segment at most.
        flush_seconds: how long the first prediction of a batch waits for company.
        artifact_store: where segments go; the settings' artifact store by default.
        clock: stamps the segments' ``created_at`` (the current clock by default).

    Raises:
        InvalidInputError: a bad deployment name, rate, size or interval.

    Example:
        >>> from loopml.config import Settings
        >>> from loopml.monitoring import Prediction
        >>> writer = PayloadWriter(Settings.load(), "churn-api")  # doctest: +SKIP
        >>> writer.record(Prediction(request_id="r1", time_ms=0, deployment="churn-api",
        ...     model="churn", version=3, role="primary", inputs={"x": [1.0]},
        ...     outputs={"predict": [0]}, latency_ms=0.4, status=200))  # doctest: +SKIP
        >>> writer.close()  # doctest: +SKIP
        >>> writer.stats().written  # doctest: +SKIP
        1
    """

    def __init__(
        self,
        settings: Settings | None,
        deployment: str,
        sample_rate: float = 1.0,
        log_inputs: bool = True,
        *,
        log_features: bool | None = None,
        queue_size: int = 10_000,
        batch_size: int = 1_000,
        flush_seconds: float = 1.0,
        artifact_store: ArtifactStore | None = None,
        clock: Clock | None = None,
    ) -> None:
        _check_arguments(deployment, sample_rate, queue_size, batch_size, flush_seconds)
        self.settings = settings or Settings.load()
        self.deployment = deployment
        self.sample_rate = float(sample_rate)
        self.log_inputs = bool(log_inputs)
        self.log_features = self.log_inputs if log_features is None else bool(log_features)
        self.batch_size = batch_size
        self.flush_seconds = float(flush_seconds)
        self.queue_size = queue_size
        self._clock = clock
        self._own_artifacts = artifact_store is None
        self._artifact_store = artifact_store
        self._closed = False
        self._start()
        _open_writers.add(self)

    def _start(self) -> None:
        """Fresh state and a running writer thread (at construction, and after a fork)."""
        self.writer_id = f"{socket.gethostname()}:{os.getpid()}:{new_id()[-6:].lower()}"
        self._store: Store | None = None
        self._queue: queue.Queue[object] = queue.Queue(maxsize=self.queue_size)
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(
            ("written", "rows", "segments", "dropped", "sampled_out", "rejected", "failed"), 0
        )
        self._errors = 0
        self._stopping = threading.Event()
        self._flush_now = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"loopml-payload-log:{self.deployment}", daemon=True
        )
        self._thread.start()

    def _after_fork(self) -> None:
        """In a forked child (a pre-fork server's worker): its own queue and thread.

        What the parent had queued stays the parent's to write; the child starts empty.
        """
        if self._own_artifacts:
            self._artifact_store = None  # a client's sockets are the parent's
        self._start()

    def __repr__(self) -> str:
        return f"PayloadWriter({self.deployment!r}, queue_depth={self.queue_depth})"

    # -- the request path -----------------------------------------------------------

    def record(self, prediction: Prediction) -> None:
        """Queue ``prediction`` for writing; drop and count it when the queue is full.

        Never blocks, never raises: whatever goes wrong is counted and logged. The
        values are read later, on the writer's thread: do not change them afterwards.
        """
        try:
            if self._closed:
                self._count("dropped")
            elif self.sample_rate < 1.0 and not is_sampled(prediction.request_id, self.sample_rate):
                self._count("sampled_out")
            else:
                self._queue.put_nowait(prediction)
        except queue.Full:
            self._count("dropped")
        except Exception as err:  # a caller's bug (no request_id, …) must not fail its request
            self._rejected(prediction, f"{type(err).__name__}: {err}")

    @property
    def dropped(self) -> int:
        """Predictions dropped because the queue was full (or the writer was closed)."""
        return self._counts["dropped"]

    @property
    def queue_depth(self) -> int:
        """Predictions accepted and not yet written (queued or in the batch being written)."""
        return self._queue.unfinished_tasks

    def stats(self) -> PayloadStats:
        """Every counter at once (see :class:`~loopml.monitoring.PayloadStats`)."""
        with self._lock:
            return PayloadStats(queued=self.queue_depth, errors=self._errors, **self._counts)

    # -- flushing and closing -------------------------------------------------------

    def flush(self, timeout: float = 10.0) -> bool:
        """Write everything queued now, waiting at most ``timeout`` seconds.

        Returns:
            Whether the queue was emptied in time.
        """
        self._flush_now.set()
        deadline = time.monotonic() + timeout
        try:
            while self.queue_depth and time.monotonic() < deadline and self._thread.is_alive():
                time.sleep(0.005)
        finally:
            self._flush_now.clear()
        return self.queue_depth == 0

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (waiting at most ``timeout`` seconds), then stop.

        Predictions recorded after this are dropped and counted. What could not be
        written in time is left to the background thread, which goes on until the
        process exits.
        """
        self._closed = True
        self._stopping.set()
        self._flush_now.set()
        self._thread.join(timeout)
        _open_writers.discard(self)
        if self._thread.is_alive():
            logger.warning(
                "payload log of %r: %d predictions not written within %.1f s of close",
                self.deployment,
                self.queue_depth,
                timeout,
            )

    def __enter__(self) -> PayloadWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the background thread ------------------------------------------------------

    def _run(self) -> None:
        self._warm_up()
        while True:
            batch = self._next_batch()
            if batch:
                try:
                    self._write_batch(batch)
                finally:
                    for _ in batch:
                        self._queue.task_done()
            elif self._stopping.is_set():
                return

    def _warm_up(self) -> None:
        """Import Parquet's writer and open both stores now, not on the first batch."""
        try:
            import pyarrow.parquet  # noqa: F401

            import loopml.monitoring._rows  # noqa: F401

            self._metadata()
            self._artifacts()
        except Exception as err:  # retried on the first batch, and counted there
            logger.warning("payload log of %r: not ready yet: %s", self.deployment, err)

    def _next_batch(self) -> list[object]:
        try:
            first = self._queue.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            return []
        # Wait for company by looking at the queue's size now and then, not by taking
        # items one by one: a wake-up per prediction would cost the request threads.
        deadline = time.monotonic() + self.flush_seconds
        while self._queue.qsize() + 1 < self.batch_size and not self._hurried():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._flush_now.wait(min(remaining, _GATHER_SECONDS))
        batch = [first]
        while len(batch) < self.batch_size:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _hurried(self) -> bool:
        return self._flush_now.is_set() or self._stopping.is_set()

    def _write_batch(self, batch: list[object]) -> None:
        from loopml.monitoring._rows import build_tables

        try:
            built = build_tables(
                batch,
                deployment=self.deployment,
                log_inputs=self.log_inputs,
                log_features=self.log_features,
                pause=_let_requests_run,
            )
        except Exception as err:  # a bug in the conversion: count it, keep serving
            self._failed(len(batch), err)
            return
        for item, reason in built.rejected:
            self._rejected(item, reason)
        for table, predictions in built.tables:
            try:
                self._write_segment(table, predictions)
            except Exception as err:  # artifact store or database down, disk full, …
                self._failed(predictions, err)
                continue
            with self._lock:
                self._counts["written"] += predictions
                self._counts["rows"] += table.num_rows
                self._counts["segments"] += 1

    def _write_segment(self, table: pa.Table, predictions: int) -> PayloadSegment:
        import pyarrow.compute as pc

        data = _parquet_bytes(table)
        stored = self._artifacts().put_bytes(data)  # the blob first: then the index row
        versions = table.select(["model", "version"]).group_by(["model", "version"]).aggregate([])
        segment = PayloadSegment(
            id=new_id(),
            deployment=self.deployment,
            start_ms=pc.min(table["time_ms"]).as_py(),
            end_ms=pc.max(table["time_ms"]).as_py(),
            row_count=table.num_rows,
            prediction_count=predictions,
            digest=stored.digest,
            size=stored.size,
            models=tuple(sorted((r["model"], r["version"]) for r in versions.to_pylist())),
            columns=tuple(table.column_names),
            writer=self.writer_id,
            created_at=now_ms(self._clock),
        )
        index_segment(self._metadata(), segment)
        return segment

    def _artifacts(self) -> ArtifactStore:
        if self._artifact_store is None:
            self._artifact_store = ArtifactStore.from_url(self.settings.artifacts_url)
        return self._artifact_store

    def _metadata(self) -> Store:
        if self._store is None:
            self._store = open_store(self.settings.db_url)
        return self._store

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def _rejected(self, item: object, reason: str) -> None:
        with self._lock:
            self._counts["rejected"] += 1
            count = self._counts["rejected"]
        if count <= 10 or count % 1000 == 0:  # a caller's bug repeats: do not flood the log
            request_id = getattr(item, "request_id", None)
            logger.warning(
                "payload log of %r: refused %s (request %r, %d refused so far): %s",
                self.deployment,
                type(item).__name__,
                request_id,
                count,
                reason,
            )

    def _failed(self, predictions: int, err: Exception) -> None:
        with self._lock:
            self._counts["failed"] += predictions
            self._errors += 1
            first = self._errors == 1
        logger.error(
            "payload log of %r: %d predictions lost: %s: %s",
            self.deployment,
            predictions,
            type(err).__name__,
            err,
            exc_info=err if first else None,  # the whole traceback once
        )


def _let_requests_run() -> None:
    """Release the GIL for a moment, between slices of a batch's conversion.

    A thread that wants the GIL waits for the holder's switch interval (5 ms) before
    CPython makes it let go; a request thread waking from the event loop would wait that
    long at every step. Sleeping hands the GIL over at once to whoever waits for it.
    """
    time.sleep(0)


def _parquet_bytes(table: pa.Table) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def _check_arguments(
    deployment: str, sample_rate: float, queue_size: int, batch_size: int, flush_seconds: float
) -> None:
    if not isinstance(deployment, str) or not deployment.strip() or len(deployment) > 250:
        raise InvalidInputError(
            f"deployment must be a name of 1-250 characters, got {deployment!r}"
        )
    rate = sample_rate
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise InvalidInputError(f"sample_rate must be between 0 and 1, got {rate!r}")
    for name, value in (("queue_size", queue_size), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10**7:
            raise InvalidInputError(f"{name} must be a whole number 1-10000000, got {value!r}")
    wait = flush_seconds
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 < wait <= 3600:
        raise InvalidInputError(f"flush_seconds must be > 0 and <= 3600, got {wait!r}")


def _restart_writers_in_child() -> None:
    for writer in list(_open_writers):
        if not writer._closed:
            writer._after_fork()


os.register_at_fork(after_in_child=_restart_writers_in_child)


@atexit.register
def _close_open_writers() -> None:
    """At interpreter exit, write what open writers still hold (a few seconds at most)."""
    for writer in list(_open_writers):
        writer.close(timeout=5.0)
