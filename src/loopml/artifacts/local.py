"""Blobs as files in a local directory, laid out like git's objects.

``<root>/blobs/ab/cdef…`` holds the blob whose digest is ``abcdef…``: the first two
hex characters fan the blobs out over 256 directories so none grows huge. A blob is
written to a temporary file in its final directory, fsynced and renamed into place,
so a crash or a concurrent reader never sees half a blob.

Example:
    >>> import tempfile
    >>> store = LocalBlobStore(tempfile.mkdtemp())
    >>> store.put_bytes("ab" * 32, b"hi")
    >>> sorted(p.name for p in (store.root / "blobs").iterdir())
    ['ab']
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeAlias

from loopml.artifacts._atomic import TEMP_PREFIX, atomic_write
from loopml.artifacts._hashing import CHUNK_SIZE, check_digest, is_digest
from loopml.artifacts.models import BlobInfo
from loopml.errors import InvalidInputError, NotFoundError

__all__ = ["LocalBlobStore"]

_Fill: TypeAlias = Callable[[BinaryIO], object]


class LocalBlobStore:
    """A blob store in a directory on a local (or mounted) file system.

    The directory is created on the first write. Several processes may share it.

    Args:
        root: the store's directory; ``~`` is expanded and a relative path is made
            absolute now, so a later ``chdir`` does not move the store.

    Raises:
        InvalidInputError: ``root`` exists and is not a directory.

    Example:
        >>> store = LocalBlobStore("/tmp/loopml-doc-store")
        >>> store.url
        'file:///tmp/loopml-doc-store'
    """

    url: str  # declared here: the py: door checks members on the class

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().absolute()
        if self.root.exists() and not self.root.is_dir():
            raise InvalidInputError(
                f"artifact store root {self.root} is a file, not a directory; "
                "point the store at a directory (it is created if missing)"
            )
        self.url = self.root.as_uri()
        self._blobs = self.root / "blobs"

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    def exists(self, digest: str) -> bool:
        """Whether a blob named ``digest`` is stored."""
        return self._path(digest).is_file()

    def put_file(self, digest: str, source: Path) -> None:
        """Copy ``source`` into the store under ``digest`` (no-op if present)."""
        if self.exists(digest):
            return
        with open(source, "rb") as stream:
            self._write(digest, lambda out: shutil.copyfileobj(stream, out, CHUNK_SIZE))

    def put_bytes(self, digest: str, data: bytes) -> None:
        """Store ``data`` under ``digest`` (no-op if present)."""
        if not self.exists(digest):
            self._write(digest, lambda out: out.write(data))

    def open(self, digest: str) -> BinaryIO:
        """A stream over the blob file. Raises ``NotFoundError`` if it is missing."""
        try:
            return open(self._path(digest), "rb")
        except FileNotFoundError as err:
            raise self._missing(digest) from err

    def touch(self, digest: str) -> None:
        """Set the blob file's modified time to now. Raises ``NotFoundError`` if missing."""
        try:
            os.utime(self._path(digest))
        except FileNotFoundError as err:
            raise self._missing(digest) from err

    def delete(self, digest: str) -> None:
        """Remove the blob file if it is there."""
        self._path(digest).unlink(missing_ok=True)

    def iter_blobs(self) -> Iterator[BlobInfo]:
        """Every blob file, skipping temporary files of writes in progress."""
        for fan_out in _scan(self._blobs):
            if len(fan_out.name) != 2 or not fan_out.is_dir(follow_symlinks=False):
                continue
            for entry in _scan(Path(fan_out.path)):
                digest = fan_out.name + entry.name
                if entry.name.startswith(TEMP_PREFIX) or not is_digest(digest):
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # deleted since the directory was listed
                    continue
                yield BlobInfo(digest=digest, size=info.st_size, modified=info.st_mtime)

    def collect_temp_files(self, older_than: float, *, dry_run: bool) -> tuple[int, int]:
        """Delete the temporary files of writes killed before their rename, if older than
        ``older_than`` (a younger one may be a write in flight). Returns (files, bytes)."""
        count = size = 0
        folders = [self._blobs] + [
            Path(entry.path) for entry in _scan(self._blobs) if len(entry.name) == 2
        ]
        for folder in folders:
            for entry in _scan(folder):
                if not entry.name.startswith(TEMP_PREFIX):
                    continue
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # its write finished (renamed) or it is gone
                    continue
                if info.st_mtime >= older_than or not entry.is_file(follow_symlinks=False):
                    continue
                if not dry_run:
                    Path(entry.path).unlink(missing_ok=True)
                count, size = count + 1, size + info.st_size
        return count, size

    def _path(self, digest: str) -> Path:
        check_digest(digest)
        return self._blobs / digest[:2] / digest[2:]

    def _write(self, digest: str, fill: _Fill) -> None:
        target = self._path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(target) as out:
            fill(out)

    def _missing(self, digest: str) -> NotFoundError:
        return NotFoundError(
            "blob",
            digest,
            hint=f"it is not in {self.url}; it may have been garbage-collected",
        )


def _scan(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return sorted(entries, key=lambda entry: entry.name)
    except FileNotFoundError:
        return []
