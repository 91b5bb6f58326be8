"""Moments and windows of the payload log: every accepted form, and the refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml.errors import InvalidInputError
from loopml.monitoring._window import to_ms, window

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_unix_ms_are_taken_as_they_are(value: int) -> None:
    assert to_ms(value) == value
    assert to_ms(str(value)) == value


@given(st.datetimes(timezones=st.just(UTC)))
def test_datetimes_are_exact_to_the_millisecond(moment: datetime) -> None:
    expected = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    assert to_ms(moment) == expected
    assert to_ms(moment.replace(tzinfo=None)) == expected  # naive means UTC
    assert to_ms(moment.isoformat()) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("1h", NOW - 3_600_000),
        ("15m ago", NOW - 900_000),
        ("90s", NOW - 90_000),
        ("250ms", NOW - 250),
        ("1.5d", NOW - 129_600_000),
        ("2w", NOW - 1_209_600_000),
        ("2026-01-01", NOW),
        ("2026-01-01T01:00:00+01:00", NOW),
        (" 2026-01-01T00:00:00.001Z ", NOW + 1),
    ],
)
def test_text_forms(text: str, expected: int) -> None:
    assert to_ms(text, now_ms=NOW) == expected


def test_dates_and_zones() -> None:
    assert to_ms(date(2026, 1, 1)) == NOW
    east = datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))
    assert to_ms(east) == NOW


@pytest.mark.parametrize(
    "bad", ["", "yesterday", "1 fortnight", "h", "-1h", "2026-13-01", 1.5, True, None, [1]]
)
def test_what_is_not_a_time_is_refused(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="is not a time"):
        to_ms(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [2**63, -(2**63) - 1, "9" * 30])
def test_beyond_64_bits_is_refused(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="out of range"):
        to_ms(bad)  # type: ignore[arg-type]


def test_windows() -> None:
    assert window(None, None) == (None, None)
    assert window("2h", "1h", now_ms=NOW) == (NOW - 7_200_000, NOW - 3_600_000)
    assert window(5, 5) == (5, 5)  # empty, not wrong
    with pytest.raises(InvalidInputError, match="after until"):
        window("1h", "2h", now_ms=NOW)
