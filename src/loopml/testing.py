"""Real doubles for tests of code built on loopml: a clock a test drives by hand.

Tests of TTLs, schedules, alert windows and canary durations need "now" to be a value
the test sets, not the wall clock. :class:`FakeClock` is a :data:`loopml.clock.Clock`:
pass it where a ``clock=`` is taken, or install it as loopml's current clock with
:meth:`FakeClock.installed` so every timestamp loopml writes comes from it.

Example:
    >>> from datetime import datetime, timezone
    >>> from loopml import clock
    >>> from loopml.testing import FakeClock
    >>> fake = FakeClock(datetime(2025, 1, 1, tzinfo=timezone.utc))
    >>> with fake.installed():
    ...     fake.advance(hours=2)
    ...     clock.now().isoformat()
    '2025-01-01T02:00:00+00:00'
    >>> fake.advance(ms=1500)
    >>> fake.now_ms
    1735696801500
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from loopml.clock import use_clock
from loopml.errors import InvalidInputError, quote

__all__ = ["FakeClock"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class FakeClock:
    """A clock that stands still until told to move; exact to the microsecond.

    Args:
        start: the first "now": an aware datetime or Unix seconds (default
            2025-01-01 00:00 UTC). A naive datetime is refused: it names no instant.

    Example:
        >>> fake = FakeClock(1_700_000_000)
        >>> fake.advance(seconds=30)
        >>> fake()
        1700000030.0
        >>> fake.set(datetime(2030, 6, 1, tzinfo=UTC)); fake.now.year
        2030
    """

    def __init__(self, start: datetime | float = datetime(2025, 1, 1, tzinfo=UTC)) -> None:
        self._lock = threading.Lock()
        self._us = _micros(start)

    def __call__(self) -> float:
        """Now as Unix seconds (what makes this a :data:`loopml.clock.Clock`)."""
        return self._us / 1_000_000

    def __repr__(self) -> str:
        return f"FakeClock({self.now.isoformat()!r})"

    @property
    def now(self) -> datetime:
        """Now as an aware UTC datetime; assigning to it is :meth:`set`."""
        return _EPOCH + timedelta(microseconds=self._us)

    @now.setter
    def now(self, when: datetime | float) -> None:
        self.set(when)

    @property
    def now_ms(self) -> int:
        """Now as Unix milliseconds."""
        return self._us // 1000

    def set(self, when: datetime | float) -> None:
        """Jump to ``when`` (an aware datetime or Unix seconds); backwards is allowed."""
        us = _micros(when)
        with self._lock:
            self._us = us

    def advance(
        self,
        seconds: float = 0,
        *,
        ms: float = 0,
        microseconds: float = 0,
        minutes: float = 0,
        hours: float = 0,
        days: float = 0,
    ) -> None:
        """Move forward by the sum of the amounts given, e.g. ``advance(hours=2)``."""
        minutes += (days * 24 + hours) * 60
        step = round((minutes * 60 + seconds) * 1_000_000 + ms * 1000 + microseconds)
        if step < 0:
            raise InvalidInputError(
                f"a clock advances forward, got a step of {timedelta(microseconds=step)}; "
                "use set() to go back"
            )
        with self._lock:
            self._us += step

    @contextmanager
    def installed(self) -> Iterator[FakeClock]:
        """Make this loopml's current clock inside the ``with`` block."""
        with use_clock(self):
            yield self


def _micros(when: datetime | float) -> int:
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise InvalidInputError(
                f"a fake clock needs an aware datetime, got naive {quote(when.isoformat())}; "
                "add tzinfo, e.g. datetime(2025, 1, 1, tzinfo=timezone.utc)"
            )
        return (when - _EPOCH) // timedelta(microseconds=1)
    if isinstance(when, bool) or not isinstance(when, int | float):
        raise InvalidInputError(
            f"a fake clock is set to an aware datetime or Unix seconds, got {quote(when)}"
        )
    return round(when * 1_000_000)
