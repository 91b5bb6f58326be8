"""Adaptive batching: concurrent requests' rows merged into one model call.

A :class:`Batcher` sits between a deployment's request handlers and one loaded model
version. ``await batcher.submit(rows)`` queues one request's rows; a single worker task
takes the oldest waiting request, waits at most ``max_batch_time_ms`` (counted from that
request's arrival) for company, merges the rows of every compatible waiting request up
to ``max_batch_size`` rows, calls ``predict`` once off the event loop (in a thread) and
hands each request exactly its own rows of the output.

The rules, in order:

- inputs are one request's rows: a numpy array (rows on axis 0), a dict of named arrays or
  column lists, a pandas DataFrame, or a list (records or rows); anything else, an empty
  input (0 rows) and a request of ``max_batch_size`` rows or more run alone, exactly as
  unbatched;
- only requests of the same kind and layout are merged: arrays of one dtype and trailing
  shape, frames with the same columns and dtypes, dicts with the same names and value
  kinds, lists whose first items look alike; others wait for a batch of their own;
- outputs are split by rows: an array, a DataFrame or Series, a list or tuple, or a dict
  of those, with one item per input row; an output of any other length cannot be split,
  so that batch is answered by calling ``predict`` on each request alone;
- when a merged call raises, ``predict`` is called again on each request alone, so one
  bad request gets its own error and never fails the others (the price: a failed batch
  costs its requests a second model call);
- :meth:`Batcher.close` answers everything queued at once (no more waiting for company)
  and stops the worker; a request submitted after ``close`` runs alone, so a request that
  picked this version just before a swap is still answered.

Batching is per deployment (``Resources.max_batch_size``, ``max_batch_time_ms``) and off
by default (``max_batch_size=1``): :func:`batcher_for` gives ``None`` then, and the server
calls the model directly.

Example:
    >>> import asyncio
    >>> import numpy as np
    >>> async def main() -> list[list[float]]:
    ...     batcher = Batcher(lambda x: x * 2, max_batch_size=8, max_batch_time_ms=1)
    ...     first, second = await asyncio.gather(
    ...         batcher.submit(np.array([[1.0]])), batcher.submit(np.array([[2.0], [3.0]]))
    ...     )
    ...     await batcher.close()
    ...     return [first.ravel().tolist(), second.ravel().tolist()]
    >>> asyncio.run(main())
    [[2.0], [4.0, 6.0]]
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from loopml.serving import _rows
from loopml.serving.policy import Resources

__all__ = ["BatchReport", "Batcher", "RequestTiming", "batcher_for"]

log = logging.getLogger("loopml.serving")


@dataclass(frozen=True, slots=True)
class BatchReport:
    """One model call the batcher made, for metrics (a batch-size histogram).

    Attributes:
        rows: input rows in the call.
        requests: requests whose rows it held.
        seconds: the call's wall time.
        failed: whether the call raised (a merged call that raised is followed by one
            call per request).
    """

    rows: int
    requests: int
    seconds: float
    failed: bool = False


@dataclass(frozen=True, slots=True)
class RequestTiming:
    """Where one request's time went inside the batcher (for latency histograms).

    Attributes:
        queued: seconds from ``submit`` until the model call that answered it started
            (waiting for company, for the model, and any failed merged call first).
        predict: seconds of that model call.
        batch_rows: rows in that call (its own and the others').
    """

    queued: float
    predict: float
    batch_rows: int


@dataclass(eq=False, slots=True)
class _Request:
    inputs: Any
    rows: int
    layout: Hashable | None  # None: never merged with another request
    arrived: float  # loop.time()
    future: asyncio.Future[Any]
    timing: RequestTiming | None = None

    def timed(self, started: float, seconds: float, rows: int) -> None:
        self.timing = RequestTiming(max(started - self.arrived, 0.0), seconds, rows)


class Batcher:
    """Merges concurrent requests' rows into one ``predict`` call per batch.

    Args:
        predict: the model call, e.g. a loaded version's ``predict``; run in ``executor``.
        max_batch_size: most rows in one call (1 or more; a larger request runs alone).
        max_batch_time_ms: how long the oldest waiting request waits for company before
            its batch runs anyway (0: never wait; run with whatever is queued).
        executor: where ``predict`` runs; the event loop's default thread pool by default.
        on_batch: called with a :class:`BatchReport` after every model call (its errors
            are logged, never raised).
        name: how the batcher is named in logs (the deployment and version).

    One batcher serves one event loop; calls run one at a time, and requests arriving
    during a call form the next batch.

    Example:
        >>> batcher = Batcher(predict, max_batch_size=32, max_batch_time_ms=2)  # doctest: +SKIP
        >>> outputs = await batcher.submit(rows)  # doctest: +SKIP
    """

    def __init__(
        self,
        predict: Callable[[Any], Any],
        *,
        max_batch_size: int,
        max_batch_time_ms: float,
        executor: Executor | None = None,
        on_batch: Callable[[BatchReport], None] | None = None,
        name: str = "model",
    ) -> None:
        limits = Resources(max_batch_size=max_batch_size, max_batch_time_ms=max_batch_time_ms)
        self.max_batch_size = limits.max_batch_size
        self.max_batch_time_ms = limits.max_batch_time_ms
        self.name = name
        self._predict = predict
        self._executor = executor
        self._on_batch = on_batch
        self._pending: deque[_Request] = deque()
        self._arrived = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def pending(self) -> int:
        """Requests queued and not yet in a model call."""
        return len(self._pending)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (later requests run alone)."""
        return self._closing

    async def submit(self, inputs: Any) -> Any:
        """The model's outputs for ``inputs`` (one request's rows), batched with others'.

        Raises:
            Exception: whatever ``predict`` raised on this request's rows alone (e.g. a
                :class:`~loopml.errors.SignatureError`).
        """
        return (await self.submit_timed(inputs))[0]

    async def submit_timed(self, inputs: Any) -> tuple[Any, RequestTiming]:
        """:meth:`submit`, also saying how long the request queued and its model call took.

        Example:
            >>> outputs, timing = await batcher.submit_timed(rows)  # doctest: +SKIP
            >>> timing.queued, timing.predict, timing.batch_rows  # doctest: +SKIP
            (0.0021, 0.0034, 12)
        """
        loop = asyncio.get_running_loop()
        rows, layout = _rows.describe(inputs)
        if rows == 0 or rows >= self.max_batch_size:
            layout = None
        request = _Request(inputs, rows, layout, loop.time(), loop.create_future())
        if self._closing:
            result = await self._timed(loop, inputs, [request])
        else:
            self._pending.append(request)
            self._arrived.set()
            if self._worker is None or self._worker.done():
                self._worker = loop.create_task(self._work(), name=f"batcher {self.name}")
            result = await request.future
        assert request.timing is not None  # set before the result, by the model call
        return result, request.timing

    async def close(self) -> None:
        """Answer every queued request now and stop the worker (idempotent)."""
        self._closing = True
        self._arrived.set()
        if self._worker is not None:
            await self._worker

    # -- the worker ------------------------------------------------------------------------

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while self._pending and self._pending[0].future.done():  # its caller gave up
                self._pending.popleft()
            if not self._pending:
                if self._closing:
                    return
                self._arrived.clear()
                await self._arrived.wait()
                continue
            batch = await self._collect(loop, self._pending[0])
            try:
                await self._run(loop, batch)
            except Exception as err:  # a bug here must not leave callers waiting forever
                log.exception("batcher %s: a batch could not be answered", self.name)
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(err)

    async def _collect(self, loop: asyncio.AbstractEventLoop, head: _Request) -> list[_Request]:
        deadline = head.arrived + self.max_batch_time_ms / 1000
        while True:
            batch = self._fitting(head)
            rows = sum(request.rows for request in batch)
            remaining = deadline - loop.time()
            if head.layout is None or rows >= self.max_batch_size or remaining <= 0:
                break
            if self._closing:
                break
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)
        chosen = set(map(id, batch))
        self._pending = deque(r for r in self._pending if id(r) not in chosen)
        return batch

    def _fitting(self, head: _Request) -> list[_Request]:
        """``head`` and the queued requests of its layout that fit beside it, oldest first."""
        if head.layout is None:
            return [head]
        batch, rows = [], 0
        for request in self._pending:
            if request.layout != head.layout or request.future.done():
                continue
            if rows + request.rows <= self.max_batch_size:
                batch.append(request)
                rows += request.rows
                if rows == self.max_batch_size:
                    break
        return batch

    async def _run(self, loop: asyncio.AbstractEventLoop, batch: list[_Request]) -> None:
        live = [request for request in batch if not request.future.done()]
        if not live:
            return
        if len(live) == 1:
            await self._answer_alone(loop, live[0])
            return
        try:
            merged = _rows.concat([request.inputs for request in live])
        except Exception:  # inputs that looked alike but do not merge: answer each alone
            log.debug("batcher %s: inputs did not merge", self.name, exc_info=True)
            parts = None
        else:
            parts = await self._call_split(loop, merged, live)
        if parts is None:
            for request in live:
                await self._answer_alone(loop, request)
            return
        for request, part in zip(live, parts, strict=True):
            if not request.future.done():
                request.future.set_result(part)

    async def _call_split(
        self, loop: asyncio.AbstractEventLoop, merged: Any, requests: list[_Request]
    ) -> list[Any] | None:
        """Outputs per request of one merged call; ``None`` when the call failed or its
        output cannot be split by rows (the requests are then answered alone)."""
        try:
            outputs = await self._timed(loop, merged, requests)
        except Exception:
            log.debug("batcher %s: a batch of %d failed", self.name, len(requests), exc_info=True)
            return None
        try:
            return _rows.split(outputs, [request.rows for request in requests])
        except _rows.UnsplittableError as err:
            log.warning(
                "batcher %s: %s; answering that batch request by request (turn batching off "
                "for this model: max_batch_size=1)",
                self.name,
                err,
            )
            return None

    async def _answer_alone(self, loop: asyncio.AbstractEventLoop, request: _Request) -> None:
        try:
            result = await self._timed(loop, request.inputs, [request])
        except Exception as err:
            if not request.future.done():
                request.future.set_exception(err)
            return
        if not request.future.done():
            request.future.set_result(result)

    async def _timed(
        self, loop: asyncio.AbstractEventLoop, inputs: Any, requests: list[_Request]
    ) -> Any:
        """``predict(inputs)`` in the executor, timed for ``requests`` and reported."""
        rows = sum(request.rows for request in requests)
        started_at, started = loop.time(), time.perf_counter()
        failed = True
        try:
            result = await loop.run_in_executor(self._executor, self._predict, inputs)
            failed = False
            return result
        finally:
            seconds = time.perf_counter() - started
            for request in requests:
                request.timed(started_at, seconds, rows)
            self._report(BatchReport(rows, len(requests), seconds, failed))

    def _report(self, report: BatchReport) -> None:
        if self._on_batch is None:
            return
        try:
            self._on_batch(report)
        except Exception:  # a metrics hook must never fail a request
            log.exception("batcher %s: on_batch raised", self.name)


def batcher_for(
    predict: Callable[[Any], Any],
    resources: Resources,
    *,
    executor: Executor | None = None,
    on_batch: Callable[[BatchReport], None] | None = None,
    name: str = "model",
) -> Batcher | None:
    """A batcher for a deployment's ``resources``, or ``None`` when batching is off.

    Example:
        >>> batcher_for(print, Resources()) is None
        True
        >>> batcher_for(print, Resources(max_batch_size=16)).max_batch_size
        16
    """
    if resources.max_batch_size <= 1:
        return None
    return Batcher(
        predict,
        max_batch_size=resources.max_batch_size,
        max_batch_time_ms=resources.max_batch_time_ms,
        executor=executor,
        on_batch=on_batch,
        name=name,
    )
