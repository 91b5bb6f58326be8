"""Remote mode's artifact files: large ones go in chunks that resume across dropped
connections and a restarted server, or straight to S3 through presigned URLs, with a way
back through the server when this machine cannot reach the store."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loopml._ids import new_id
from loopml._transfer import put_file
from loopml.config import Settings
from loopml.errors import InvalidInputError, NotFoundError, UnsafePathError
from loopml.server import ServerConfig
from loopml.tracking import TrackingClient
from loopml.tracking.remote import RemoteTrackingClient

from ._support import LiveServer

MIB = 1024 * 1024


class CuttableProxy:
    """A TCP relay to a server on 127.0.0.1 that counts what it forwards and can drop
    every connection (and refuse new ones) once the uploads pass ``cut_after`` bytes."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.up = self.down = 0  # bytes to and from the server
        self.cut_after: int | None = None
        self.cut_after_down: int | None = None
        self.was_cut = threading.Event()
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def restore(self) -> None:
        self.cut_after = self.cut_after_down = None
        self._open.set()

    def close(self) -> None:
        self.listener.close()
        self._drop()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self._open.is_set():
                client.close()  # the "server" is down
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, upward: bool) -> None:
        try:
            while data := source.recv(256 * 1024):
                with self._lock:
                    if upward:
                        self.up += len(data)
                    else:
                        self.down += len(data)
                    cut = (self.cut_after is not None and self.up >= self.cut_after) or (
                        self.cut_after_down is not None and self.down >= self.cut_after_down
                    )
                if cut:
                    self._open.clear()
                    self.was_cut.set()
                    self._drop()
                    return
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.close()

    def _drop(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@pytest.fixture
def store_settings(tmp_path: Path) -> Settings:
    return Settings.load(home=tmp_path / "server-home")


@pytest.fixture
def s3_settings(tmp_path: Path, s3_server: Any, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A server store whose artifacts are in moto's S3."""
    monkeypatch.setenv("LOOPML_S3_ENDPOINT_URL", s3_server.endpoint_url)
    bucket = s3_server.bucket
    return Settings.load(
        home=tmp_path / "server-home", artifacts_url=f"s3://{bucket}/t-{new_id().lower()}"
    )


@pytest.fixture
def relayed(store_settings: Settings) -> Iterator[tuple[LiveServer, CuttableProxy]]:
    yield from _relayed(store_settings)


def _relayed(settings: Settings) -> Iterator[tuple[LiveServer, CuttableProxy]]:
    server = LiveServer(settings, ServerConfig(auth="none", max_body_bytes=5 * MIB)).start()
    proxy = CuttableProxy(server.port)
    try:
        yield server, proxy
    finally:
        proxy.close()
        server.stop()


def _client(tmp_path: Path, url: str, **options: object) -> RemoteTrackingClient:
    settings = Settings.load(home=tmp_path / "client-home", tracking_uri=url)
    return RemoteTrackingClient(settings, resume_wait_s=30, **options)  # type: ignore[arg-type]


def _big_file(path: Path, size: int) -> bytes:
    content = os.urandom(size)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return content


def test_a_large_upload_resumes_after_a_dropped_connection_and_a_server_restart(
    tmp_path: Path, store_settings: Settings, relayed: tuple[LiveServer, CuttableProxy]
) -> None:
    server, proxy = relayed
    content = _big_file(tmp_path / "data" / "weights.bin", 20 * MIB)
    client = _client(tmp_path, proxy.url, chunk_bytes=4 * MIB, direct=False)
    run_id = client.create_run("big").id
    proxy.cut_after = 10 * MIB  # in the middle of the third chunk
    done: list[object] = []
    upload = threading.Thread(
        target=lambda: done.append(
            client.log_artifact(run_id, tmp_path / "data" / "weights.bin", "model")
        )
    )
    upload.start()
    assert proxy.was_cut.wait(30), "the upload never passed 10 MiB"
    server.stop()  # the staged chunks are on the server's disk; they outlive it
    server.start()
    proxy.restore()
    upload.join(60)
    assert done == ["model/weights.bin"]
    client.close()

    stored = TrackingClient(store_settings, capture_env=False)
    assert stored.run_artifacts.read_bytes(run_id, "model/weights.bin") == content
    stored.close()
    assert 20 * MIB <= proxy.up < 20 * MIB + 2 * 4 * MIB  # resumed: at most a chunk sent twice
    staging = store_settings.home / "cache" / "uploads"
    assert not [p for p in staging.iterdir() if p.is_dir()]  # completed uploads are gone


def test_a_download_resumes_from_what_an_earlier_attempt_kept(
    tmp_path: Path, store_settings: Settings, relayed: tuple[LiveServer, CuttableProxy]
) -> None:
    _, proxy = relayed
    content = _big_file(tmp_path / "data" / "w.bin", 6 * MIB)
    client = _client(tmp_path, proxy.url, chunk_bytes=MIB)
    run_id = client.create_run("big").id
    client.log_artifact(run_id, tmp_path / "data" / "w.bin", "model")
    (tmp_path / "data" / "notes.txt").write_text("hi")
    client.log_artifact(run_id, tmp_path / "data" / "notes.txt", "model")

    target = tmp_path / "out" / "w.bin"
    target.parent.mkdir()
    (target.parent / "w.bin.part").write_bytes(content[: 4 * MIB])  # an attempt cut short
    before = proxy.down
    assert client.download_artifacts(run_id, "model/w.bin", target) == target
    assert target.read_bytes() == content
    assert proxy.down - before < 3 * MIB  # only what was missing came down
    assert not (target.parent / "w.bin.part").exists()

    folder = client.download_artifacts(run_id, "model", tmp_path / "all")
    assert folder == tmp_path / "all" / "model"
    assert (folder / "w.bin").read_bytes() == content
    assert (folder / "notes.txt").read_text() == "hi"
    assert [e.path for e in client.list_artifacts(run_id, "model")] == [
        "model/notes.txt",
        "model/w.bin",
    ]
    client.close()


def test_a_download_cut_off_midway_resumes_when_the_server_answers_again(
    tmp_path: Path, relayed: tuple[LiveServer, CuttableProxy]
) -> None:
    _, proxy = relayed
    content = _big_file(tmp_path / "data" / "w.bin", 8 * MIB)
    client = _client(tmp_path, proxy.url, chunk_bytes=MIB)
    run_id = client.create_run("big").id
    client.log_artifact(run_id, tmp_path / "data" / "w.bin")
    start = proxy.down
    proxy.cut_after_down = start + 3 * MIB
    got: list[Path] = []
    fetch = threading.Thread(
        target=lambda: got.append(client.download_artifacts(run_id, "w.bin", tmp_path / "w.bin"))
    )
    fetch.start()
    assert proxy.was_cut.wait(30), "the download never passed 3 MiB"
    proxy.restore()
    fetch.join(60)
    assert got == [tmp_path / "w.bin"]
    assert got[0].read_bytes() == content
    assert proxy.down - start < 8 * MIB + 2 * MIB  # the rest, not the whole file again
    client.close()


def test_the_remote_client_refuses_links_and_bad_chunk_sizes(
    tmp_path: Path, relayed: tuple[LiveServer, CuttableProxy]
) -> None:
    _, proxy = relayed
    client = _client(tmp_path, proxy.url)
    run_id = client.create_run("a").id
    (tmp_path / "real.txt").write_text("x")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    with pytest.raises(UnsafePathError, match="symlink"):
        client.log_artifact(run_id, tmp_path / "link.txt")
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "link.txt").symlink_to(tmp_path / "real.txt")
    with pytest.raises(UnsafePathError, match="symlink"):
        client.log_artifacts(run_id, tmp_path / "tree")
    assert client.list_artifacts(run_id) == []  # refused before anything was sent
    with pytest.raises(NotFoundError):
        client.download_artifacts(run_id, "missing.bin", tmp_path)
    client.close()
    with pytest.raises(InvalidInputError, match="chunk"):
        _client(tmp_path, proxy.url, chunk_bytes=-1)


def test_large_files_go_straight_to_s3_and_come_back_from_it(
    tmp_path: Path, s3_settings: Settings
) -> None:
    for _, proxy in _relayed(s3_settings):
        content = _big_file(tmp_path / "data" / "w.bin", 3 * MIB)
        client = _client(tmp_path, proxy.url, chunk_bytes=MIB)
        run_id = client.create_run("s3").id
        assert client.log_artifact(run_id, tmp_path / "data" / "w.bin", "model") == "model/w.bin"
        assert proxy.up < MIB  # the bytes went to the store, not through the server
        assert client.run_artifacts.direct is True

        stored = TrackingClient(s3_settings, capture_env=False)
        assert stored.run_artifacts.read_bytes(run_id, "model/w.bin") == content
        stored.close()
        before = proxy.down
        got = client.download_artifacts(run_id, "model/w.bin", tmp_path / "back.bin")
        assert got.read_bytes() == content
        assert proxy.down - before < MIB
        client.close()


def test_a_client_that_cannot_reach_the_store_goes_through_the_server(
    tmp_path: Path, s3_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("LOOPML_S3_PRESIGN_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    for _, proxy in _relayed(s3_settings):
        content = _big_file(tmp_path / "data" / "w.bin", 3 * MIB)
        client = _client(tmp_path, proxy.url, chunk_bytes=MIB)
        run_id = client.create_run("s3").id
        client.log_artifact(run_id, tmp_path / "data" / "w.bin", "model")
        assert client.run_artifacts.direct is False
        assert proxy.up > 3 * MIB
        got = client.download_artifacts(run_id, "model/w.bin", tmp_path / "back.bin")
        assert got.read_bytes() == content
        client.close()


def test_direct_mode_can_be_turned_off(
    tmp_path: Path, s3_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOPML_ARTIFACTS_DIRECT", "0")
    for _, proxy in _relayed(s3_settings):
        _big_file(tmp_path / "data" / "w.bin", 2 * MIB)
        client = _client(tmp_path, proxy.url, chunk_bytes=MIB)
        assert client.run_artifacts.direct is False
        client.log_artifact(client.create_run("s3").id, tmp_path / "data" / "w.bin")
        assert proxy.up > 2 * MIB
        client.close()


def test_a_direct_upload_whose_bytes_are_not_the_sha256_commits_nothing(
    tmp_path: Path, s3_settings: Settings
) -> None:
    for server, _ in _relayed(s3_settings):
        client = _client(tmp_path, server.url)
        run_id = client.create_run("s3").id
        http = client.http
        promised = hashlib.sha256(b"the real weights").hexdigest()
        grant = http.request(
            "POST",
            f"/api/v1/runs/{run_id}/artifacts/presign",
            {"path": "w.bin", "method": "PUT", "sha256": promised},
        )
        (tmp_path / "evil.bin").write_bytes(b"something else")
        put_file(grant["url"], tmp_path / "evil.bin", grant["headers"])  # moto skips checksums
        complete = f"/api/v1/runs/{run_id}/artifact-uploads/{grant['upload_id']}/complete"
        with pytest.raises(InvalidInputError, match="nothing was stored"):
            http.request("POST", complete, {"sha256": promised})
        assert client.list_artifacts(run_id) == []
        stored = TrackingClient(s3_settings, capture_env=False)
        assert not stored.run_artifacts.artifact_store.exists(promised)
        assert not stored.run_artifacts.artifact_store.exists(
            hashlib.sha256(b"something else").hexdigest()
        )
        stored.close()
        with pytest.raises(InvalidInputError):
            http.request(
                "POST",
                f"/api/v1/runs/{run_id}/artifacts/presign",
                {"path": "../x", "method": "PUT", "sha256": promised},
            )
        client.close()
