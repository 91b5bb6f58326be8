"""The online store contract, run over every backend (memory, SQLite, Redis)."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from loopml.features.online import OnlineStore, from_url

T = 1_735_689_600_000_000  # 2025-01-01 in microseconds


def test_is_an_online_store_with_a_url(online_store: OnlineStore) -> None:
    assert isinstance(online_store, OnlineStore)
    assert online_store.url.split(":")[0] in {"memory", "sqlite", "redis"}


def test_reads_back_what_was_written_in_key_order(online_store: OnlineStore) -> None:
    written = online_store.write_batch("v", [("a", T, b"A"), ("b", T + 1, b"B")])
    assert written == 2
    assert online_store.read("v", ["b", "missing", "a", "b"]) == [
        (T + 1, b"B"),
        None,
        (T, b"A"),
        (T + 1, b"B"),
    ]
    assert online_store.read("v", ["a"]) == [(T, b"A")]
    assert online_store.read("v", []) == []


def test_unknown_view_reads_nothing(online_store: OnlineStore) -> None:
    assert online_store.read("nope", ["a", "b"]) == [None, None]


def test_keeps_the_newer_record_per_key(online_store: OnlineStore) -> None:
    online_store.write_batch("v", [("a", T + 10, b"new")])
    assert online_store.write_batch("v", [("a", T, b"old")]) == 0
    assert online_store.read("v", ["a"]) == [(T + 10, b"new")]
    assert online_store.write_batch("v", [("a", T + 10, b"same-time")]) == 1
    assert online_store.read("v", ["a"]) == [(T + 10, b"same-time")]
    assert online_store.write_batch("v", [("a", T + 11, b"newest")]) == 1
    assert online_store.read("v", ["a"]) == [(T + 11, b"newest")]


def test_newer_wins_inside_one_batch_too(online_store: OnlineStore) -> None:
    online_store.write_batch("v", [("a", T + 5, b"5"), ("a", T + 1, b"1"), ("b", T, b"b")])
    assert online_store.read("v", ["a", "b"]) == [(T + 5, b"5"), (T, b"b")]


def test_keeps_the_newer_record_across_signs_and_large_values(online_store: OnlineStore) -> None:
    stamps = [-(2**62), -1, 0, 1, 2**53 + 1, 2**62]
    for ts in stamps:
        online_store.write_batch("v", [("k", ts, str(ts).encode())])
    for ts in reversed(stamps[:-1]):
        assert online_store.write_batch("v", [("k", ts, b"older")]) == 0
    assert online_store.read("v", ["k"]) == [(2**62, str(2**62).encode())]
    online_store.write_batch("v", [("k2", 2**53 + 1, b"x")])
    assert online_store.write_batch("v", [("k2", 2**53, b"y")]) == 0  # not equal as doubles


def test_views_are_separate(online_store: OnlineStore) -> None:
    online_store.write_batch("v1", [("a", T, b"1")])
    online_store.write_batch("v2", [("a", T, b"2")])
    assert online_store.read("v1", ["a"]) == [(T, b"1")]
    assert online_store.read("v2", ["a"]) == [(T, b"2")]


def test_delete_view_forgets_only_that_view(online_store: OnlineStore) -> None:
    online_store.write_batch("v1", [(str(i), T, b"x") for i in range(2500)])
    online_store.write_batch("v10", [("1", T, b"y")])
    online_store.delete_view("v1")
    assert online_store.read("v1", ["1", "2499"]) == [None, None]
    assert online_store.read("v10", ["1"]) == [(T, b"y")]
    online_store.delete_view("never-written")


def test_a_failing_batch_writes_nothing(online_store: OnlineStore) -> None:
    online_store.write_batch("v", [("kept", T, b"old")])
    bad = [("kept", T + 1, b"new"), ("fresh", T, b"x"), ("broken", T, None)]
    with pytest.raises((TypeError, sqlite3.IntegrityError)):
        online_store.write_batch("v", bad)  # type: ignore[list-item]
    assert online_store.read("v", ["kept", "fresh"]) == [(T, b"old"), None]


def test_large_batches_and_odd_keys(online_store: OnlineStore) -> None:
    records = [(f"k:{i}/é\x1f{i % 7}", T + i, bytes([i % 256]) * (i % 50)) for i in range(25_000)]
    assert online_store.write_batch("v", records) == 25_000
    keys = [key for key, _, _ in records]
    assert online_store.read("v", keys) == [(ts, payload) for _, ts, payload in records]


def test_binary_payloads_come_back_exactly(online_store: OnlineStore) -> None:
    payload = bytes(range(256)) * 40
    online_store.write_batch("v", [("a", T, payload), ("e", T, b"")])
    assert online_store.read("v", ["a", "e"]) == [(T, payload), (T, b"")]


def test_concurrent_readers_and_a_writer(online_store: OnlineStore) -> None:
    online_store.write_batch("v", [(str(i), T, b"0") for i in range(200)])
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(50):
                found = online_store.read("v", [str(i) for i in range(200)])
                versions = {record[1] for record in found if record is not None}
                assert len(found) == 200
                assert versions <= {b"0", b"1"}
                assert len(versions) == 1, "a reader saw half of a batch"
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    online_store.write_batch("v", [(str(i), T + 1, b"1") for i in range(200)])
    for thread in threads:
        thread.join()
    assert not errors, errors[0]


def test_the_url_opens_the_same_store(online_store: OnlineStore) -> None:
    online_store.write_batch("v", [("a", T, b"A")])
    again = from_url(online_store.url)
    try:
        expected = [None] if online_store.url == "memory://" else [(T, b"A")]  # memory: new
        assert again.read("v", ["a"]) == expected
    finally:
        again.close()
