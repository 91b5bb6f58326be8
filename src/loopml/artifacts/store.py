"""The artifact store: content-addressed, deduplicated, verified storage over any backend.

The rules live here; a :class:`~loopml.artifacts.BlobStore` only persists bytes. Content
is named by its SHA-256 digest, stored once however often it is put, checked against that
digest whenever it is read, and collected only when nothing references it and it is older
than a grace period.

Example:
    >>> store = ArtifactStore.from_url("memory://")
    >>> stored = store.put_bytes(b"hello")
    >>> store.get_bytes(stored.digest)
    b'hello'
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import time
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from loopml.artifacts._atomic import atomic_write
from loopml.artifacts._hashing import (
    CHUNK_SIZE,
    VerifiedReader,
    check_digest,
    corrupt_blob_error,
    hash_stream,
    sha256_bytes,
)
from loopml.artifacts._resolve import blob_store_from_url
from loopml.artifacts._tree import check_regular_file, lstat_existing, scan_tree, symlink_error
from loopml.artifacts.base import BlobStore, DirectAccess, TempFileCollector
from loopml.artifacts.models import GcReport, ManifestEntry, StoredFile
from loopml.artifacts.paths import local_target
from loopml.clock import Clock
from loopml.errors import ConflictError, DigestMismatchError, InvalidInputError, NotFoundError

__all__ = ["ArtifactStore"]

_T = TypeVar("_T")
_R = TypeVar("_R")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


class ArtifactStore:
    """Content-addressed artifact storage on top of a blob backend.

    Args:
        blob_store: the backend that persists the blobs.
        clock: the time source (a :data:`loopml.clock.Clock`) garbage collection measures
            age with; the wall clock by default, as local blobs age by file times.

    Example:
        >>> store = ArtifactStore.from_url("memory://")
        >>> a, b = store.put_bytes(b"same"), store.put_bytes(b"same")
        >>> a == b, len(list(store.blob_store.iter_blobs()))
        (True, 1)
    """

    def __init__(self, blob_store: BlobStore, *, clock: Clock = time.time) -> None:
        self.blob_store = blob_store
        self._clock = clock

    @classmethod
    def from_url(cls, url: str, **options: Any) -> ArtifactStore:
        """A store over the backend ``url`` names (:func:`~loopml.artifacts.blob_store_from_url`).

        Example:
            >>> ArtifactStore.from_url("memory://").url
            'memory://'
        """
        return cls(blob_store_from_url(url, **options))

    @property
    def url(self) -> str:
        """The backend's URL."""
        return self.blob_store.url

    def __repr__(self) -> str:
        return f"ArtifactStore({self.url!r})"

    def exists(self, digest: str) -> bool:
        """Whether content with this digest is stored."""
        return self.blob_store.exists(check_digest(digest))

    def put_file(self, path: str | os.PathLike[str]) -> StoredFile:
        """Store a file's content once and return its digest and size.

        Args:
            path: a regular file; symbolic links are refused, not followed.

        Raises:
            NotFoundError: the file does not exist.
            UnsafePathError: ``path`` is a symbolic link.
            InvalidInputError: ``path`` is a directory, FIFO, socket or device.
            ConflictError: the file changed while it was being stored.

        Example:
            >>> import tempfile, pathlib
            >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
            >>> _ = p.write_bytes(b"abc")
            >>> ArtifactStore.from_url("memory://").put_file(p).size
            3
        """
        source = Path(path)
        before = lstat_existing(source, "file")
        check_regular_file(source, before.st_mode)
        try:
            fd = os.open(source, os.O_RDONLY | _NOFOLLOW)
        except OSError as err:
            if err.errno == errno.ELOOP:  # replaced by a link since the lstat
                raise symlink_error(source) from err
            raise
        with os.fdopen(fd, "rb") as stream:
            if not _same_file(before, os.fstat(stream.fileno())):
                raise _changed_error(source)
            digest, size = hash_stream(stream)
        uploaded = self._store_once(digest, lambda: self.blob_store.put_file(digest, source))
        if not _unchanged(source, before):
            if uploaded:
                self.blob_store.delete(digest)  # it may hold a mix of old and new bytes
            raise _changed_error(source)
        return StoredFile(digest=digest, size=size)

    def put_bytes(self, data: bytes) -> StoredFile:
        """Store ``data`` once and return its digest and size.

        Example:
            >>> ArtifactStore.from_url("memory://").put_bytes(b"").digest[:8]
            'e3b0c442'
        """
        digest = sha256_bytes(data)
        self._store_once(digest, lambda: self.blob_store.put_bytes(digest, data))
        return StoredFile(digest=digest, size=len(data))

    def put_tree(
        self, directory: str | os.PathLike[str], *, workers: int = 8
    ) -> list[ManifestEntry]:
        """Store every regular file under ``directory``; return the manifest, sorted by path.

        The whole tree is checked before anything is stored, so a refused tree leaves
        no blobs behind. An empty directory gives an empty manifest.

        Args:
            directory: the folder to store.
            workers: how many files to upload at once.

        Raises:
            UnsafePathError: the directory or anything inside it is a symbolic link, or
                a file name is not a safe artifact path; the message names it.
            InvalidInputError: the tree holds a FIFO, socket or device.

        Example:
            >>> import tempfile, pathlib
            >>> root = pathlib.Path(tempfile.mkdtemp())
            >>> _ = (root / "w.bin").write_bytes(b"1")
            >>> [e.path for e in ArtifactStore.from_url("memory://").put_tree(root)]
            ['w.bin']
        """
        files = scan_tree(Path(directory))
        stored = _parallel(self.put_file, [file for _, file in files], workers)
        return [
            ManifestEntry(path=name, digest=item.digest, size=item.size)
            for (name, _), item in zip(files, stored, strict=True)
        ]

    # -- direct access: clients read and write the backend through presigned URLs ---------

    @property
    def direct(self) -> bool:
        """Whether clients can reach the backend themselves (presigned URLs: S3)."""
        return isinstance(self.blob_store, DirectAccess)

    def presign_upload(
        self, upload_id: str, digest: str, *, expires_s: int = 3600
    ) -> tuple[str, dict[str, str]]:
        """A URL a client PUTs the content for ``upload_id`` to, and the headers to send.

        The content becomes a blob only through :meth:`adopt_upload`.

        Raises:
            ConflictError: the backend has no presigned URLs (a local directory).
        """
        return self._direct().presign_upload(upload_id, check_digest(digest), expires_s)

    def presign_download(self, digest: str, *, expires_s: int = 3600) -> str:
        """A URL a client GETs the blob ``digest`` from (``Range`` works); verify what
        you read against ``digest``.

        Raises:
            ConflictError: the backend has no presigned URLs.
        """
        return self._direct().presign_download(check_digest(digest), expires_s)

    def adopt_upload(self, upload_id: str, digest: str) -> StoredFile:
        """Make what a client PUT to :meth:`presign_upload`'s URL the blob ``digest``.

        Raises:
            NotFoundError: nothing was uploaded for ``upload_id``.
            InvalidInputError: the upload's bytes do not hash to ``digest`` (they are
                deleted, nothing is stored).
            ConflictError: the backend has no presigned URLs.
        """
        try:
            size = self._direct().adopt_upload(upload_id, check_digest(digest))
        except DigestMismatchError as err:
            raise InvalidInputError(
                f"upload {upload_id} hashes to {err.details.get('actual')}, not the sha256 "
                f"{digest} given; nothing was stored, upload the file again",
                details={"upload_id": upload_id, "sha256": digest, **err.details},
            ) from err
        return StoredFile(digest=digest, size=size)

    def discard_upload(self, upload_id: str) -> None:
        """Delete what a client uploaded for ``upload_id``, if anything (no-op otherwise)."""
        if isinstance(self.blob_store, DirectAccess):
            self.blob_store.discard_upload(upload_id)

    def _direct(self) -> DirectAccess:
        if not isinstance(self.blob_store, DirectAccess):
            raise ConflictError(
                f"the artifact store {self.url} has no presigned URLs for clients; "
                "send the files through the server instead",
                details={"direct": False},
            )
        return self.blob_store

    def open_verified(self, digest: str) -> BinaryIO:
        """A stream over the content that raises ``DigestMismatchError`` at its end if corrupt.

        Only reading to the end gives a verdict; ``get_bytes`` and ``get_file`` always do.

        Raises:
            NotFoundError: nothing is stored under ``digest``.

        Example:
            >>> store = ArtifactStore.from_url("memory://")
            >>> with store.open_verified(store.put_bytes(b"xy").digest) as stream:
            ...     stream.read()
            b'xy'
        """
        raw = self.blob_store.open(check_digest(digest))
        return io.BufferedReader(VerifiedReader(raw, digest), CHUNK_SIZE)

    def open_at(self, digest: str, offset: int) -> BinaryIO:
        """An unverified stream over the content from byte ``offset`` (a ranged read, to
        resume a download); whoever joins the parts checks the whole against ``digest``.

        Raises:
            NotFoundError: nothing is stored under ``digest``.
        """
        stream = self.blob_store.open(check_digest(digest))
        if offset:
            stream.seek(offset)
        return stream

    def get_bytes(self, digest: str) -> bytes:
        """The content stored under ``digest``, checked against it.

        Raises:
            NotFoundError: nothing is stored under ``digest``.
            DigestMismatchError: the stored bytes do not hash to ``digest``.
        """
        with self.blob_store.open(check_digest(digest)) as stream:
            data = stream.read()
        actual = sha256_bytes(data)
        if actual != digest:
            raise corrupt_blob_error(digest, actual)
        return data

    def get_file(self, digest: str, dest: str | os.PathLike[str]) -> None:
        """Write the content under ``digest`` to ``dest``, atomically and verified.

        Parent folders are created. ``dest`` is replaced only once the whole content
        has been written and checked, so a corrupt blob leaves ``dest`` untouched.

        Raises:
            NotFoundError: nothing is stored under ``digest``.
            DigestMismatchError: the stored bytes do not hash to ``digest``.
            InvalidInputError: ``dest`` is a directory.
        """
        target = Path(dest)
        if target.is_dir():
            raise InvalidInputError(f"{target} is a directory; give the path of a file to write")
        with self.open_verified(digest) as stream:
            target.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(target) as out:
                shutil.copyfileobj(stream, out, CHUNK_SIZE)

    def get_tree(
        self,
        entries: Iterable[ManifestEntry],
        directory: str | os.PathLike[str],
        *,
        workers: int = 8,
    ) -> None:
        """Write the files of a manifest (from :meth:`put_tree`) under ``directory``.

        Raises:
            UnsafePathError: an entry's path is unsafe, or a folder or file on its way
                inside ``directory`` is a symbolic link (writing through it could land
                elsewhere); checked for every entry before anything is written.
            NotFoundError, DigestMismatchError: as :meth:`get_file`.
        """
        root = Path(directory)
        jobs = [(entry.digest, local_target(root, entry.path)) for entry in entries]
        root.mkdir(parents=True, exist_ok=True)
        _parallel(lambda job: self.get_file(*job), jobs, workers)

    def collect_garbage(
        self, referenced: Collection[str], *, grace_seconds: float = 3600, dry_run: bool = False
    ) -> GcReport:
        """Delete blobs that nothing references and that are older than the grace period.

        Temporary files that killed writes left in the backend (``.tmp-*`` in a local
        store) are deleted under the same grace period: a younger one may be a write in
        flight.

        The grace period protects content whose reference is not yet committed (an
        upload in flight): a blob written or re-put within it is always kept. Only a
        re-put that lands between this call's listing and its deletes can be lost, so
        pass every reference committed so far and keep the grace period long.

        Args:
            referenced: every digest still in use; all other old blobs are deleted.
            grace_seconds: the minimum age of a deleted blob.
            dry_run: report what would be deleted, delete nothing.

        Raises:
            InvalidInputError: ``grace_seconds`` is negative or ``referenced`` holds
                something that is not a digest (a typo here would delete everything).

        Example:
            >>> store = ArtifactStore.from_url("memory://")
            >>> keep, drop = store.put_bytes(b"keep"), store.put_bytes(b"drop")
            >>> report = store.collect_garbage({keep.digest}, grace_seconds=0)
            >>> report.digests == [drop.digest], report.kept
            (True, 1)
        """
        keep = _digest_set(referenced)
        if grace_seconds < 0:
            raise InvalidInputError(f"grace_seconds must be >= 0, got {grace_seconds}")
        cutoff = self._clock() - grace_seconds
        doomed, kept = [], 0
        for blob in list(self.blob_store.iter_blobs()):
            if blob.digest in keep or blob.modified >= cutoff:
                kept += 1
            else:
                doomed.append(blob)
        if not dry_run:
            for blob in doomed:
                self.blob_store.delete(blob.digest)
        temp_files = temp_bytes = 0
        if isinstance(self.blob_store, TempFileCollector):  # leftovers of killed writes
            temp_files, temp_bytes = self.blob_store.collect_temp_files(cutoff, dry_run=dry_run)
        return GcReport(
            deleted=len(doomed),
            freed_bytes=sum(blob.size for blob in doomed) + temp_bytes,
            kept=kept,
            digests=sorted(blob.digest for blob in doomed),
            temp_files=temp_files,
        )

    def _store_once(self, digest: str, upload: Callable[[], None]) -> bool:
        """Upload unless the blob is there; an existing blob is touched. True if uploaded."""
        try:
            self.blob_store.touch(digest)  # also tells whether it exists, in one call
        except NotFoundError:
            upload()
            return True
        return False


def _same_file(first: os.stat_result, second: os.stat_result) -> bool:
    return (first.st_dev, first.st_ino, first.st_size, first.st_mtime_ns) == (
        second.st_dev,
        second.st_ino,
        second.st_size,
        second.st_mtime_ns,
    )


def _changed_error(path: Path) -> ConflictError:
    return ConflictError(
        f"{path} changed while it was being stored; store it again once nothing is writing to it",
        details={"path": str(path)},
    )


def _unchanged(path: Path, before: os.stat_result) -> bool:
    try:
        return _same_file(before, os.lstat(path))
    except FileNotFoundError:
        return False


def _digest_set(referenced: Collection[str]) -> frozenset[str]:
    if isinstance(referenced, str):
        raise InvalidInputError("referenced must be a collection of digests, not one string")
    return frozenset(check_digest(digest) for digest in referenced)


def _parallel(function: Callable[[_T], _R], items: list[_T], workers: int) -> list[_R]:
    if workers <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(function, items))
