"""A run's artifacts: logical paths inside the run, each pointing at a content-addressed blob.

Files are stored once by SHA-256 in the artifact store; the ``artifact_files`` table
maps ``(owner_kind, owner_id, path)`` to a digest. Logging the same bytes in a
thousand runs stores them once. Paths are checked so nothing can escape the run
(``..``, absolute paths and symlinks are refused).

Example:
    >>> artifacts.log_file(run_id, Path("model.skops"), "model")  # doctest: +SKIP
    'model/model.skops'
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Connection, and_, delete, select

from loopml.artifacts import (
    ArtifactStore,
    GcReport,
    ManifestEntry,
    StoredFile,
    join_artifact_path,
    local_target,
    safe_artifact_path,
)
from loopml.clock import now_ms
from loopml.errors import InvalidInputError, NotFoundError, UnsafePathError
from loopml.store import Store
from loopml.store.files import under_folder
from loopml.store.schema import artifact_files, runs
from loopml.uris import run_uri

__all__ = ["ArtifactEntry", "RunArtifacts", "collect_garbage"]

OWNER = "run"


@dataclass(frozen=True, slots=True)
class ArtifactEntry:
    """A file or folder inside a run's artifacts (``size`` and ``digest`` for files)."""

    path: str
    is_dir: bool
    size: int | None = None
    digest: str | None = None


