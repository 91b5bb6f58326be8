"""Dataset versions logged and read over REST (what remote clients use): the same content
makes the same version as a local log; archives that would escape or link are refused."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loopml.config import Settings
from loopml.data import DatasetClient
from loopml.server import ServerConfig
from loopml.tracking import TrackingClient

from ._support import Server, make_server

V1 = "/api/v1"
FRAME = pd.DataFrame({"x": [1, 2, 3], "kind": ["a", "b", "a"]})


@pytest.fixture
def big_server(server_settings: Settings) -> Iterator[Server]:
    yield from make_server(server_settings, ServerConfig(auth="tokens", max_body_bytes=4096))


def _parquet(frame: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return sink.getvalue()


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    sink = io.BytesIO()
    with tarfile.open(fileobj=sink, mode="w") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return sink.getvalue()


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _error(reply: Any, status: int) -> str:
    assert reply.status_code == status, reply.text
    return str(reply.json()["error"]["message"])


def test_an_uploaded_table_is_the_version_a_local_log_makes(
    big_server: Server, server_settings: Settings
) -> None:
    editor = big_server.user("ed", "editor")
    local = DatasetClient(server_settings).log("iris", FRAME)
    body = _parquet(FRAME)  # 4096-byte body limit: uploads stream past it
    made = big_server.client.post(
        f"{V1}/datasets/iris/versions",
        params={"format": "parquet", "source": "/laptop/iris.parquet"},
        content=body,
        headers=editor,
    )
    assert made.status_code == 201, made.text
    assert (made.json()["version"], made.json()["digest"]) == (1, local.digest)
    changed = big_server.client.post(
        f"{V1}/datasets/iris/versions",
        params={"format": "parquet", "source": "/laptop/iris.parquet"},
        content=_parquet(pd.concat([FRAME, FRAME.head(1)])),
        headers=editor,
    ).json()
    assert (changed["version"], changed["row_count"], changed["source"]) == (
        2,
        4,
        "/laptop/iris.parquet",
    )
    csv = big_server.client.post(
        f"{V1}/datasets/plain/versions",
        params={"format": "csv", "filename": "plain.csv"},
        content=b"a,b\n1,x\n2,y\n",
        headers=editor,
    ).json()
    assert (csv["kind"], csv["format"], csv["row_count"]) == ("table", "csv", 2)


def test_a_folder_goes_up_as_a_tar_and_its_files_come_back_verified(
    big_server: Server, server_settings: Settings
) -> None:
    editor = big_server.user("ed", "editor")
    files = {"a.txt": b"alpha", "deep/b.bin": bytes(range(256)) * 100}
    body = _tar([_file(name, data) for name, data in files.items()])
    made = big_server.client.post(
        f"{V1}/datasets/images/versions", params={"format": "files"}, content=body, headers=editor
    )
    assert made.status_code == 201, made.text
    assert (made.json()["kind"], made.json()["file_count"]) == ("files", 2)
    for name, data in files.items():
        got = big_server.client.get(f"{V1}/datasets/images/versions/1/files/{name}", headers=editor)
        assert got.content == data
        assert got.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    url = f"{V1}/datasets/images/versions/1/files/deep/b.bin"
    tail = big_server.client.get(url, headers={**editor, "range": "bytes=25000-"})
    assert tail.status_code == 206
    assert tail.content == files["deep/b.bin"][25000:]
    assert tail.headers["content-range"] == "bytes 25000-25599/25600"
    past = big_server.client.get(url, headers={**editor, "range": "bytes=99999-"})
    assert past.status_code == 416
    missing = big_server.client.get(f"{V1}/datasets/images/versions/1/files/c.txt", headers=editor)
    assert "a.txt" in _error(missing, 404)


def _link(name: str, target: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


@pytest.mark.parametrize(
    ("members", "says"),
    [
        ([_file("../escape.txt", b"x")], "outside"),
        ([_file("/etc/owned", b"x")], "outside"),
        ([_file("a.txt", b"x"), _link("b", "a.txt", tarfile.SYMTYPE)], "links"),
        ([_file("a.txt", b"x"), _link("c", "a.txt", tarfile.LNKTYPE)], "links"),
    ],
)
def test_hostile_archives_are_refused_and_store_nothing(
    big_server: Server, server_settings: Settings, members: list[Any], says: str
) -> None:
    editor = big_server.user("ed", "editor")
    reply = big_server.client.post(
        f"{V1}/datasets/evil/versions",
        params={"format": "files"},
        content=_tar(members),
        headers=editor,
    )
    assert says in _error(reply, 400)
    assert DatasetClient(server_settings).list_datasets() == []
    assert not (server_settings.home.parent / "escape.txt").exists()


def test_bad_uploads_get_4xx(big_server: Server) -> None:
    editor, viewer = big_server.user("ed", "editor"), big_server.user("vi", "viewer")
    url = f"{V1}/datasets/x/versions"
    post = big_server.client.post
    assert "tar" in _error(
        post(url, params={"format": "files"}, content=b"junk", headers=editor), 400
    )
    assert "format" in _error(
        post(url, params={"format": "zip"}, content=b"x", headers=editor), 400
    )
    assert "filename" in _error(
        post(
            url, params={"format": "csv", "filename": "../a.csv"}, content=b"a\n1\n", headers=editor
        ),
        400,
    )
    assert _error(
        post(url, params={"format": "parquet"}, content=b"not parquet", headers=editor), 400
    )
    assert _error(post(url, params={"format": "csv"}, content=b"a\n1\n", headers=viewer), 403)
    unknown_run = {"format": "csv", "run_id": "nope"}
    assert _error(post(url, params=unknown_run, content=b"a\n1\n", headers=editor), 404)


def test_a_run_records_a_version_as_its_input(
    big_server: Server, server_settings: Settings
) -> None:
    editor = big_server.user("ed", "editor")
    DatasetClient(server_settings).log("iris", FRAME)
    tracking = TrackingClient(server_settings, capture_env=False)
    run_id = tracking.create_run("x").id
    made = big_server.client.post(
        f"{V1}/runs/{run_id}/inputs",
        json={"dataset": "datasets:/iris/1", "context": "validation"},
        headers=editor,
    )
    assert made.status_code == 200, made.text
    (found,) = tracking.get_run(run_id).inputs
    assert (found.uri, found.context) == ("datasets:/iris/1", "validation")
    tracking.close()


def test_nothing_is_left_in_the_scratch_space(
    big_server: Server, server_settings: Settings
) -> None:
    editor = big_server.user("ed", "editor")
    big_server.client.post(
        f"{V1}/datasets/x/versions", params={"format": "files"}, content=b"junk", headers=editor
    )
    scratch = Path(server_settings.home) / "cache" / "tmp"
    assert not scratch.exists() or list(scratch.iterdir()) == []
