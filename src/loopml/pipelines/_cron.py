"""Cron schedules: validation with a reason, time zones, and DST-correct fire times.

A schedule is a standard five-field cron expression, ``minute hour day-of-month month
day-of-week`` (ranges, lists, steps, names such as ``MON-FRI`` and ``JAN``, ``L`` and
``#`` as croniter reads them), or one of ``@yearly``, ``@annually``, ``@monthly``,
``@weekly``, ``@daily``, ``@midnight``, ``@hourly``. Schedules have minute precision:
six- and seven-field forms (seconds, years) are refused, and so are hashed (``H``)
and random (``R``) fields, whose times are not fixed.

Fire times are computed in the schedule's time zone and follow Vixie cron across
daylight saving time switches:

* a time that does not exist (clocks go forward) fires once, at the first instant
  after the switch: ``30 2 * * *`` in Europe/Berlin fires at 03:00 that day; schedules
  whose minute or hour field starts with ``*`` (``0 * * * *``) just skip it;
* a time that happens twice (clocks go back) fires once, the first time, unless the
  minute or hour field starts with ``*``: those fire in every real hour.

croniter finds the matching wall-clock times; placing them in the zone is done here
(croniter's own handling misses repeated times where clocks move by 30 or 45 minutes).

Example:
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> start = datetime(2024, 3, 30, 12, tzinfo=ZoneInfo("Europe/Berlin"))
    >>> [t.isoformat() for t in fire_times("30 2 * * *", "Europe/Berlin", 2, after=start)]
    ['2024-03-31T03:00:00+02:00', '2024-04-01T02:30:00+02:00']
"""

from __future__ import annotations

import heapq
import re
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from loopml.clock import now
from loopml.errors import InvalidInputError, close_matches

__all__ = ["check_schedule", "check_timezone", "fire_times"]

EXAMPLE = "'0 3 * * *' (03:00 every day)"
_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31 or L"),
    ("month", "1-12 or JAN-DEC"),
    ("day-of-week", "0-6 (0 is Sunday) or SUN-SAT"),
)
_FORM = "5 fields: minute hour day-of-month month day-of-week"
# H and R as a whole token: not the letters inside THU, FRI, MAR or APR.
_NOT_FIXED = re.compile(r"(?<![A-Za-z])[HhRr](?![A-Za-z])")
_MACHINE_ZONES = ("localtime", "posixrules", "Factory")
# A walk that finds no new time after this many steps means croniter is stuck.
_MAX_STEPS = 10_000
# More than any clock change (DST moves clocks 30 min to 2 h).
_HORIZON = timedelta(hours=3)
_SECOND = timedelta(seconds=1)


