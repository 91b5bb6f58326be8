"""Fixtures shared by every test: an isolated environment and real databases.

- ``postgres_server`` (session): a throwaway PostgreSQL cluster on 127.0.0.1 and a free
  port, started from the binaries in ``/usr/lib/postgresql/*/bin`` (``make services``
  installs them), stopped and deleted at the end of the session.
- ``db_url``: a fresh, empty metadata database, once on SQLite and once on PostgreSQL
  (test ids ``[sqlite]`` and ``[postgres]``).
- ``settings``: :class:`loopml.config.Settings` pointing at ``db_url``.
- ``redis_server`` (session): a throwaway ``redis-server`` on 127.0.0.1 and a free port,
  in memory only (no RDB, no AOF); its URL is ``redis://127.0.0.1:<port>/0``.
- every test runs with no ``LOOPML_*`` variables but a private ``LOOPML_HOME``, in an empty
  working directory, and with every store closed afterwards.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import psycopg
import pytest
from hypothesis import settings as hypothesis_settings
from moto.server import ThreadedMotoServer
from psycopg import sql

from loopml._ids import new_id
from loopml.artifacts.s3 import S3BlobStore
from loopml.config import Settings
from loopml.pipelines._task import close_clients
from loopml.store import reset_stores
from loopml.tracking import fluent
from loopml.webhooks import stop_dispatchers

# Timing is for bench/, not tests: no per-example deadline, so a loaded CI machine cannot
# turn a correct property into a flaky failure. Failing examples are still replayed.
hypothesis_settings.register_profile("loopml", deadline=None, print_blob=True)
hypothesis_settings.load_profile("loopml")

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
PG_USER = "postgres"


@dataclass(frozen=True)
class PostgresServer:
    """A running PostgreSQL cluster that trusts local TCP connections as ``postgres``."""

    host: str
    port: int
    data_dir: Path
    log_file: Path

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://{PG_USER}@{self.host}:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """A plain autocommit psycopg connection (for CREATE/DROP DATABASE)."""
        return psycopg.connect(
            host=self.host, port=self.port, user=PG_USER, dbname=database, autocommit=True
        )


def _postgres_bin_dir() -> Path | None:
    """The newest PostgreSQL server binaries on this machine, if any."""
    found = [p for p in Path("/").glob(PG_BIN_GLOB.lstrip("/")) if (p / "initdb").is_file()]
    if found:
        return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    initdb = shutil.which("initdb")  # e.g. Homebrew, or a symlink into the real bin dir
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(argv: list[str]) -> list[str]:
    # initdb refuses to run as root, so root hands the cluster to the postgres user.
    if os.geteuid() == 0:
        return ["runuser", "-u", PG_USER, "--", *argv]
    return argv


def _run(argv: list[str], cwd: Path) -> None:
    result = subprocess.run(
        _as_server_user(argv),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited with {result.returncode}\n{result.stdout}\n{result.stderr}"
        )


def _server_log(log_file: Path) -> str:
    try:
        return log_file.read_text(errors="replace")
    except OSError:
        return "(no server log)"


def _make_private_dir() -> Path:
    # Not tmp_path_factory: its parent is private to the current user, and the server runs
    # as postgres.
    root = Path(tempfile.mkdtemp(prefix="loopml-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, user=PG_USER)
    return root


def _has_user(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start a throwaway PostgreSQL cluster for the whole session."""
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        pytest.fail(
            f"PostgreSQL server binaries not found (looked in {PG_BIN_GLOB} and on PATH); "
            "run `make services` to install them",
            pytrace=False,
        )
    if os.geteuid() == 0 and not _has_user(PG_USER):
        pytest.fail(
            f"running as root but there is no '{PG_USER}' user to run initdb as; "
            "run `make services` (Debian's postgresql package creates it)",
            pytrace=False,
        )
    root = _make_private_dir()
    data_dir, log_file = root / "data", root / "server.log"
    server: PostgresServer | None = None
    try:
        _run(
            [
                str(bin_dir / "initdb"),
                "-D", str(data_dir),
                "-A", "trust",
                "-U", PG_USER,
                "-E", "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            cwd=root,
        )  # fmt: skip
        server = _start(bin_dir, root, data_dir, log_file)
        yield server
    except RuntimeError as err:
        pytest.fail(
            f"could not start PostgreSQL: {err}\n--- server log ---\n{_server_log(log_file)}",
            pytrace=False,
        )
    finally:
        if server is not None:
            _stop(bin_dir, root, data_dir)
        shutil.rmtree(root, ignore_errors=True)


def _start(bin_dir: Path, root: Path, data_dir: Path, log_file: Path) -> PostgresServer:
    # A port can be taken between choosing and binding it; try a few.
    last_error: RuntimeError | None = None
    for _ in range(3):
        port = _free_port()
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c port={port}",
                f"-c unix_socket_directories={root}",
                "-c max_connections=200",
                # A throwaway cluster: durability only costs time.
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
            ]
        )
        try:
            _run(
                [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(log_file),
                 "-o", options, "-w", "-t", "60", "start"],
                cwd=root,
            )  # fmt: skip
        except RuntimeError as err:
            last_error = err
            continue
        return PostgresServer(host="127.0.0.1", port=port, data_dir=data_dir, log_file=log_file)
    assert last_error is not None
    raise last_error


