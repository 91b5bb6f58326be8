"""Choosing an online store from a URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.errors import InvalidInputError
from loopml.features.online import (
    MemoryOnlineStore,
    OnlineStore,
    RedisOnlineStore,
    SqliteOnlineStore,
    from_url,
)


def test_sqlite_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    absolute = from_url(f"sqlite:///{tmp_path}/a/online.db")
    assert isinstance(absolute, SqliteOnlineStore)
    assert absolute.path == tmp_path / "a" / "online.db"
    assert absolute.url == f"sqlite:///{tmp_path}/a/online.db"
    absolute.close()
    monkeypatch.chdir(tmp_path)
    relative = from_url("sqlite:///rel.db")
    assert isinstance(relative, SqliteOnlineStore)
    assert relative.path == tmp_path / "rel.db"
    relative.close()


def test_memory_and_python_class_urls() -> None:
    assert isinstance(from_url("memory://"), MemoryOnlineStore)
    store = from_url("py:loopml.features.online.memory.MemoryOnlineStore")
    assert isinstance(store, MemoryOnlineStore)
    assert isinstance(store, OnlineStore)
    assert isinstance(from_url("py:loopml.features.online.memory:MemoryOnlineStore"), OnlineStore)


def test_redis_url_keeps_no_password_and_reads_its_prefix() -> None:
    store = from_url("redis://:secret@127.0.0.1:1/3?prefix=proj")
    assert isinstance(store, RedisOnlineStore)
    assert store.url == "redis://127.0.0.1:1/3?prefix=proj"
    assert store.prefix == "proj"
    store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://x", "not supported"),
        ("online.db", "not supported"),
        ("sqlite://", "must name a file"),
        ("sqlite:///:memory:", "must name a file"),
        ("memory://x", "takes no name"),
        ("py:nope.module.Store", "cannot import module"),
        ("py:loopml.features.online.memory.Nope", "has no class"),
        ("py:loopml.features.online.base.StoredRecord", "is not an online store"),
    ],
)
def test_bad_urls_say_what_to_do(url: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        from_url(url)


def test_unreachable_redis_is_a_store_error() -> None:
    from loopml.errors import StoreError

    store = from_url("redis://127.0.0.1:1/0?socket_connect_timeout=0.2")
    with pytest.raises(StoreError, match="LOOPML_ONLINE_STORE"):
        store.read("v", ["a", "b"])
    store.close()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("os:system?command=touch {}", "is not a class"),
        ("subprocess:Popen?args=touch {}&shell=1", "lacks url"),
    ],
)
def test_python_class_urls_run_nothing_that_is_not_an_online_store(
    tmp_path: Path, target: str, message: str
) -> None:
    pwned = tmp_path / "pwned"
    with pytest.raises(InvalidInputError, match=message):
        from_url("py:" + target.format(pwned))
    assert not pwned.exists()
