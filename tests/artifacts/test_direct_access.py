"""Presigned URLs: clients PUT to a staging object and GET blobs; content becomes a blob
only once its SHA-256 is checked."""

from __future__ import annotations

import hashlib
import http.client
import urllib.parse
from typing import TYPE_CHECKING

import pytest

from loopml.artifacts import ArtifactStore
from loopml.artifacts.base import DirectAccess
from loopml.errors import ConflictError, InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from conftest import S3Server


def _send(
    method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request(
            method, f"{parts.path}?{parts.query}", body=body or None, headers=headers or {}
        )
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_stores_clients_cannot_reach_refuse_presigning() -> None:
    store = ArtifactStore.from_url("memory://")
    assert store.direct is False
    with pytest.raises(ConflictError, match="through the server") as caught:
        store.presign_upload("a" * 32, _sha(b"x"))
    assert caught.value.details == {"direct": False}
    with pytest.raises(ConflictError):
        store.presign_download(_sha(b"x"))
    store.discard_upload("a" * 32)  # nothing to delete: no error


def test_an_s3_upload_becomes_a_blob_once_its_sha256_is_checked(s3_server: S3Server) -> None:
    store = ArtifactStore(s3_server.store())
    assert store.direct
    assert isinstance(store.blob_store, DirectAccess)
    data = b"weights" * 10_000
    url, headers = store.presign_upload("u" * 32, _sha(data))
    assert headers["x-amz-checksum-sha256"]
    assert _send("PUT", url, data, headers)[0] == 200
    assert not store.exists(_sha(data))  # staged, not yet a blob

    assert store.adopt_upload("u" * 32, _sha(data)).size == len(data)
    assert store.get_bytes(_sha(data)) == data
    with pytest.raises(NotFoundError, match="upload"):
        store.adopt_upload("u" * 32, _sha(data))  # the staging object is gone

    status, body = _send("GET", store.presign_download(_sha(data)), headers={"Range": "bytes=7-13"})
    assert (status, body) == (206, data[7:14])


def test_wrong_bytes_are_deleted_not_stored(s3_server: S3Server) -> None:
    store = ArtifactStore(s3_server.store())
    promised = _sha(b"the real thing")
    url, headers = store.presign_upload("w" * 32, promised)
    _send("PUT", url, b"a substitute", headers)  # moto does not check the checksum; S3 would
    with pytest.raises(InvalidInputError, match="nothing was stored"):
        store.adopt_upload("w" * 32, promised)
    assert not store.exists(promised)
    assert not store.exists(_sha(b"a substitute"))
    with pytest.raises(NotFoundError):
        store.adopt_upload("w" * 32, _sha(b"a substitute"))


def test_unadopted_uploads_are_collected_and_ids_are_checked(s3_server: S3Server) -> None:
    store = ArtifactStore(s3_server.store())
    url, headers = store.presign_upload("s" * 32, _sha(b"left"))
    _send("PUT", url, b"left", headers)
    report = store.collect_garbage(set(), grace_seconds=0)
    assert report.temp_files == 1
    with pytest.raises(NotFoundError):
        store.adopt_upload("s" * 32, _sha(b"left"))
    for bad in ("../blobs/x" + "a" * 20, "short", "a/b" * 10):
        with pytest.raises(InvalidInputError, match="upload id"):
            store.presign_upload(bad, _sha(b"x"))