def _stop(bin_dir: Path, root: Path, data_dir: Path) -> None:
    try:
        _run([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "stop"], root)
    except RuntimeError as err:
        print(f"warning: could not stop the test PostgreSQL server: {err}")


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty metadata database; the test runs once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/loopml.db"
        close_clients()
        stop_dispatchers()  # webhook threads hold store connections
        reset_stores()
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"loopml_test_{uuid.uuid4().hex[:16]}"
    with server.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield server.url(name)
    finally:
        close_clients()  # pipeline clients' journals flush into the database first
        stop_dispatchers()  # webhook threads hold store connections
        reset_stores()  # close pooled connections before dropping their database
        with server.connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings with a private home, over each database backend."""
    return Settings.load(home=tmp_path / "home", db_url=db_url)


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """No LOOPML_* settings or loopml.toml leak in from the machine; no store leaks out."""
    sandbox = tmp_path_factory.mktemp("env")
    for name in list(os.environ):
        if name.startswith("LOOPML_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LOOPML_HOME", str(sandbox / "home"))
    workdir = sandbox / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    yield
    close_clients()  # clients pipeline steps used in this process
    stop_dispatchers()
    fluent.reset()  # the default client's journal must close while its store is open
    reset_stores()


# -- S3: moto's server on loopback ----------------------------------------------------

_DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "loopml-test",
    "AWS_SECRET_ACCESS_KEY": "loopml-test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",  # never ask a cloud metadata service for creds
}


@dataclass(frozen=True)
class S3Server:
    """A running moto S3 server on loopback with one bucket."""

    endpoint_url: str
    bucket: str

    @property
    def storage_options(self) -> dict[str, Any]:
        """What an ``S3BlobStore`` needs to talk to this server."""
        return {
            "endpoint_url": self.endpoint_url,
            "key": _DUMMY_ENV["AWS_ACCESS_KEY_ID"],
            "secret": _DUMMY_ENV["AWS_SECRET_ACCESS_KEY"],
            "client_kwargs": {"region_name": _DUMMY_ENV["AWS_DEFAULT_REGION"]},
        }

    def store(self, prefix: str | None = None) -> S3BlobStore:
        """A new, empty store under a fresh prefix (or ``prefix``)."""
        return S3BlobStore(self.bucket, prefix or f"t-{new_id().lower()}", **self.storage_options)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server on 127.0.0.1 and a free port, with the bucket ``loopml-test``."""
    werkzeug_log = logging.getLogger("werkzeug")
    old_level = werkzeug_log.level
    werkzeug_log.setLevel(logging.ERROR)  # one access-log line per request otherwise
    with pytest.MonkeyPatch.context() as env:
        for name, value in _DUMMY_ENV.items():
            env.setenv(name, value)
        env.delenv("AWS_PROFILE", raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            s3 = S3Server(endpoint_url=f"http://{host}:{port}", bucket="loopml-test")
            client = boto3.client(
                "s3", endpoint_url=s3.endpoint_url, region_name=_DUMMY_ENV["AWS_DEFAULT_REGION"]
            )
            client.create_bucket(Bucket=s3.bucket)
            client.close()
            yield s3
        finally:
            server.stop()
            werkzeug_log.setLevel(old_level)


# -- Redis: a throwaway redis-server on loopback --------------------------------------


@dataclass(frozen=True)
class RedisServer:
    """A running ``redis-server`` that keeps everything in memory."""

    host: str
    port: int

    @property
    def url(self) -> str:
        """The URL of database 0, e.g. ``redis://127.0.0.1:6390/0``."""
        return f"redis://{self.host}:{self.port}/0"


def _redis_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _start_redis(binary: str, workdir: Path) -> tuple[subprocess.Popen[bytes], RedisServer]:
    # A port can be taken between choosing and binding it; try a few.
    log = workdir / "redis.log"
    for _ in range(3):
        port = _free_port()
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--dir", str(workdir),
                "--logfile", str(log)]  # fmt: skip
        proc = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            if _redis_answers("127.0.0.1", port):
                return proc, RedisServer("127.0.0.1", port)
            time.sleep(0.02)
        _stop_process(proc)
    pytest.fail(
        f"redis-server did not answer PING on 127.0.0.1\n--- log ---\n{_server_log(log)}",
        pytrace=False,
    )


def _stop_process(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """Start a throwaway redis-server for the whole session (never a skip: fail loudly)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server not found on PATH; run `make services` to install it",
            pytrace=False,
        )
    workdir = Path(tempfile.mkdtemp(prefix="loopml-redis-"))
    proc, server = _start_redis(binary, workdir)
    try:
        yield server
    finally:
        _stop_process(proc)
        shutil.rmtree(workdir, ignore_errors=True)
