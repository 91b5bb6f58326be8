"""Shadow predictions off the request path: one background thread and a bounded queue.

The request hands over a job after its reply is sent and goes on; when the queue is
full the job is dropped and counted. A job that raises is the job's own business: the
thread logs it and takes the next one.

Example:
    >>> runner = ShadowRunner(max_queued=10)
    >>> runner.submit(lambda: None)
    True
    >>> runner.close()
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

__all__ = ["ShadowRunner"]

log = logging.getLogger("loopml.serving")

_STOP = object()


class ShadowRunner:
    """Runs shadow jobs one at a time on a daemon thread; never blocks the caller."""

    def __init__(self, max_queued: int = 1000) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queued)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.dropped = 0

    def submit(self, job: Callable[[], None]) -> bool:
        """Queue ``job``; ``False`` (and counted) when the queue is full."""
        if self._thread is None:
            self._start()
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="loopml-shadow", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is _STOP:
                return
            try:
                job()  # type: ignore[operator]
            except Exception:  # a shadow job must never take the thread down
                log.exception("a shadow prediction failed")

    def close(self, timeout: float = 5.0) -> None:
        """Finish what is queued (waiting at most ``timeout`` seconds), then stop."""
        thread = self._thread
        if thread is None:
            return
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return
        thread.join(timeout)
