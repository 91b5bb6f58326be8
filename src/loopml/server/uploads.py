"""Staged artifact uploads: a large file sent in chunks, resumable, committed at the end.

An upload is a folder under the server's ``cache/uploads``: ``meta.json`` (run, path,
user, whether the client sends the bytes to the store itself) and, for uploads through
the server, ``data``, which grows by one chunk per request. A chunk is appended only at
the current end of ``data`` (its size is the offset a client resumes from), under a file
lock, and fsynced before it is acknowledged, so a client that lost its connection, or a
server that restarted, picks up where the last acknowledged chunk ended. Nothing reaches
the run until the client completes the upload with the file's SHA-256. Uploads idle for
longer than their time to live are deleted.

Example:
    >>> uploads = StagedUploads(Path(tempfile.mkdtemp()), ttl_s=3600)  # doctest: +SKIP
    >>> up = uploads.create("RUN", "model/weights.bin", "ana")  # doctest: +SKIP
    >>> uploads.append("RUN", up.id, "ana", 0, b"abc").offset  # doctest: +SKIP
    3
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from loopml.clock import now_ms
from loopml.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError

__all__ = ["StagedUploads", "Upload"]

_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class Upload:
    """One staged upload as the server reports it; ``offset`` is how many bytes it holds."""

    id: str
    run_id: str
    path: str
    user: str
    created_at: int
    expires_at: int
    offset: int = 0
    size: int | None = None  # the whole file's size, when the client said it
    direct: bool = False  # the client PUTs the bytes to the artifact store itself

    def to_dict(self) -> dict[str, Any]:
        return {"upload_id": self.id, **{k: v for k, v in asdict(self).items() if k != "id"}}


class StagedUploads:
    """The uploads in progress under ``root``, each idle at most ``ttl_s`` seconds.

    Several server processes may share ``root``: every change holds the upload's lock.
    """

    def __init__(self, root: Path, *, ttl_s: float) -> None:
        self.root = root
        self.ttl_ms = int(ttl_s * 1000)

    def create(
        self, run_id: str, path: str, user: str, *, size: int | None = None, direct: bool = False
    ) -> Upload:
        """Start an upload of ``path`` into ``run_id`` (and delete expired ones)."""
        self.sweep()
        upload_id = secrets.token_hex(16)
        folder = self.root / upload_id
        folder.mkdir(parents=True)
        meta = {"run_id": run_id, "path": path, "user": user, "size": size, "direct": direct}
        meta["created_at"] = now_ms()
        _write_json(folder / "meta.json", meta)
        (folder / "data").touch()
        return self._load(upload_id, folder)

    def get(self, run_id: str, upload_id: str, user: str) -> Upload:
        """The upload, if ``user`` started it in ``run_id`` and it has not expired."""
        return self._load(upload_id, self._folder(run_id, upload_id, user))

    def append(self, run_id: str, upload_id: str, user: str, offset: int, data: bytes) -> Upload:
        """Add ``data`` at ``offset``, which must be the upload's current size.

        Raises:
            ConflictError: ``offset`` is not the current size (``details["offset"]`` is).
            InvalidInputError: the chunk would pass the size the client announced.
        """
        folder = self._folder(run_id, upload_id, user)
        with _locked(folder):
            upload = self._load(upload_id, folder)
            if upload.direct:
                raise ConflictError(
                    f"upload {upload_id} goes to the artifact store directly; PUT the file "
                    "to the URL it came with, or start an upload through the server",
                    details={"upload_id": upload_id},
                )
            if offset != upload.offset:
                raise ConflictError(
                    f"upload {upload_id} holds {upload.offset:,} bytes, so the next chunk "
                    f"starts at offset {upload.offset}, not {offset}; resume from there",
                    details={"upload_id": upload_id, "offset": upload.offset},
                )
            if upload.size is not None and offset + len(data) > upload.size:
                raise InvalidInputError(
                    f"upload {upload_id} was announced as {upload.size:,} bytes; this chunk "
                    f"would make it {offset + len(data):,}",
                    details={"upload_id": upload_id, "offset": upload.offset},
                )
            with (folder / "data").open("ab") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            return self._load(upload_id, folder)

    @contextlib.contextmanager
    def completing(self, run_id: str, upload_id: str, user: str) -> Iterator[tuple[Upload, Path]]:
        """Hold the upload while it is committed; it is deleted once the block succeeds."""
        folder = self._folder(run_id, upload_id, user)
        with _locked(folder):
            upload = self._load(upload_id, folder)  # a completed twice one is gone by now
            yield upload, folder / "data"
            (folder / "meta.json").unlink()  # under the lock: a chunk waiting for it finds none
        shutil.rmtree(folder, ignore_errors=True)

    def discard(self, run_id: str, upload_id: str, user: str) -> Upload:
        """Abandon the upload; its bytes are deleted."""
        folder = self._folder(run_id, upload_id, user)
        with _locked(folder):
            upload = self._load(upload_id, folder)
            (folder / "meta.json").unlink()
        shutil.rmtree(folder, ignore_errors=True)
        return upload

    def sweep(self) -> list[str]:
        """Delete every upload idle for longer than its time to live; their ids."""
        gone = []
        for folder in sorted(self.root.glob("*")) if self.root.is_dir() else []:
            if _ID.fullmatch(folder.name) and self._expired(folder):
                shutil.rmtree(folder, ignore_errors=True)
                gone.append(folder.name)
        return gone

    def _folder(self, run_id: str, upload_id: str, user: str) -> Path:
        if not _ID.fullmatch(upload_id):
            raise NotFoundError("upload", upload_id, hint="use the upload_id the server gave")
        folder = self.root / upload_id
        meta = _read_json(folder / "meta.json")
        if meta is None or meta["run_id"] != run_id or self._expired(folder):
            raise NotFoundError(
                "upload",
                upload_id,
                hint=f"it is not an upload of run {run_id} in progress (uploads idle for "
                f"{self.ttl_ms // 1000:,} s expire); start a new one",
            )
        if meta["user"] != user:
            raise ForbiddenError(
                f"upload {upload_id} was started by {meta['user']!r}; only they can send it"
            )
        return folder

    def _expired(self, folder: Path) -> bool:
        try:
            idle_since = max(p.stat().st_mtime for p in folder.iterdir()) * 1000
        except (FileNotFoundError, ValueError):
            return True
        return idle_since + self.ttl_ms < now_ms()

    def _load(self, upload_id: str, folder: Path) -> Upload:
        meta = _read_json(folder / "meta.json")
        if meta is None:
            raise NotFoundError("upload", upload_id, hint="it was completed or abandoned")
        try:
            data = (folder / "data").stat()
        except FileNotFoundError as err:
            raise NotFoundError("upload", upload_id, hint="it was completed or abandoned") from err
        idle_since = max(int(data.st_mtime * 1000), meta["created_at"])
        return Upload(
            id=upload_id,
            run_id=meta["run_id"],
            path=meta["path"],
            user=meta["user"],
            created_at=meta["created_at"],
            expires_at=idle_since + self.ttl_ms,
            offset=data.st_size,
            size=meta.get("size"),
            direct=bool(meta.get("direct")),
        )


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    try:
        fd = os.open(folder / "meta.json", os.O_RDONLY)
    except FileNotFoundError as err:
        raise NotFoundError("upload", folder.name, hint="it was completed or abandoned") from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_json(target: Path, value: dict[str, Any]) -> None:
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    with os.fdopen(fd, "w") as out:
        json.dump(value, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, target)


def _read_json(source: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(source.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return value if isinstance(value, dict) else None
