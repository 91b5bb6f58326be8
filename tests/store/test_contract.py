"""The metadata store's contract, run once on SQLite and once on PostgreSQL.

Each test gets a fresh, empty database from the ``db_url`` fixture (tests/conftest.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection, event, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from loopml._ids import new_id
from loopml.errors import InvalidInputError, StoreError
from loopml.store import Store, audit, current_revision, lineage, open_store, reset_stores, upgrade
from loopml.store.schema import (
    SCHEMA_HEAD,
    environments,
    experiments,
    journal_checkpoints,
    metadata,
    metrics,
    params,
    runs,
)

if TYPE_CHECKING:
    from conftest import PostgresServer

NOW_MS = 1_763_750_000_000


@pytest.fixture
def store(db_url: str) -> Store:
    return open_store(db_url)


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine sends while the test runs."""
    sent: list[str] = []

    def remember(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(sa.Engine, "before_cursor_execute", remember)
    yield sent
    event.remove(sa.Engine, "before_cursor_execute", remember)


def add_experiment(conn: Connection, name: str = "churn") -> str:
    experiment_id = new_id()
    conn.execute(experiments.insert().values(id=experiment_id, name=name, created_at=NOW_MS))
    return experiment_id


def add_run(conn: Connection, experiment_id: str, **values: Any) -> str:
    run_id = new_id()
    row = {"name": "r", "status": "RUNNING", "start_time": NOW_MS} | values
    conn.execute(runs.insert().values(id=run_id, experiment_id=experiment_id, **row))
    return run_id


def is_change(statement: str) -> bool:
    verbs = ("CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE")
    return statement.lstrip().upper().startswith(verbs)


def count(store: Store, table: sa.Table) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


# --- opening and migrating -----------------------------------------------------------------


def test_open_store_migrates_a_fresh_database_to_head(store: Store) -> None:
    assert current_revision(store) == SCHEMA_HEAD
    tables = set(sa.inspect(store.engine).get_table_names())
    assert tables == set(metadata.tables) | {"alembic_version"}


def test_open_store_returns_one_store_per_url(db_url: str) -> None:
    assert open_store(db_url) is open_store(db_url)


def test_reopening_a_migrated_database_does_not_migrate_again(
    db_url: str, statements: list[str]
) -> None:
    with open_store(db_url).write() as conn:
        add_experiment(conn)
    reset_stores()
    statements.clear()

    store = open_store(db_url)

    assert [s for s in statements if is_change(s)] == []
    assert any("alembic_version" in s for s in statements)
    assert count(store, experiments) == 1


def test_upgrade_at_head_is_a_no_op(store: Store, statements: list[str]) -> None:
    statements.clear()

    assert upgrade(store) == SCHEMA_HEAD

    assert [s for s in statements if is_change(s)] == []


def test_open_store_without_migrate_leaves_the_database_empty(db_url: str) -> None:
    store = open_store(db_url, migrate=False)

    assert current_revision(store) is None
    assert sa.inspect(store.engine).get_table_names() == []


# --- transactions ---------------------------------------------------------------------------


def test_write_commits_when_the_block_ends(store: Store) -> None:
    with store.write() as conn:
        add_experiment(conn)

    assert count(store, experiments) == 1


def write_then_fail(store: Store, change: Callable[[Connection], object]) -> None:
    with store.write() as conn:
        change(conn)
        raise RuntimeError("boom")


def test_write_rolls_back_and_reraises_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail(store, add_experiment)

    assert count(store, experiments) == 0


def test_read_sees_only_committed_rows(store: Store) -> None:
    with store.write() as conn:
        add_experiment(conn, "a")
        with store.read() as reader:
            # SQLite's WAL and PostgreSQL's read committed both hide the open transaction.
            seen = reader.execute(select(func.count()).select_from(experiments)).scalar_one()
    assert seen == 0
    assert count(store, experiments) == 1


def test_transact_returns_the_result_and_commits(store: Store) -> None:
    experiment_id = store.transact(add_experiment)

    with store.read() as conn:
        assert conn.execute(select(experiments.c.id)).scalar_one() == experiment_id


def test_transact_rolls_back_and_reraises_other_errors(store: Store) -> None:
    calls = 0

    def work(conn: Connection) -> None:
        nonlocal calls
        calls += 1
        add_experiment(conn)
        raise KeyError("not a database error")

    with pytest.raises(KeyError):
        store.transact(work)

    assert calls == 1
    assert count(store, experiments) == 0


def _busy_error(message: str) -> OperationalError:
    """What SQLAlchemy raises when the driver reports ``message`` (driver error kept inside)."""
    return OperationalError("INSERT ...", {}, Exception(message))


def test_transact_retries_the_whole_work_while_the_database_is_busy(store: Store) -> None:
    attempts: list[str] = []

    def work(conn: Connection) -> str:
        attempts.append(add_experiment(conn, f"e{len(attempts)}"))
        if len(attempts) < 3:
            raise _busy_error("database is locked")
        return attempts[-1]

    result = store.transact(work)

    assert len(attempts) == 3
    with store.read() as conn:
        assert conn.execute(select(experiments.c.id)).scalars().all() == [result]


def test_transact_does_not_retry_a_real_failure(store: Store) -> None:
    calls = 0

    def work(conn: Connection) -> None:
        nonlocal calls
        calls += 1
        raise _busy_error("disk I/O error")

    with pytest.raises(StoreError, match="disk I/O error") as caught:
        store.transact(work)

    assert calls == 1
    assert isinstance(caught.value.__cause__, OperationalError)


def test_transact_serialises_concurrent_writers(store: Store) -> None:
    store.transact(
        lambda c: c.execute(journal_checkpoints.insert().values(journal_id="j", last_seq=0))
    )
    column = journal_checkpoints.c.last_seq
    bump = journal_checkpoints.update().values(last_seq=column + 1)

    def writer() -> None:
        for _ in range(25):
            store.transact(lambda c: c.execute(bump))

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with store.read() as conn:
        assert conn.execute(select(column)).scalar_one() == 100


def test_transact_retries_a_postgres_deadlock(postgres_server: PostgresServer) -> None:
    # PostgreSQL only: SQLite writers queue on BEGIN IMMEDIATE and cannot deadlock.
    name = f"deadlock_{new_id().lower()}"  # the cluster is thrown away after the session
    with postgres_server.connect() as admin:
        admin.execute(f"CREATE DATABASE {name}")
    store = open_store(postgres_server.url(name))
    store.transact(
        lambda c: c.execute(
            journal_checkpoints.insert(),
            [{"journal_id": "a", "last_seq": 0}, {"journal_id": "b", "last_seq": 0}],
        )
    )
    both_hold_one = threading.Barrier(2, timeout=30)
    attempts: list[str] = []

    def bump(first: str, second: str) -> None:
        def work(conn: Connection) -> None:
            attempts.append(first)
            touch(conn, first)
            if attempts.count(first) == 1:
                both_hold_one.wait()
            touch(conn, second)

        store.transact(work)

    def touch(conn: Connection, journal_id: str) -> None:
        conn.execute(
            journal_checkpoints.update()
            .where(journal_checkpoints.c.journal_id == journal_id)
            .values(last_seq=journal_checkpoints.c.last_seq + 1)
        )

    threads = [threading.Thread(target=bump, args=pair) for pair in (("a", "b"), ("b", "a"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(attempts) == 3  # PostgreSQL aborted one of the two, and it ran again
    with store.read() as conn:
        assert conn.execute(select(journal_checkpoints.c.last_seq)).scalars().all() == [2, 2]


# --- audit log and lineage ------------------------------------------------------------------


def test_audit_history_lists_one_objects_rows_oldest_first(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOPML_USER", "ada")
    before = int(time.time() * 1000)
    with store.write() as conn:
        audit.record(conn, action="model.register", object_kind="model", object_id="churn")
        audit.record(
            conn,
            action="alias.set",
            object_kind="model",
            object_id="churn",
            reason="beat the champion",
            details={"alias": "production", "version": 3},
            actor="ci-bot",
        )
        audit.record(conn, action="model.register", object_kind="model", object_id="other")

    with store.read() as conn:
        rows = audit.history(conn, "model", "churn")

    assert [r["action"] for r in rows] == ["model.register", "alias.set"]
    assert [r["actor"] for r in rows] == ["ada", "ci-bot"]
    assert rows[1]["reason"] == "beat the champion"
    assert rows[1]["details"] == {"alias": "production", "version": 3}
    assert rows[0]["details"] is None
    assert all(before <= r["at"] <= int(time.time() * 1000) for r in rows)


def test_audit_rows_roll_back_with_the_change(store: Store) -> None:
    def change(conn: Connection) -> None:
        audit.record(conn, action="run.delete", object_kind="run", object_id="r1")

    with pytest.raises(RuntimeError):
        write_then_fail(store, change)

    with store.read() as conn:
        assert audit.history(conn, "run", "r1") == []


def test_lineage_edges_are_found_from_both_ends(store: Store) -> None:
    run, model, data = ("run", "R1"), ("model_version", "churn/3"), ("dataset_version", "iris/7")
    with store.write() as conn:
        lineage.add_edge(conn, run, "consumed", data)
        lineage.add_edge(conn, run, "produced", model, {"path": "model"})

    with store.read() as conn:
        out = lineage.edges_of(conn, run, "out")
        into_model = lineage.edges_of(conn, model, "in")
        from_model = lineage.edges_of(conn, model, "out")
        around_run = lineage.edges_of(conn, run)

    assert [(e["edge"], e["dst_kind"], e["dst_id"]) for e in out] == [
        ("consumed", "dataset_version", "iris/7"),
        ("produced", "model_version", "churn/3"),
    ]
    assert [(e["src_kind"], e["src_id"], e["attributes"]) for e in into_model] == [
        ("run", "R1", {"path": "model"})
    ]
    assert from_model == []
    assert around_run == out


def test_unknown_lineage_edge_is_invalid_input_and_writes_nothing(store: Store) -> None:
    def change(conn: Connection) -> None:
        lineage.add_edge(conn, ("run", "R1"), "made", ("model_version", "m/1"))

    with pytest.raises(InvalidInputError, match="unknown lineage edge 'made'") as caught:
        store.transact(change)

    assert "produced" in str(caught.value)  # the message lists the known edges
    with store.read() as conn:
        assert lineage.edges_of(conn, ("run", "R1")) == []


# --- column types and constraints -----------------------------------------------------------

JSON_BODY: dict[str, Any] = {
    "python": "3.11.7",
    "packages": {"numpy": "2.1.0", "scikit-learn": "1.5"},
    "flags": [True, False, None],
    "numbers": [0, -1, 2**53, 0.1, 1e-300, 1.7976931348623157e308],
    "text": 'naïve café ✓ 模型 "quoted" \\ back\nslash',
    "empty": {"list": [], "dict": {}, "string": ""},
}


def test_json_columns_round_trip(store: Store) -> None:
    with store.write() as conn:
        conn.execute(environments.insert().values(digest="d" * 64, body=JSON_BODY))

    with store.read() as conn:
        assert conn.execute(select(environments.c.body)).scalar_one() == JSON_BODY


def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(IntegrityError), store.write() as conn:
        add_run(conn, experiment_id="no-such-experiment")

    assert count(store, runs) == 0


def test_deleting_a_run_cascades_to_its_params(store: Store) -> None:
    with store.write() as conn:
        run_id = add_run(conn, add_experiment(conn))
        conn.execute(params.insert(), [{"run_id": run_id, "key": k, "value": "1"} for k in "ab"])

    with store.write() as conn:
        conn.execute(runs.delete().where(runs.c.id == run_id))

    assert count(store, params) == 0


def test_unique_names_are_enforced(store: Store) -> None:
    store.transact(lambda c: add_experiment(c, "churn"))

    with pytest.raises(IntegrityError):
        store.transact(lambda c: add_experiment(c, "churn"))


@pytest.mark.parametrize(
    "ms",
    [0, NOW_MS, 2**31 + 1, 2**53 + 1, 253_402_300_799_999, 2**63 - 1],  # ... year 9999, max
)
def test_bigint_millisecond_times_round_trip(store: Store, ms: int) -> None:
    with store.write() as conn:
        run_id = add_run(conn, add_experiment(conn), start_time=ms, end_time=ms)

    with store.read() as conn:
        row = conn.execute(select(runs).where(runs.c.id == run_id)).one()
    assert (row.start_time, row.end_time) == (ms, ms)
    assert isinstance(row.start_time, int)


def test_metric_values_keep_double_precision(store: Store) -> None:
    values = [0.1 + 0.2, 1e-310, -1.7976931348623157e308, 123456789.123456789]
    with store.write() as conn:
        conn.execute(
            metrics.insert(),
            [
                {
                    "run_id": "r",
                    "key": "loss",
                    "value": v,
                    "is_nan": False,
                    "step": i,
                    "timestamp": NOW_MS,
                }
                for i, v in enumerate(values)
            ],
        )

    with store.read() as conn:
        stored = conn.execute(select(metrics.c.value).order_by(metrics.c.step)).scalars().all()
    assert stored == values


def test_store_reconnects_after_dispose(store: Store) -> None:
    with store.read() as conn:
        conn.execute(text("SELECT 1"))
    store.dispose()

    assert current_revision(store) == SCHEMA_HEAD  # the pool reconnects after a dispose


def test_add_edge_once_records_an_edge_a_single_time(store: Store) -> None:
    src, dst = ("run", "r1"), ("dataset_version", "d/1")

    def link(conn: Connection) -> bool:
        return lineage.add_edge_once(conn, src, "consumed", dst, {"uri": "datasets:/d/1"})

    assert store.transact(link) is True
    assert store.transact(link) is False
    with store.read() as conn:
        assert [e["dst_id"] for e in lineage.edges_of(conn, src)] == ["d/1"]
