"""ArtifactStore rules: dedup, verified reads, trees, symlinks, garbage collection."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

import pytest

from conftest import S3Server
from loopml.artifacts import ArtifactStore, BlobStore, ManifestEntry, sha256_file
from loopml.artifacts.local import LocalBlobStore
from loopml.artifacts.memory import MemoryBlobStore
from loopml.errors import (
    ConflictError,
    DigestMismatchError,
    InvalidInputError,
    NotFoundError,
    UnsafePathError,
)

needs_symlinks = pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges")


def _blob_digests(store: ArtifactStore) -> list[str]:
    return sorted(blob.digest for blob in store.blob_store.iter_blobs())


def _local_blob_path(store: ArtifactStore, digest: str) -> Path:
    assert isinstance(store.blob_store, LocalBlobStore)
    return store.blob_store.root / "blobs" / digest[:2] / digest[2:]


def _make_tree(root: Path) -> dict[str, bytes]:
    files = {
        "top.txt": b"top",
        "a/b/c.txt": b"deep",
        "a/d.bin": bytes(range(256)),
        "a/same.txt": b"top",  # same content as top.txt: stored once
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "empty-folder").mkdir()
    return files


# --- put and dedup -------------------------------------------------------------------


def test_put_bytes_returns_digest_and_size(artifact_store: ArtifactStore) -> None:
    stored = artifact_store.put_bytes(b"payload")
    assert stored.digest == hashlib.sha256(b"payload").hexdigest()
    assert stored.size == 7
    assert artifact_store.exists(stored.digest)
    assert artifact_store.get_bytes(stored.digest) == b"payload"


def test_same_content_twice_is_stored_once(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    first, second = tmp_path / "one.bin", tmp_path / "two.bin"
    first.write_bytes(b"twins")
    second.write_bytes(b"twins")
    results = {
        artifact_store.put_file(first),
        artifact_store.put_file(second),
        artifact_store.put_bytes(b"twins"),
    }
    assert len(results) == 1
    assert _blob_digests(artifact_store) == [results.pop().digest]


def test_put_file_agrees_with_sha256_file(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "chunks.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 17))  # not a whole number of chunks
    stored = artifact_store.put_file(source)
    assert stored.digest == sha256_file(source)
    assert stored.size == source.stat().st_size


def test_dedup_skips_the_upload(local_store: ArtifactStore, tmp_path: Path) -> None:
    stored = local_store.put_bytes(b"once")
    inode = _local_blob_path(local_store, stored.digest).stat().st_ino
    source = tmp_path / "again.txt"
    source.write_bytes(b"once")
    local_store.put_file(source)
    local_store.put_bytes(b"once")
    assert _local_blob_path(local_store, stored.digest).stat().st_ino == inode


def test_put_file_refuses_missing_directories_and_links(
    artifact_store: ArtifactStore, tmp_path: Path
) -> None:
    with pytest.raises(NotFoundError, match=r"nope\.txt"):
        artifact_store.put_file(tmp_path / "nope.txt")
    with pytest.raises(InvalidInputError, match="not a regular file"):
        artifact_store.put_file(tmp_path)
    assert _blob_digests(artifact_store) == []


@needs_symlinks
def test_put_file_refuses_a_symlink(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    target = tmp_path / "real.txt"
    target.write_bytes(b"secret")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    with pytest.raises(UnsafePathError, match=r"link\.txt is a symbolic link"):
        artifact_store.put_file(link)
    assert _blob_digests(artifact_store) == []


class _GrowingSourceStore(MemoryBlobStore):
    """A backend that appends to the source file while uploading it, like a busy writer."""

    def put_file(self, digest: str, source: Path) -> None:
        super().put_file(digest, source)
        with open(source, "ab") as stream:
            stream.write(b" and more")


def test_a_file_changing_during_put_is_refused_and_not_kept(tmp_path: Path) -> None:
    store = ArtifactStore(_GrowingSourceStore())
    source = tmp_path / "log.txt"
    source.write_bytes(b"first line")
    with pytest.raises(ConflictError, match="changed while it was being stored"):
        store.put_file(source)
    assert _blob_digests(store) == []


# --- verified reads ------------------------------------------------------------------


def test_get_file_writes_content_and_creates_parents(
    artifact_store: ArtifactStore, tmp_path: Path
) -> None:
    stored = artifact_store.put_bytes(b"model bytes")
    dest = tmp_path / "out" / "nested" / "model.bin"
    artifact_store.get_file(stored.digest, dest)
    assert dest.read_bytes() == b"model bytes"
    artifact_store.get_file(artifact_store.put_bytes(b"v2").digest, dest)  # replaces
    assert dest.read_bytes() == b"v2"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["model.bin"]  # no temp files


def test_get_file_refuses_a_directory_and_missing_blobs(
    artifact_store: ArtifactStore, tmp_path: Path
) -> None:
    stored = artifact_store.put_bytes(b"x")
    with pytest.raises(InvalidInputError, match="is a directory"):
        artifact_store.get_file(stored.digest, tmp_path)
    missing = hashlib.sha256(b"never stored").hexdigest()
    with pytest.raises(NotFoundError):
        artifact_store.get_file(missing, tmp_path / "deep" / "missing.bin")
    with pytest.raises(NotFoundError):
        artifact_store.get_bytes(missing)
    assert not (tmp_path / "deep").exists()  # nothing created for a missing blob


def test_open_verified_streams_good_content(artifact_store: ArtifactStore) -> None:
    data = os.urandom(2 * 1024 * 1024 + 5)
    stored = artifact_store.put_bytes(data)
    with artifact_store.open_verified(stored.digest) as stream:
        assert stream.read(10) == data[:10]
        assert stream.read() == data[10:]


def test_corrupt_local_blob_is_detected(local_store: ArtifactStore, tmp_path: Path) -> None:
    stored = local_store.put_bytes(b"good bytes")
    _local_blob_path(local_store, stored.digest).write_bytes(b"evil bytes")
    _assert_corruption_detected(local_store, stored.digest, tmp_path)


def test_corrupt_s3_blob_is_detected(s3_server: S3Server, tmp_path: Path) -> None:
    import s3fs

    blobs = s3_server.store()
    store = ArtifactStore(blobs)
    stored = store.put_bytes(b"good bytes")
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **s3_server.storage_options)
    key = f"{s3_server.bucket}/{blobs.prefix}/blobs/{stored.digest[:2]}/{stored.digest[2:]}"
    fs.pipe_file(key, b"evil bytes")  # the documented layout, written behind loopml's back
    _assert_corruption_detected(store, stored.digest, tmp_path)


def _assert_corruption_detected(store: ArtifactStore, digest: str, tmp_path: Path) -> None:
    with pytest.raises(DigestMismatchError, match=rf"blob {digest} is corrupt"):
        store.get_bytes(digest)
    dest = tmp_path / "restored" / "file.bin"
    dest.parent.mkdir()
    dest.write_bytes(b"previous version")
    with pytest.raises(DigestMismatchError, match=digest):
        store.get_file(digest, dest)
    assert dest.read_bytes() == b"previous version"  # left as it was
    assert [p.name for p in dest.parent.iterdir()] == ["file.bin"]  # temp file removed
    with pytest.raises(DigestMismatchError), store.open_verified(digest) as stream:
        stream.read()


# --- trees -----------------------------------------------------------------------------


def test_put_tree_with_nested_folders(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    files = _make_tree(tmp_path / "tree")
    manifest = artifact_store.put_tree(tmp_path / "tree")
    assert manifest == [
        ManifestEntry(path=name, digest=hashlib.sha256(data).hexdigest(), size=len(data))
        for name, data in sorted(files.items())
    ]
    assert len(_blob_digests(artifact_store)) == 3  # top.txt and a/same.txt share a blob
    artifact_store.get_tree(manifest, tmp_path / "copy")
    for name, data in files.items():
        assert (tmp_path / "copy" / name).read_bytes() == data


def test_put_tree_of_an_empty_folder(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    assert artifact_store.put_tree(tmp_path / "empty") == []
    with pytest.raises(NotFoundError):
        artifact_store.put_tree(tmp_path / "absent")
    (tmp_path / "file.txt").write_bytes(b"x")
    with pytest.raises(InvalidInputError, match="not a directory"):
        artifact_store.put_tree(tmp_path / "file.txt")


@needs_symlinks
@pytest.mark.parametrize("kind", ["file link", "folder link", "dangling link"])
def test_put_tree_refuses_a_symlink_inside_and_stores_nothing(
    artifact_store: ArtifactStore, tmp_path: Path, kind: str
) -> None:
    root = tmp_path / "tree"
    _make_tree(root)
    link = root / "a" / "b" / "sneaky"
    target = {"file link": root / "top.txt", "folder link": tmp_path, "dangling link": root / "x"}
    link.symlink_to(target[kind])
    with pytest.raises(UnsafePathError, match=r"a/b/sneaky is a symbolic link"):
        artifact_store.put_tree(root)
    assert _blob_digests(artifact_store) == []


@needs_symlinks
def test_put_tree_refuses_a_linked_root(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    _make_tree(tmp_path / "tree")
    (tmp_path / "alias").symlink_to(tmp_path / "tree")
    with pytest.raises(UnsafePathError, match="alias is a symbolic link"):
        artifact_store.put_tree(tmp_path / "alias")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_put_tree_refuses_special_files(local_store: ArtifactStore, tmp_path: Path) -> None:
    root = tmp_path / "tree"
    _make_tree(root)
    os.mkfifo(root / "a" / "pipe")
    with pytest.raises(InvalidInputError, match="pipe is not a regular file"):
        local_store.put_tree(root)
    assert _blob_digests(local_store) == []


def test_put_tree_refuses_unsafe_file_names(local_store: ArtifactStore, tmp_path: Path) -> None:
    if sys.platform == "win32":
        pytest.skip("Windows cannot name a file with a backslash")
    root = tmp_path / "tree"
    root.mkdir()
    (root / "back\\slash.txt").write_bytes(b"x")
    with pytest.raises(UnsafePathError, match="backslash"):
        local_store.put_tree(root)


@pytest.mark.parametrize("bad_path", ["../escape.txt", "/etc/passwd", "", "a/../../x"])
def test_get_tree_refuses_unsafe_manifest_paths(
    artifact_store: ArtifactStore, tmp_path: Path, bad_path: str
) -> None:
    stored = artifact_store.put_bytes(b"x")
    entry = ManifestEntry(path=bad_path, digest=stored.digest, size=1)
    with pytest.raises(UnsafePathError):
        artifact_store.get_tree([entry], tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


@needs_symlinks
def test_get_tree_does_not_write_through_a_linked_folder(
    local_store: ArtifactStore, tmp_path: Path
) -> None:
    stored = local_store.put_bytes(b"x")
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out" / "sub").symlink_to(tmp_path / "elsewhere")
    entry = ManifestEntry(path="sub/file.txt", digest=stored.digest, size=1)
    with pytest.raises(UnsafePathError, match="sub is a symbolic link"):
        local_store.get_tree([entry], tmp_path / "out")
    assert list((tmp_path / "elsewhere").iterdir()) == []


# --- garbage collection ----------------------------------------------------------------


def test_gc_keeps_fresh_blobs_within_the_grace_period(artifact_store: ArtifactStore) -> None:
    artifact_store.put_bytes(b"in flight, not yet referenced")
    report = artifact_store.collect_garbage([])
    assert (report.deleted, report.kept, report.digests) == (0, 1, [])
    assert len(_blob_digests(artifact_store)) == 1


def test_gc_deletes_only_unreferenced_old_blobs(blob_store: BlobStore) -> None:
    later = ArtifactStore(blob_store, clock=lambda: time.time() + 7200)
    keep = later.put_bytes(b"referenced")
    drop = [later.put_bytes(b"orphan one"), later.put_bytes(b"orphan two!")]
    report = later.collect_garbage({keep.digest})
    assert report.deleted == 2
    assert report.freed_bytes == 10 + 11
    assert report.kept == 1
    assert report.digests == sorted(stored.digest for stored in drop)
    assert _blob_digests(later) == [keep.digest]


def test_gc_dry_run_deletes_nothing(blob_store: BlobStore) -> None:
    later = ArtifactStore(blob_store, clock=lambda: time.time() + 7200)
    stored = [later.put_bytes(b"a"), later.put_bytes(b"b")]
    report = later.collect_garbage([], dry_run=True)
    assert report.deleted == 2
    assert report.digests == sorted(item.digest for item in stored)
    assert _blob_digests(later) == sorted(item.digest for item in stored)


def test_gc_weighs_age_and_references_together(local_store: ArtifactStore) -> None:
    old_time = time.time() - 2 * 3600
    old_orphan = local_store.put_bytes(b"old orphan")
    old_used = local_store.put_bytes(b"old but referenced")
    young_orphan = local_store.put_bytes(b"young orphan")
    for stored in (old_orphan, old_used):
        os.utime(_local_blob_path(local_store, stored.digest), (old_time, old_time))
    report = local_store.collect_garbage({old_used.digest}, grace_seconds=3600)
    assert report.digests == [old_orphan.digest]
    assert _blob_digests(local_store) == sorted([old_used.digest, young_orphan.digest])


def test_putting_old_content_again_protects_it_from_gc(local_store: ArtifactStore) -> None:
    # The race the grace period exists for: content is re-put (deduplicated) and its
    # reference is not committed yet when the collector runs.
    stored = local_store.put_bytes(b"model v1")
    old_time = time.time() - 2 * 3600
    os.utime(_local_blob_path(local_store, stored.digest), (old_time, old_time))
    local_store.put_bytes(b"model v1")
    assert local_store.collect_garbage([]).deleted == 0


def test_gc_uses_the_memory_clock_for_age() -> None:
    now = [1_000_000.0]
    store = ArtifactStore(MemoryBlobStore(clock=lambda: now[0]), clock=lambda: now[0])
    first = store.put_bytes(b"first")
    now[0] += 100
    store.put_bytes(b"second")
    assert store.collect_garbage([], grace_seconds=50).digests == [first.digest]


@pytest.mark.parametrize(
    ("referenced", "grace", "message"),
    [
        ("ab" * 32, 0, "not one string"),
        (["sha256:" + "ab" * 32], 0, "not a SHA-256 digest"),
        ([], -1, "grace_seconds must be >= 0"),
    ],
)
def test_gc_refuses_bad_arguments(
    artifact_store: ArtifactStore, referenced: list[str], grace: float, message: str
) -> None:
    artifact_store.put_bytes(b"survivor")
    with pytest.raises(InvalidInputError, match=message):
        artifact_store.collect_garbage(referenced, grace_seconds=grace)
    assert len(_blob_digests(artifact_store)) == 1
