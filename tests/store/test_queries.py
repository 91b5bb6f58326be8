"""The store's read services: a lineage walk and the schema status (behind `loopml lineage|db`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from loopml.errors import InvalidInputError
from loopml.store import SchemaStatus, Store, open_store, schema_status, upgrade
from loopml.store.lineage import add_edges, walk
from loopml.store.schema import SCHEMA_HEAD

if TYPE_CHECKING:
    from conftest import PostgresServer


@pytest.fixture
def store(db_url: str) -> Store:
    """A diamond: run R consumed data D and produced model M, which run E consumed."""
    found = open_store(db_url)
    found.transact(
        lambda conn: add_edges(
            conn,
            [
                (("run", "R"), "consumed", ("dataset_version", "iris/1"), None),
                (("run", "R"), "produced", ("model_version", "m/1"), None),
                (("run", "E"), "consumed", ("model_version", "m/1"), None),
                (("run", "E"), "consumed", ("dataset_version", "iris/1"), None),
            ],
        )
    )
    return found


def test_walk_down_follows_what_used_a_node_and_marks_repeats(store: Store) -> None:
    down = walk(store, ("dataset_version", "iris/1"), up=False, depth=5)
    assert [e.to_dict() for e in down] == [
        {
            "kind": "run",
            "id": "R",
            "edge": "consumed by",
            "children": [
                {
                    "kind": "model_version",
                    "id": "m/1",
                    "edge": "produced",
                    "children": [
                        {
                            "kind": "run",
                            "id": "E",
                            "edge": "consumed by",
                            "children": [],
                            "seen": True,
                        },
                    ],
                }
            ],
        },
        {"kind": "run", "id": "E", "edge": "consumed by", "children": []},
    ]


def test_walk_up_stops_at_the_depth_and_says_there_is_more(store: Store) -> None:
    (model,) = [e for e in walk(store, ("run", "E"), up=True, depth=1) if e.kind == "model_version"]
    assert (model.edge, model.children, model.more) == ("consumed", [], True)
    deeper = walk(store, ("run", "E"), up=True, depth=2)
    assert [c.node for e in deeper for c in e.children] == [("run", "R")]
    assert walk(store, ("run", "nobody"), up=True, depth=3) == []
    with pytest.raises(InvalidInputError, match="depth must be an integer >= 1"):
        walk(store, ("run", "E"), up=True, depth=0)


def test_schema_status_of_an_empty_then_migrated_database(db_url: str) -> None:
    fresh = open_store(db_url, migrate=False)
    before = schema_status(fresh)
    assert (before.revision, before.head, before.up_to_date) == (None, SCHEMA_HEAD, False)
    assert (before.location is None) == (not fresh.is_sqlite)
    upgrade(fresh)
    assert schema_status(fresh) == SchemaStatus(
        before.url, before.location, SCHEMA_HEAD, SCHEMA_HEAD
    )


def test_schema_status_never_shows_the_password(postgres_server: PostgresServer) -> None:
    # The test cluster trusts local connections, so any password is accepted.
    url = postgres_server.url().replace("postgres@", "postgres:s3cret@")
    status = schema_status(open_store(url, migrate=False))
    assert "s3cret" not in status.url
    assert "postgres:***@" in status.url
    assert status.location is None
