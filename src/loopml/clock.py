"""The one clock: every "now" in loopml is read here.

A clock is any zero-argument callable returning Unix seconds (``time.time`` is the
system clock). loopml reads the *current* clock, which is the system clock unless a
test or a tool swaps it: :func:`use_clock` for a block, :func:`set_clock` for good.
Components that take a ``clock=`` argument (the feature store, the artifact store)
take the same kind of callable; left out, they follow the current clock.
:class:`loopml.testing.FakeClock` is a clock a test drives by hand.

Durations (timeouts, elapsed times) are measured with ``time.monotonic``, not here: a
clock may jump, a duration must not.

Example:
    >>> from loopml import clock
    >>> with clock.use_clock(lambda: 1_700_000_000.0):
    ...     clock.now_ms(), clock.now().isoformat()
    (1700000000000, '2023-11-14T22:13:20+00:00')
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

__all__ = [
    "Clock",
    "get_clock",
    "now",
    "now_ms",
    "now_us",
    "set_clock",
    "timestamp",
    "use_clock",
]

Clock = Callable[[], float]
"""A zero-argument callable returning "now" as Unix seconds, like ``time.time``."""

_current: Clock = time.time
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def get_clock() -> Clock:
    """The clock loopml reads now (``time.time`` unless swapped)."""
    return _current


def set_clock(clock: Clock | None) -> Clock:
    """Make ``clock`` the current clock (``None``: the system clock); return the previous one.

    Prefer :func:`use_clock`, which puts the previous clock back.
    """
    global _current
    previous = _current
    _current = time.time if clock is None else clock
    return previous


@contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    """Read ``clock`` as the current clock inside the ``with`` block."""
    previous = set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(previous)


def timestamp(clock: Clock | None = None) -> float:
    """Now as Unix seconds, from ``clock`` or the current clock."""
    return (clock or _current)()


def now_us(clock: Clock | None = None) -> int:
    """Now as whole Unix microseconds, from ``clock`` or the current clock."""
    # round, not int: a clock set to an exact microsecond reads back exactly, although
    # seconds near 1.7e9 carry only ~0.24 us of float precision.
    return round(timestamp(clock) * 1_000_000)


def now_ms(clock: Clock | None = None) -> int:
    """Now as whole Unix milliseconds (what loopml stores), from ``clock`` or the current one."""
    return now_us(clock) // 1000


def now(clock: Clock | None = None) -> datetime:
    """Now as a timezone-aware UTC datetime, from ``clock`` or the current clock."""
    return _EPOCH + timedelta(microseconds=now_us(clock))
