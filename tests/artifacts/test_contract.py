"""The blob store contract, run over every backend (memory, local, S3 on moto)."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from loopml.artifacts import BlobInfo, BlobStore
from loopml.errors import InvalidInputError, NotFoundError

HELLO = b"hello, blobs"
HELLO_DIGEST = hashlib.sha256(HELLO).hexdigest()


def _read(store: BlobStore, digest: str) -> bytes:
    with store.open(digest) as stream:
        return stream.read()


def test_is_a_blob_store_with_a_url(blob_store: BlobStore) -> None:
    assert isinstance(blob_store, BlobStore)
    assert blob_store.url.split(":")[0] in {"memory", "file", "s3"}


def test_put_bytes_then_exists_open_delete(blob_store: BlobStore) -> None:
    assert not blob_store.exists(HELLO_DIGEST)
    blob_store.put_bytes(HELLO_DIGEST, HELLO)
    assert blob_store.exists(HELLO_DIGEST)
    assert _read(blob_store, HELLO_DIGEST) == HELLO
    blob_store.delete(HELLO_DIGEST)
    assert not blob_store.exists(HELLO_DIGEST)


def test_put_file_stores_the_file_content(blob_store: BlobStore, tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000  # > 1 MiB, several chunks
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    blob_store.put_file(digest, source)
    assert _read(blob_store, digest) == data


def test_empty_blob(blob_store: BlobStore) -> None:
    digest = hashlib.sha256(b"").hexdigest()
    blob_store.put_bytes(digest, b"")
    assert blob_store.exists(digest)
    assert _read(blob_store, digest) == b""


def test_put_twice_is_idempotent(blob_store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "hello.txt"
    source.write_bytes(HELLO)
    blob_store.put_bytes(HELLO_DIGEST, HELLO)
    blob_store.put_bytes(HELLO_DIGEST, HELLO)
    blob_store.put_file(HELLO_DIGEST, source)
    assert [blob.digest for blob in blob_store.iter_blobs()] == [HELLO_DIGEST]
    assert _read(blob_store, HELLO_DIGEST) == HELLO


def test_iter_blobs_lists_what_is_there_with_sizes(blob_store: BlobStore) -> None:
    assert list(blob_store.iter_blobs()) == []
    contents = [b"a", b"bb", b"ccc" * 1000]
    for data in contents:
        blob_store.put_bytes(hashlib.sha256(data).hexdigest(), data)
    listed = {blob.digest: blob for blob in blob_store.iter_blobs()}
    assert {digest: blob.size for digest, blob in listed.items()} == {
        hashlib.sha256(data).hexdigest(): len(data) for data in contents
    }
    assert all(isinstance(blob, BlobInfo) and blob.modified > 1e9 for blob in listed.values())


def test_missing_blob_raises_not_found(blob_store: BlobStore) -> None:
    with pytest.raises(NotFoundError) as caught:
        blob_store.open(HELLO_DIGEST)
    assert caught.value.kind == "blob"
    assert caught.value.key == HELLO_DIGEST
    with pytest.raises(NotFoundError):
        blob_store.touch(HELLO_DIGEST)


def test_deleting_a_missing_blob_is_fine(blob_store: BlobStore) -> None:
    blob_store.delete(HELLO_DIGEST)
    assert not blob_store.exists(HELLO_DIGEST)


def test_touch_keeps_the_content(blob_store: BlobStore) -> None:
    blob_store.put_bytes(HELLO_DIGEST, HELLO)
    (before,) = blob_store.iter_blobs()
    blob_store.touch(HELLO_DIGEST)
    (after,) = blob_store.iter_blobs()
    assert after.modified >= before.modified
    assert _read(blob_store, HELLO_DIGEST) == HELLO


@pytest.mark.parametrize("bad", ["", "ABC", "ab" * 31, "../" + "a" * 61, "g" * 64, "A" * 64])
def test_malformed_digests_are_refused(blob_store: BlobStore, bad: str) -> None:
    with pytest.raises(InvalidInputError, match="not a SHA-256 digest"):
        blob_store.exists(bad)
    with pytest.raises(InvalidInputError):
        blob_store.put_bytes(bad, b"x")
    with pytest.raises(InvalidInputError):
        blob_store.open(bad)
    with pytest.raises(InvalidInputError):
        blob_store.delete(bad)


def test_concurrent_puts_of_the_same_digest_are_safe(blob_store: BlobStore, tmp_path: Path) -> None:
    data = b"x" * (256 << 10)
    digest = hashlib.sha256(data).hexdigest()
    source = tmp_path / "same.bin"
    source.write_bytes(data)

    def put(index: int) -> None:
        if index % 2:
            blob_store.put_file(digest, source)
        else:
            blob_store.put_bytes(digest, data)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, range(16)))
    assert [(blob.digest, blob.size) for blob in blob_store.iter_blobs()] == [(digest, len(data))]
    assert _read(blob_store, digest) == data


def test_concurrent_puts_of_different_digests(blob_store: BlobStore) -> None:
    contents = [f"blob {index}".encode() for index in range(24)]

    def put(data: bytes) -> None:
        blob_store.put_bytes(hashlib.sha256(data).hexdigest(), data)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, contents))
    assert len(list(blob_store.iter_blobs())) == len(contents)
