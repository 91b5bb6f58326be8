"""Folders as manifests: list the files, hash them in parallel (with the digest cache), store.

Hashing runs on a thread pool: ``hashlib`` and file reads release the GIL, so threads
use every core and overlap disk waits. Files are read in 1 MiB chunks into one reused
buffer. A file whose identity in the digest cache is unchanged is not read at all.

The digest of a folder is the SHA-256 of its manifest, the sorted ``[path, digest]``
pairs as compact JSON, so it depends on the files' relative paths and bytes only (not
on timestamps, permissions or where the folder is).

Example:
    >>> manifest_digest([])
    '4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945'
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from loopml.artifacts import ArtifactStore, ManifestEntry, safe_artifact_path
from loopml.data._digest_cache import DigestCache, file_identity, is_quiet
from loopml.errors import ConflictError, InvalidInputError, NotFoundError, UnsafePathError

__all__ = [
    "LocalFile",
    "Progress",
    "hash_files",
    "list_files",
    "manifest_digest",
    "run_parallel",
    "store_files",
]

Progress = Callable[[int, int], None]
_T = TypeVar("_T")
_R = TypeVar("_R")
_CHUNK = 1 << 20
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
WORKERS = min(32, max(4, 2 * (os.cpu_count() or 1)))


@dataclass(frozen=True, slots=True)
class LocalFile:
    """A file to version: its path in the manifest, where it is, and its digest."""

    path: str
    local: Path
    size: int
    digest: str = ""

    @property
    def entry(self) -> ManifestEntry:
        """The manifest entry (needs the digest)."""
        return ManifestEntry(self.path, self.digest, self.size)


@dataclass(frozen=True, slots=True)
class HashResult:
    """The hashed files, sorted by path, and how many were read versus found in the cache."""

    files: list[LocalFile]
    hashed: int
    cached: int
    hashed_bytes: int = 0

    @property
    def progress_total(self) -> int:
        """The ``total`` the progress callback sees: bytes hashed plus bytes to store."""
        return self.hashed_bytes + sum(file.size for file in self.files)


def list_files(root: Path) -> list[tuple[str, Path, os.stat_result]]:
    """Every regular file under ``root`` as ``(manifest path, path, stat)``, sorted by path.

    Raises:
        NotFoundError: ``root`` does not exist.
        UnsafePathError: a symbolic link inside, or a name that is not a safe path.
        InvalidInputError: a FIFO, socket or device inside.
    """
    if not root.is_dir():
        raise NotFoundError("folder", str(root), hint="check the path")
    found: list[tuple[str, Path, os.stat_result]] = []
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            entries = os.scandir(folder)
        except OSError as err:
            raise _unreadable(folder, err) from err
        with entries:
            for entry in entries:
                path = Path(entry.path)
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode):
                    pending.append(path)
                elif stat.S_ISREG(info.st_mode):
                    relative = safe_artifact_path(path.relative_to(root).as_posix())
                    found.append((relative, path, info))
                else:
                    raise _not_plain(path, info)
    found.sort(key=lambda item: item[0])
    return found


def hash_files(
    files: Sequence[tuple[str, Path, os.stat_result]],
    cache: DigestCache | None,
    *,
    progress: Progress | None = None,
) -> HashResult:
    """Digest every file, reading only those the cache (if any) does not vouch for.

    ``progress`` is called with ``(bytes done, bytes total)`` where the total counts the
    bytes to hash plus the bytes of every file (for :func:`store_files` to continue).
    """
    absolute = {str(local.absolute()): (name, local, info) for name, local, info in files}
    known = cache.lookup((path, info) for path, (_, _, info) in absolute.items()) if cache else {}
    digests = {absolute[path][0]: digest for path, digest in known.items()}
    todo = [
        (name, local, info) for path, (name, local, info) in absolute.items() if path not in known
    ]
    hashed_bytes = sum(info.st_size for _, _, info in todo)
    total = hashed_bytes + sum(info.st_size for _, _, info in files)
    done = 0
    quiet: list[tuple[str, os.stat_result, str]] = []
    for (name, local, _), (digest, info, hashed_at) in run_parallel(_hash_file, todo):
        digests[name] = digest
        done += info.st_size
        if is_quiet(info, hashed_at):
            quiet.append((str(local.absolute()), info, digest))
        if progress is not None:
            progress(done, total)
    if cache is not None:
        cache.store(quiet)
    hashed = [LocalFile(name, local, info.st_size, digests[name]) for name, local, info in files]
    return HashResult(hashed, hashed=len(todo), cached=len(known), hashed_bytes=hashed_bytes)


def manifest_digest(entries: Iterable[ManifestEntry]) -> str:
    """SHA-256 of the sorted ``[path, digest]`` list as compact JSON."""
    pairs = sorted([entry.path, entry.digest] for entry in entries)
    text = json.dumps(pairs, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def store_files(
    artifacts: ArtifactStore,
    files: Sequence[LocalFile],
    *,
    progress: Progress | None = None,
    start: int = 0,
    total: int = 0,
) -> None:
    """Make every file's content present in the artifact store, uploading only what is new.

    Content already stored is touched instead (so garbage collection spares it until the
    version referencing it is committed). Files with the same content are stored once.

    Raises:
        ConflictError: a file changed between hashing and storing.
    """
    unique = list({file.digest: file for file in files}.values())
    done = start
    for file, _ in run_parallel(lambda f: _store_one(artifacts, f), unique):
        done += file.size
        if progress is not None:
            progress(done, total)
    if progress is not None:
        progress(total, total)  # files with the same content were stored once


def _store_one(artifacts: ArtifactStore, file: LocalFile) -> None:
    try:
        artifacts.blob_store.touch(file.digest)
        return
    except NotFoundError:
        pass
    stored = artifacts.put_file(file.local)
    if stored.digest != file.digest:
        raise _changed(file.local)


def _hash_file(job: tuple[str, Path, os.stat_result]) -> tuple[str, os.stat_result, int]:
    """``(digest, stat before reading, when reading began)`` of one file."""
    local = job[1]
    hashed_at = time.time_ns()
    try:
        fd = os.open(local, os.O_RDONLY | _NOFOLLOW)
    except FileNotFoundError as err:
        raise _changed(local) from err
    except OSError as err:
        raise _unreadable(local, err) from err
    digest = hashlib.sha256()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with os.fdopen(fd, "rb", buffering=0) as stream:
        before = os.fstat(fd)
        while count := stream.readinto(buffer):
            digest.update(view[:count])
        after = os.fstat(fd)
    if file_identity(before) != file_identity(after):
        raise _changed(local)
    return digest.hexdigest(), before, hashed_at


def run_parallel(work: Callable[[_T], _R], items: Sequence[_T]) -> Iterator[tuple[_T, _R]]:
    """Run ``work`` over ``items`` on threads; yield ``(item, result)`` as each completes.

    The first failure is raised once the work already running has stopped; the work not
    yet started is cancelled.
    """
    if not items:
        return
    pool = ThreadPoolExecutor(max_workers=min(WORKERS, len(items)))
    try:
        futures = {pool.submit(work, item): item for item in items}
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _changed(path: Path) -> ConflictError:
    return ConflictError(
        f"{path} changed while it was being versioned; log it again once nothing writes to it",
        details={"path": str(path)},
    )


def _unreadable(path: Path, err: OSError) -> InvalidInputError:
    return InvalidInputError(
        f"cannot read {path}: {err.strerror or err}; check its permissions",
        details={"path": str(path)},
    )


def _not_plain(path: Path, info: os.stat_result) -> InvalidInputError:
    if stat.S_ISLNK(info.st_mode):
        return UnsafePathError(
            f"{path} is a symbolic link; datasets hold plain files only: copy the file it "
            "points to into the folder, or remove the link",
            details={"path": str(path)},
        )
    return InvalidInputError(
        f"{path} is not a regular file (a FIFO, socket or device); remove it from the folder",
        details={"path": str(path)},
    )
