"""Time windows of the payload log: moments as Unix ms, UTC.

A moment is Unix milliseconds (an ``int``), a ``datetime`` (naive means UTC), an ISO
8601 string (``2026-12-07``, ``2026-12-07T06:00``, ``…+01:00``; naive means UTC),
``now``, or an age back from now: ``90s``, ``15m``, ``1h``, ``7d``, ``2w``, with or
without ``ago``. A window is ``[since, until)``: ``since`` inclusive, ``until``
exclusive; either end may be left open.

Example:
    >>> to_ms("1970-01-01T00:00:01")
    1000
    >>> to_ms("1h", now_ms=7_200_000)
    3600000
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from loopml.clock import now_ms as clock_now_ms
from loopml.errors import InvalidInputError

__all__ = ["Moment", "to_ms", "window"]

Moment = int | datetime | date | str
"""Unix ms, a datetime (naive is UTC) or date, an ISO string, ``now`` or an age (``1h``)."""

_AGE = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m|h|d|w)(?:\s+ago)?")
_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_MS_MIN, _MS_MAX = -(2**63), 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(moment: Moment, *, now_ms: int | None = None, name: str = "time") -> int:
    """``moment`` as Unix milliseconds (UTC).

    Raises:
        InvalidInputError: ``moment`` is none of the accepted forms, or out of range.
    """
    if isinstance(moment, bool):
        raise _bad(moment, name)
    if isinstance(moment, int):
        return _in_range(moment, name)
    if isinstance(moment, datetime):
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return _in_range((aware - _EPOCH) // timedelta(milliseconds=1), name)
    if isinstance(moment, date):
        return to_ms(datetime(moment.year, moment.month, moment.day), name=name)
    if not isinstance(moment, str):
        raise _bad(moment, name)
    text = moment.strip().lower()
    now = clock_now_ms() if now_ms is None else now_ms
    if text == "now":
        return now
    age = _AGE.fullmatch(text)
    if age is not None:
        return _in_range(now - int(float(age["n"]) * _UNIT_MS[age["unit"]]), name)
    if re.fullmatch(r"-?\d+", text):
        return _in_range(int(text), name)
    try:
        parsed = datetime.fromisoformat(moment.strip())
    except ValueError:
        raise _bad(moment, name) from None
    return to_ms(parsed, name=name)


def window(
    since: Moment | None, until: Moment | None, *, now_ms: int | None = None
) -> tuple[int | None, int | None]:
    """``[since, until)`` in Unix ms; ``None`` leaves that end open.

    Raises:
        InvalidInputError: a bad moment, or ``since`` after ``until``.
    """
    now = clock_now_ms() if now_ms is None else now_ms
    start = None if since is None else to_ms(since, now_ms=now, name="since")
    end = None if until is None else to_ms(until, now_ms=now, name="until")
    if start is not None and end is not None and start > end:
        raise InvalidInputError(
            f"since ({since!r}) is after until ({until!r}); give since <= until",
            details={"since": start, "until": end},
        )
    return start, end


def _in_range(value: int, name: str) -> int:
    if not _MS_MIN <= value <= _MS_MAX:
        raise InvalidInputError(
            f"{name} {value} is out of range: Unix milliseconds fit in 64 bits",
            details={name: str(value)},
        )
    return value


def _bad(moment: object, name: str) -> InvalidInputError:
    return InvalidInputError(
        f"{name} {moment!r} is not a time; give Unix milliseconds, a datetime, an ISO 8601 "
        "string (2026-12-07T06:00:00Z; no zone means UTC), 'now' or an age like '1h' or "
        "'15m ago'",
        details={name: str(moment)},
    )