class RunArtifacts:
    """Logs, lists and fetches the artifacts of runs."""

    def __init__(self, store: Store, artifacts_url: str, check_run: Callable[[str], None]) -> None:
        self.store = store
        self.url = artifacts_url
        self._artifact_store: ArtifactStore | None = None
        self._check_run = check_run

    @property
    def artifact_store(self) -> ArtifactStore:
        """The content-addressed store the runs' files live in (opened on first use)."""
        if self._artifact_store is None:
            self._artifact_store = ArtifactStore.from_url(self.url)
        return self._artifact_store

    def log_file(self, run_id: str, local_path: Path, artifact_path: str = "") -> str:
        """Store ``local_path`` as ``<artifact_path>/<file name>``; returns that path."""
        self._check_run(run_id)
        if local_path.is_symlink():
            raise UnsafePathError(f"'{local_path}' is a symlink; log the file it points to instead")
        if not local_path.is_file():
            raise InvalidInputError(
                f"'{local_path}' is not a file; use log_artifacts for a folder"
                if local_path.is_dir()
                else f"'{local_path}' does not exist"
            )
        path = join_artifact_path(safe_artifact_path(artifact_path), local_path.name)
        stored = self.artifact_store.put_file(local_path)
        self._record(run_id, [ManifestEntry(path, stored.digest, stored.size)])
        return path

    def log_dir(self, run_id: str, local_dir: Path, artifact_path: str = "") -> builtins.list[str]:
        """Store every file below ``local_dir`` under ``artifact_path``; returns their paths."""
        self._check_run(run_id)
        if not local_dir.is_dir():
            raise InvalidInputError(f"'{local_dir}' is not a folder; use log_artifact for a file")
        if local_dir.is_symlink():
            raise UnsafePathError(f"'{local_dir}' is a symlink; log the folder it points to")
        base = safe_artifact_path(artifact_path)
        entries = [
            ManifestEntry(join_artifact_path(base, e.path), e.digest, e.size)
            for e in self.artifact_store.put_tree(local_dir)
        ]
        self._record(run_id, entries)
        return [e.path for e in entries]

    def log_bytes(self, run_id: str, data: bytes, artifact_path: str) -> str:
        """Store ``data`` as the file ``artifact_path`` (``log_text``, ``log_dict``…)."""
        self._check_run(run_id)
        path = safe_artifact_path(artifact_path)
        if not path:
            raise InvalidInputError("artifact_path must name a file, e.g. 'notes/summary.txt'")
        stored = self.artifact_store.put_bytes(data)
        self._record(run_id, [ManifestEntry(path, stored.digest, stored.size)])
        return path

    def log_stored(self, run_id: str, artifact_path: str, stored: StoredFile) -> str:
        """Record content already in the artifact store as the file ``artifact_path``.

        For uploads that reached the store another way (a client's presigned PUT, a
        server's staged upload); the blob must be there with that size.

        Raises:
            NotFoundError: the run, or the blob, is not there.
            InvalidInputError: ``artifact_path`` names no file, or ``stored.size`` is wrong.
        """
        self._check_run(run_id)
        path = safe_artifact_path(artifact_path)
        if not path:
            raise InvalidInputError("artifact_path must name a file, e.g. 'model/weights.bin'")
        if not self.artifact_store.exists(stored.digest):
            raise NotFoundError("blob", stored.digest, hint="store the content before recording it")
        self._record(run_id, [ManifestEntry(path, stored.digest, stored.size)])
        return path

    def file_entry(self, run_id: str, path: str) -> ArtifactEntry:
        """One artifact file's entry (size and digest).

        Raises:
            NotFoundError: the run has no file at ``path`` (a folder is not a file).
        """
        self._check_run(run_id)
        rows = self._rows(run_id, safe_artifact_path(path), exact=True)
        if not rows:
            raise NotFoundError(
                "artifact file",
                run_uri(run_id, path),
                hint=f"list the run's files with `loopml runs show {run_id}`",
            )
        return ArtifactEntry(rows[0].path, False, rows[0].size, rows[0].digest)

    def list(self, run_id: str, path: str = "") -> builtins.list[ArtifactEntry]:
        """The files and folders directly inside ``path`` of the run."""
        self._check_run(run_id)
        prefix = safe_artifact_path(path)
        entries: dict[str, ArtifactEntry] = {}
        for row in self._rows(run_id, prefix):
            rest = row.path[len(prefix) + 1 :] if prefix else row.path
            head, sep, _ = rest.partition("/")
            full = join_artifact_path(prefix, head)
            entries[full] = (
                ArtifactEntry(full, True)
                if sep
                else ArtifactEntry(full, False, row.size, row.digest)
            )
        if prefix and not entries and not self._rows(run_id, prefix, exact=True):
            raise NotFoundError("artifact", run_uri(run_id, prefix))
        return sorted(entries.values(), key=lambda e: e.path)

    def download(self, run_id: str, path: str = "", dest: Path | None = None) -> Path:
        """Copy a file or folder of the run to ``dest`` (verified); returns the local path.

        Every stored path is checked before anything is written: one with ``..`` or a
        symbolic link inside ``dest`` on the way is refused
        (:func:`~loopml.artifacts.local_target`).

        Raises:
            NotFoundError: the run has nothing at ``path``.
            UnsafePathError: a stored path or a link inside ``dest`` would lead outside it.
        """
        self._check_run(run_id)
        prefix = safe_artifact_path(path)
        dest = (dest or Path.cwd()).absolute()
        name = prefix.rpartition("/")[2]
        exact = self._rows(run_id, prefix, exact=True)
        if exact:
            target = local_target(dest, name) if dest.is_dir() else dest
            self.artifact_store.get_file(exact[0].digest, target)
            return target
        rows = self._rows(run_id, prefix)
        if not rows:
            raise NotFoundError(
                "artifact",
                run_uri(run_id, prefix),
                hint=f"list them with `loopml runs show {run_id}`",
            )
        cut = len(prefix) + 1 if prefix else 0
        files = [
            ManifestEntry(f"{name}/{r.path[cut:]}" if name else r.path, r.digest, r.size)
            for r in rows
        ]
        self.artifact_store.get_tree(files, dest)  # checks every path (local_target) before writing
        return dest / name if name else dest

    def read_bytes(self, run_id: str, path: str) -> bytes:
        """The verified content of one artifact file."""
        self._check_run(run_id)
        rows = self._rows(run_id, safe_artifact_path(path), exact=True)
        if not rows:
            raise NotFoundError("artifact", run_uri(run_id, path))
        return self.artifact_store.get_bytes(rows[0].digest)

    def open_file(self, run_id: str, path: str) -> tuple[ArtifactEntry, BinaryIO]:
        """One artifact file's entry and a stream over its content, to serve it in chunks.

        The stream raises ``DigestMismatchError`` at its end when the stored bytes are
        corrupt (:meth:`~loopml.artifacts.ArtifactStore.open_verified`).

        Raises:
            NotFoundError: the run has no file at ``path`` (a folder is not a file).
            UnsafePathError: ``path`` is absolute or has a ``..`` component.
        """
        entry = self.file_entry(run_id, path)
        assert entry.digest is not None
        return entry, self.artifact_store.open_verified(entry.digest)

    def _rows(self, run_id: str, prefix: str, exact: bool = False) -> builtins.list[ManifestEntry]:
        c = artifact_files.c
        where = and_(c.owner_kind == OWNER, c.owner_id == run_id)
        if exact:
            where = and_(where, c.path == prefix)
        elif prefix:
            where = and_(where, under_folder(c.path, prefix))
        with self.store.read() as conn:
            rows = conn.execute(select(c.path, c.digest, c.size).where(where).order_by(c.path))
            return [ManifestEntry(r.path, r.digest, r.size) for r in rows]

    def _record(self, run_id: str, entries: builtins.list[ManifestEntry]) -> None:
        now = now_ms()

        def work(conn: Connection) -> None:
            for start in range(0, len(entries), 500):
                chunk = entries[start : start + 500]
                conn.execute(
                    delete(artifact_files).where(
                        artifact_files.c.owner_kind == OWNER,
                        artifact_files.c.owner_id == run_id,
                        artifact_files.c.path.in_([e.path for e in chunk]),
                    )
                )
                conn.execute(
                    artifact_files.insert(),
                    [
                        {
                            "owner_kind": OWNER,
                            "owner_id": run_id,
                            "path": e.path,
                            "digest": e.digest,
                            "size": e.size,
                            "created_at": now,
                        }
                        for e in chunk
                    ],
                )

        if entries:
            self.store.transact(work)


def collect_garbage(
    store: Store, blobs: ArtifactStore, *, grace_seconds: float = 3600, dry_run: bool = False
) -> GcReport:
    """Forget the files of deleted runs, then delete blobs that nothing references."""
    if not dry_run:
        deleted_runs = select(runs.c.id).where(runs.c.deleted_at.is_not(None))
        store.transact(
            lambda conn: conn.execute(
                delete(artifact_files).where(
                    artifact_files.c.owner_kind == OWNER,
                    artifact_files.c.owner_id.in_(deleted_runs),
                )
            )
        )
    with store.read() as conn:
        query = select(artifact_files.c.digest).distinct()
        if dry_run:
            deleted = select(runs.c.id).where(runs.c.deleted_at.is_not(None))
            query = query.where(
                ~and_(artifact_files.c.owner_kind == OWNER, artifact_files.c.owner_id.in_(deleted))
            )
        referenced = set(conn.execute(query).scalars())
    return blobs.collect_garbage(referenced, grace_seconds=grace_seconds, dry_run=dry_run)
