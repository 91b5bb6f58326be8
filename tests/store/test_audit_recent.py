"""Reading the audit log back newest first, narrowed and paged (the web UI's audit page)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection

from loopml.config import Settings
from loopml.store import audit, open_store


def test_recent_rows_are_newest_first_narrowed_and_paged(tmp_path: Path) -> None:
    store = open_store(Settings.load(home=tmp_path / "home").db_url)

    def write(conn: Connection) -> None:
        for i in range(5):
            audit.record(
                conn,
                action="thing.made",
                object_kind="thing",
                object_id=str(i),
                actor="ana" if i % 2 == 0 else "bo",
            )

    store.transact(write)
    with store.read() as conn:
        everything = audit.recent(conn, object_kind="thing")
        assert [r["object_id"] for r in everything] == ["4", "3", "2", "1", "0"]
        anas = audit.recent(conn, actor="ana", object_kind="thing", limit=2)
        assert [r["object_id"] for r in anas] == ["4", "2"]
        older = audit.recent(conn, actor="ana", object_kind="thing", before=anas[-1]["id"])
        assert [r["object_id"] for r in older] == ["0"]
        assert audit.recent(conn, object_kind="thing", object_id="3")[0]["actor"] == "bo"
        assert audit.recent(conn, action="nothing.done") == []