def check_schedule(expression: str) -> str:
    """``expression`` with its whitespace normalised, or an error that says what is wrong.

    Raises:
        InvalidInputError: not five fields, a field out of range, an unsupported alias,
            a hashed or random field, or a schedule that never fires.

    Example:
        >>> check_schedule("  0  3 * * MON-FRI ")
        '0 3 * * MON-FRI'
    """
    text = " ".join(str(expression).split())
    fields = _fields(text)
    if any(_NOT_FIXED.search(field) for field in fields):
        raise _invalid(text, "hashed (H) and random (R) fields have no fixed times; give numbers")
    from croniter import CroniterError, croniter

    try:
        croniter(" ".join(fields), datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterError as err:
        if "failed to find" in str(err):
            raise _invalid(text, "it never fires (no date matches, e.g. February 30)") from err
        raise _invalid(text, f"{err}{_locate(fields)}") from err
    return text


def _fields(text: str) -> list[str]:
    if text.startswith("@"):
        if text.lower() not in _ALIASES:
            raise _invalid(text, f"unknown shortcut; use one of {', '.join(_ALIASES)}")
        return _ALIASES[text.lower()].split()
    fields = text.split()
    if len(fields) != 5:
        reason = f"it has {len(fields)} field{'' if len(fields) == 1 else 's'}, not 5"
        if len(fields) in (6, 7):
            reason += " (schedules have minute precision: no seconds or years field)"
        raise _invalid(text, reason)
    return fields


def _locate(fields: list[str]) -> str:
    from croniter import croniter

    for index, (name, allowed) in enumerate(_FIELDS):
        probe = ["*"] * 5
        probe[index] = fields[index]
        if not croniter.is_valid(" ".join(probe)):
            return f" (the {name} field {fields[index]!r} takes {allowed})"
    return ""


def _invalid(text: str, reason: str) -> InvalidInputError:
    return InvalidInputError(
        f"invalid cron schedule {text!r}: {reason}; give {_FORM}, e.g. {EXAMPLE}",
        details={"schedule": text, "reason": reason},
    )


def check_timezone(name: str) -> tzinfo:
    """The IANA time zone ``name``, or an error suggesting close names.

    Example:
        >>> check_timezone("Europe/Berlin")
        zoneinfo.ZoneInfo(key='Europe/Berlin')
    """
    if name in _MACHINE_ZONES:
        raise InvalidInputError(
            f"time zone {name!r} depends on the machine; give an IANA name such as "
            "'UTC' or 'Europe/Berlin'"
        )
    if name in _zones():
        return ZoneInfo(name)
    if name == "UTC":  # no tz database on this machine: UTC needs none
        return UTC
    try:  # a name the database has but does not list (links, on some systems)
        if name and not name.startswith(("/", ".")):
            return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    suggestions = _close_zones(name)
    hint = f"did you mean: {', '.join(suggestions)}? " if suggestions else ""
    raise InvalidInputError(
        f"unknown time zone {name!r}; {hint}give an IANA name such as 'UTC', "
        "'Europe/Berlin' or 'America/New_York'",
        details={"timezone": name, "suggestions": suggestions},
    )


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _close_zones(name: str) -> list[str]:
    lowered = {zone.lower(): zone for zone in _zones()}
    wanted = name.strip().lower().replace(" ", "_")
    same = [lowered[wanted]] if wanted in lowered else []
    suffix = sorted(zone for low, zone in lowered.items() if low.endswith("/" + wanted))
    similar = [lowered[low] for low in close_matches(wanted, lowered)]
    return list(dict.fromkeys(same + suffix + similar))[:3]


def fire_times(
    expression: str, timezone: str, count: int, *, after: datetime | None = None
) -> list[datetime]:
    """The next ``count`` times ``expression`` fires after ``after`` (default: now).

    Times are aware and in ``timezone``; a naive ``after`` is read in that zone.
    """
    from croniter import croniter

    zone = check_timezone(timezone)
    fields = _fields(" ".join(expression.split()))
    wildcard = fields[0].startswith("*") or fields[1].startswith("*")
    last = now() if after is None else _to_utc(after, zone)
    # croniter walks wall-clock times (naive); each is then placed in the zone, where it
    # happens once, twice or never. Instants are compared in UTC: within one zone Python
    # compares wall-clock times and ignores fold.
    wall = last.astimezone(zone).replace(tzinfo=None)
    if _falls_back(last, last + _HORIZON, zone):  # earlier wall times will happen again
        wall -= _HORIZON
    walk = croniter(" ".join(fields), wall)
    pending: list[datetime] = []  # a heap of instants not yet known to be next
    found: list[datetime] = []
    for _ in range(_MAX_STEPS + 4 * count):
        if len(found) >= count:
            break
        wall = walk.get_next(datetime)
        for instant in _instants(wall, zone, wildcard):
            heapq.heappush(pending, instant)
        while pending and len(found) < count and _settled(pending[0], wall, zone):
            instant = heapq.heappop(pending)
            if instant > last:
                found.append(instant.astimezone(zone))
                last = instant
    return found


def _settled(instant: datetime, wall: datetime, zone: tzinfo) -> bool:
    """Whether no wall-clock time after ``wall`` can happen before ``instant``.

    Only clocks going back make a later wall-clock time happen earlier; no zone moves
    its clocks by more than ``_HORIZON``.
    """
    if not _falls_back(instant - _HORIZON, instant, zone):
        return True
    return instant <= min(_utc(wall, zone, 0), _utc(wall, zone, 1)) - _HORIZON


def _falls_back(start: datetime, end: datetime, zone: tzinfo) -> bool:
    before = start.astimezone(zone).utcoffset() or _SECOND * 0
    after = end.astimezone(zone).utcoffset() or _SECOND * 0
    return before > after


def _to_utc(moment: datetime, zone: tzinfo) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _utc(wall: datetime, zone: tzinfo, fold: int) -> datetime:
    return wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)


def _instants(wall: datetime, zone: tzinfo, wildcard: bool) -> list[datetime]:
    """When a wall-clock time fires: once, twice (clocks went back) or never (forward)."""
    early, late = _utc(wall, zone, 0), _utc(wall, zone, 1)
    if early == late:
        return [early]
    if early < late:  # the time happens twice
        return [early, late] if wildcard else [early]
    # The time was skipped: fold 1 read it with the new offset, fold 0 with the old,
    # and the switch lies between them.
    return [] if wildcard else [_switch(late, early, zone)]


def _switch(before: datetime, after: datetime, zone: tzinfo) -> datetime:
    """The first instant in ``(before, after]`` with ``after``'s UTC offset."""
    offset = after.astimezone(zone).utcoffset()
    while after - before > _SECOND:
        middle = before + timedelta(seconds=(after - before) // _SECOND // 2)
        if middle.astimezone(zone).utcoffset() == offset:
            after = middle
        else:
            before = middle
    return after
