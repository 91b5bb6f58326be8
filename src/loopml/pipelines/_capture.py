"""Keep what each step prints and logs, even when several steps share a process.

``sys.stdout``, ``sys.stderr`` and the root logger are process-wide, so they get one
router each, installed once: it writes everything through as before, and also copies it
into the buffer of the step running *on the current thread*. Steps on other threads (a
Dask worker's thread pool, a timeout's helper thread) each fill their own buffer.

Example:
    >>> import io
    >>> buffer = io.StringIO()
    >>> with capturing(buffer):
    ...     print("hello")
    hello
    >>> buffer.getvalue()
    'hello\\n'
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

__all__ = ["capturing"]

_local = threading.local()
_lock = threading.Lock()


def _buffer() -> io.StringIO | None:
    return getattr(_local, "buffer", None)


class _Router(io.TextIOBase):
    """A stream that writes through to ``target`` and into this thread's step buffer."""

    def __init__(self, target: TextIO) -> None:
        self.target = target

    def write(self, text: str) -> int:
        buffer = _buffer()
        if buffer is not None:
            buffer.write(text)
        return int(self.target.write(text) or 0)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.target, "encoding", "utf-8"))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


class _ThreadHandler(logging.Handler):
    """Log records of a thread running a step go into that step's buffer."""

    def emit(self, record: logging.LogRecord) -> None:
        buffer = _buffer()
        if buffer is not None:
            buffer.write(self.format(record) + "\n")


_HANDLER = _ThreadHandler()
_HANDLER.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))


def _install() -> None:
    # Checked every time: Rich, pytest or the user may have replaced the streams since.
    with _lock:
        if not isinstance(sys.stdout, _Router):
            sys.stdout = _Router(sys.stdout)
        if not isinstance(sys.stderr, _Router):
            sys.stderr = _Router(sys.stderr)
        root = logging.getLogger()
        if _HANDLER not in root.handlers:
            root.addHandler(_HANDLER)


@contextmanager
def capturing(buffer: io.StringIO) -> Iterator[None]:
    """Copy this thread's prints and log records into ``buffer`` inside the block."""
    _install()
    previous = _buffer()
    _local.buffer = buffer
    try:
        yield
    finally:
        _local.buffer = previous
