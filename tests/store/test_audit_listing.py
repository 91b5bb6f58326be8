"""The audit log read newest first: filters, time, pages by id (behind GET /api/v1/audit)."""

from __future__ import annotations

import pytest

from loopml.clock import use_clock
from loopml.errors import InvalidInputError
from loopml.store import Store, audit, open_store
from loopml.testing import FakeClock


@pytest.fixture
def store(db_url: str) -> Store:
    """Five rows by two actors about two objects, one second apart from t=1000 s."""
    found = open_store(db_url)
    clock = FakeClock(1000)
    rows = [
        ("ana", "model.register", "model", "churn"),
        ("bo", "alias.set", "model", "churn"),
        ("ana", "model.register", "model", "fraud"),
        ("bo", "run.delete", "run", "r1"),
        ("ana", "alias.set", "model", "churn"),
    ]
    with use_clock(clock):
        for actor, action, kind, object_id in rows:
            with found.write() as conn:
                audit.record(
                    conn, action=action, object_kind=kind, object_id=object_id, actor=actor
                )
            clock.advance(1)
    return found


def _list(store: Store, **filters: object) -> list[tuple[str, str, str]]:
    with store.read() as conn:
        rows = audit.recent(conn, **filters)  # type: ignore[arg-type]
    return [(r["actor"], r["action"], r["object_id"]) for r in rows]


def test_entries_come_newest_first_and_every_filter_narrows(store: Store) -> None:
    assert _list(store)[0] == ("ana", "alias.set", "churn")
    assert len(_list(store)) == 5
    assert _list(store, object_kind="model", object_id="churn") == [
        ("ana", "alias.set", "churn"),
        ("bo", "alias.set", "churn"),
        ("ana", "model.register", "churn"),
    ]
    assert _list(store, actor="bo") == [("bo", "run.delete", "r1"), ("bo", "alias.set", "churn")]
    assert _list(store, action="model.register", actor="ana") == [
        ("ana", "model.register", "fraud"),
        ("ana", "model.register", "churn"),
    ]
    assert _list(store, since=1_003_000) == [
        ("ana", "alias.set", "churn"),
        ("bo", "run.delete", "r1"),
    ]
    assert _list(store, actor="nobody") == []


def test_pages_walk_every_entry_once(store: Store) -> None:
    seen: list[int] = []
    before = None
    with store.read() as conn:
        while True:
            rows = audit.recent(conn, limit=2, before=before)
            seen += [row["id"] for row in rows]
            if len(rows) < 2:
                break
            before = rows[-1]["id"]
    assert len(seen) == 5
    assert seen == sorted(seen, reverse=True)


@pytest.mark.parametrize(
    "bad",
    [{"limit": 0}, {"limit": 10_001}, {"before": -1}, {"before": 2**63}, {"since": "1"},
     {"since": True}, {"before": 1.5}],
)  # fmt: skip
def test_bad_limits_and_cursors_are_refused(store: Store, bad: dict[str, object]) -> None:
    with store.read() as conn, pytest.raises(InvalidInputError):
        audit.recent(conn, **bad)  # type: ignore[arg-type]
