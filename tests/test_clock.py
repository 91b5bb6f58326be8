"""loopml's one clock and the fake clock tests drive it with (loopml.testing)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from loopml import clock
from loopml.config import Settings
from loopml.errors import InvalidInputError
from loopml.testing import FakeClock
from loopml.tracking.client import TrackingClient

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_the_current_clock_is_the_system_clock_until_swapped() -> None:
    assert clock.get_clock() is time.time
    before = time.time_ns() // 1_000_000
    read = clock.now_ms()
    assert before <= read <= time.time_ns() // 1_000_000
    assert clock.now().tzinfo is UTC


def test_use_clock_swaps_for_a_block_and_puts_the_previous_one_back() -> None:
    with clock.use_clock(lambda: 1_700_000_000.25) as used:
        assert clock.get_clock() is used
        assert clock.timestamp() == 1_700_000_000.25
        assert clock.now_ms() == 1_700_000_000_250
        assert clock.now_us() == 1_700_000_000_250_000
        assert clock.now() == datetime(2023, 11, 14, 22, 13, 20, 250_000, tzinfo=UTC)
    assert clock.get_clock() is time.time
    with pytest.raises(RuntimeError), clock.use_clock(lambda: 0.0):
        raise RuntimeError("the block fails")
    assert clock.get_clock() is time.time


def test_set_clock_returns_the_previous_clock_and_none_means_the_system_clock() -> None:
    fake = FakeClock(T0)
    previous = clock.set_clock(fake)
    try:
        assert previous is time.time
        assert clock.now() == T0
    finally:
        assert clock.set_clock(None) is fake
    assert clock.get_clock() is time.time


def test_an_explicit_clock_wins_over_the_current_one() -> None:
    fake = FakeClock(T0)
    with FakeClock(T0 + timedelta(days=1)).installed():
        assert clock.now(fake) == T0
        assert clock.now_ms(fake) == int(T0.timestamp() * 1000)
        assert clock.now() == T0 + timedelta(days=1)


def test_fake_clock_starts_where_told_and_moves_only_when_told() -> None:
    fake = FakeClock(T0)
    assert fake.now == T0
    assert fake() == T0.timestamp()
    assert FakeClock().now == T0  # the default start
    assert FakeClock(1_700_000_000).now_ms == 1_700_000_000_000
    fake.advance(30)
    fake.advance(ms=1500)
    fake.advance(minutes=1, hours=2, days=1)
    fake.advance(microseconds=1)
    assert fake.now == T0 + timedelta(days=1, hours=2, minutes=1, seconds=31.5, microseconds=1)
    fake.set(datetime(2030, 6, 1, 12, tzinfo=timezone(timedelta(hours=2))))
    assert fake.now == datetime(2030, 6, 1, 10, tzinfo=UTC)
    fake.now = T0  # the property is a setter too
    assert fake.now == T0
    assert repr(fake) == "FakeClock('2025-01-01T00:00:00+00:00')"


def test_fake_clock_is_exact_to_the_microsecond_through_loopml_clock() -> None:
    fake = FakeClock(T0 + timedelta(hours=2))
    fake.advance(microseconds=1)
    assert clock.now_us(fake) == int(T0.timestamp()) * 1_000_000 + 7_200_000_001
    assert clock.now(fake) == T0 + timedelta(hours=2, microseconds=1)


def test_fake_clock_refuses_what_names_no_instant_or_goes_backwards() -> None:
    with pytest.raises(InvalidInputError, match=r"naive '2025-01-01T00:00:00'.*tzinfo"):
        FakeClock(datetime(2025, 1, 1))
    with pytest.raises(InvalidInputError, match="Unix seconds, got '2025'"):
        FakeClock("2025")  # type: ignore[arg-type]
    fake = FakeClock(T0)
    with pytest.raises(InvalidInputError, match="use set\\(\\) to go back"):
        fake.advance(-1)
    assert fake.now == T0  # nothing moved


def test_installed_fake_clock_stamps_what_loopml_records(tmp_path: Path) -> None:
    client = TrackingClient(Settings.load(home=tmp_path / "home"))
    fake = FakeClock(T0)
    with fake.installed():
        run = client.create_run("clocked")
        fake.advance(seconds=90)
        client.log_metric(run.id, "loss", 0.5)
        client.end_run(run.id)
    client.flush()
    ended = client.get_run(run.id)
    assert ended.start_time == fake.now_ms - 90_000
    assert ended.end_time == fake.now_ms
    assert [m.timestamp for m in client.get_metric_history(run.id, "loss")] == [fake.now_ms]
    client.close()


def test_advances_from_many_threads_all_count() -> None:
    fake = FakeClock(0)
    threads = [
        threading.Thread(target=lambda: [fake.advance(ms=1) for _ in range(500)]) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fake.now_ms == 2000
