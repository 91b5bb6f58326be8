"""Migrations: the migrated schema is the declared one, and opening is safe from many processes."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import loopml.store.migrations
from loopml.errors import InvalidInputError, StoreError
from loopml.store import Store, current_revision, open_store, reset_stores
from loopml.store.schema import SCHEMA_HEAD, metadata

if TYPE_CHECKING:
    from conftest import PostgresServer

MIGRATIONS = Path(loopml.store.migrations.__file__).parent


def alembic_config(conn: sa.Connection) -> Config:
    """An Alembic config that runs loopml's env.py on ``conn``, as loopml itself does."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def schema_diff(store: Store) -> list[object]:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_migrated_schema_equals_the_declared_metadata(db_url: str) -> None:
    assert schema_diff(open_store(db_url)) == []


def test_schema_head_is_the_single_head_of_the_scripts() -> None:
    scripts = ScriptDirectory(str(MIGRATIONS))

    assert scripts.get_heads() == [SCHEMA_HEAD]


def test_every_revision_file_is_named_after_its_revision() -> None:
    scripts = ScriptDirectory(str(MIGRATIONS))

    for revision in scripts.walk_revisions():
        assert revision.path is not None
        assert Path(revision.path).stem == revision.revision


def test_downgrade_to_base_and_upgrade_again(db_url: str) -> None:
    store = open_store(db_url)
    with store.engine.connect() as conn:
        command.downgrade(alembic_config(conn), "base")
        conn.commit()
    assert set(sa.inspect(store.engine).get_table_names()) <= {"alembic_version"}
    assert current_revision(store) is None

    with store.engine.connect() as conn:
        command.upgrade(alembic_config(conn), "head")
        conn.commit()

    assert current_revision(store) == SCHEMA_HEAD
    assert schema_diff(store) == []


# Each process says it is ready, waits for the signal, then opens the store: so all of them
# race on the same fresh database at the same moment.
_OPENER = """
import pathlib, sys, time
ready, go, url = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
from loopml.store import current_revision, open_store
ready.touch()
while not go.exists():
    time.sleep(0.002)
print(current_revision(open_store(url)))
"""


@pytest.mark.slow
def test_many_processes_opening_a_fresh_database_migrate_it_once(
    db_url: str, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, str(tmp_path / f"ready-{i}"), str(go), db_url],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready-*"))) < len(procs) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()

    outcomes = [(proc.wait(timeout=180), *proc.communicate()) for proc in procs]

    for returncode, stdout, stderr in outcomes:
        assert returncode == 0, stderr
        assert stdout.strip() == SCHEMA_HEAD
        assert "locked" not in stderr
    store = open_store(db_url)
    with store.read() as conn:
        versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    assert [v for (v,) in versions] == [SCHEMA_HEAD]
    assert schema_diff(store) == []


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("notadb://x", "sqlite:///"),
        ("sqlit:///loopml.db", "sqlite:///"),
        ("mysql://u@h/db", "postgresql+psycopg://"),
        ("", "sqlite:///"),
        ("not a url", "sqlite:///"),
        ("loopml.db", "sqlite:///"),
    ],
)
def test_a_bad_url_is_invalid_input_with_the_forms_to_use(url: str, hint: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        open_store(url)

    assert hint in str(caught.value)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_postgres_is_a_store_error() -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/loopml?connect_timeout=5"

    with pytest.raises(StoreError, match="LOOPML_DB_URL") as caught:
        open_store(url)

    assert isinstance(caught.value.__cause__, sa.exc.OperationalError)
    assert "127.0.0.1" in str(caught.value)


@pytest.mark.parametrize(
    "url_part",
    ["postgres@{host}:{port}/no_such_db", "nobody@{host}:{port}/postgres"],
    ids=["missing-database", "missing-role"],
)
def test_a_missing_postgres_database_or_role_is_a_store_error(
    postgres_server: PostgresServer, url_part: str
) -> None:
    where = url_part.format(host=postgres_server.host, port=postgres_server.port)

    with pytest.raises(StoreError, match="does not exist"):
        open_store(f"postgresql+psycopg://{where}")


def test_a_database_from_a_newer_loopml_is_a_store_error(db_url: str) -> None:
    with open_store(db_url).write() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    reset_stores()

    with pytest.raises(StoreError, match="9999_future"):
        open_store(db_url)


def test_a_postgresql_url_without_driver_uses_psycopg(postgres_server: PostgresServer) -> None:
    with postgres_server.connect() as admin:
        admin.execute("CREATE DATABASE plain_driver_url")
    url = postgres_server.url("plain_driver_url").replace("postgresql+psycopg://", "postgresql://")
    store = open_store(url)
    assert store.engine.url.drivername == "postgresql+psycopg"
    assert current_revision(store) == SCHEMA_HEAD


def test_0006_keeps_the_evaluations_stored_before_it(db_url: str) -> None:
    from loopml.registry import _evaluations

    store = open_store(db_url)
    with store.engine.connect() as conn:
        command.downgrade(alembic_config(conn), "0005_experiment_tags")
        conn.commit()
        conn.execute(
            sa.text(
                "INSERT INTO model_evaluations (id, model_uri, data, target, task, metrics, "
                "slices, gates, created_at) VALUES ('e1', 'runs:/r/model', 'd', 't', "
                "'classification', '{\"f1\": 0.9}', '{}', '[]', 1)"
            )
        )
        conn.commit()
        command.upgrade(alembic_config(conn), "head")
        conn.commit()

    assert schema_diff(store) == []
    with store.read() as conn:
        old = _evaluations.get(conn, "e1")
    assert old["metrics"] == {"f1": 0.9}
    assert (old["notes"], old["figures"]) == ([], {})
