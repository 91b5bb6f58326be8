"""A run's artifacts over REST: list them, download one file, upload one file.

Both directions stream: a download is read from the artifact store in chunks (verified
against its digest on the way), an upload is written to a temporary file on the server's
disk as it arrives and then logged through the tracking client, so neither holds a whole
file in memory and an upload may be larger than the server's body limit. Paths are
checked with :func:`loopml.artifacts.safe_artifact_path`: ``..``, absolute paths and
other escapes are refused with 400.

A download honours ``Range`` (206, or 416 past the end), so a large one resumes; large
uploads resume through :mod:`loopml.server.routes.artifact_uploads`.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import anyio.to_thread
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from loopml.artifacts import safe_artifact_path
from loopml.errors import InvalidInputError, NotFoundError
from loopml.server._http import dump_json
from loopml.server.api import Api, Call, Param, Reply
from loopml.server.scopes import path_run, run_scope

__all__ = ["api", "check_writable", "file_path"]

api = Api("/api/v1", tag="tracking")

CHUNK = 1024 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@api.get(
    "/runs/{run_id}/artifacts",
    summary="The files and folders directly inside a folder of a run's artifacts",
    params=(Param("path", description="a folder inside the run (default: the root)"),),
)
def list_artifacts(call: Call) -> dict[str, Any]:
    path = safe_artifact_path(call.text("path", "") or "")
    entries = call.ctx.tracking.run_artifacts.list(call.path["run_id"], path)
    return {"path": path, "artifacts": entries}


@api.get(
    "/runs/{run_id}/artifacts/{path:path}",
    summary="Download one artifact file (streamed, verified against its digest)",
)
def download_artifact(call: Call) -> StreamingResponse | Reply:
    path = file_path(call.path["path"])
    artifacts = call.ctx.tracking.run_artifacts
    name = path.rpartition("/")[2].replace('"', "")
    headers = {"accept-ranges": "bytes", "content-disposition": f'attachment; filename="{name}"'}
    wanted = call.headers.get("range")
    if wanted is None:
        entry, stream = artifacts.open_file(call.path["run_id"], path)
        headers |= {"content-length": str(entry.size), "etag": f'"{entry.digest}"'}
        return _FileStream(stream, headers=headers)
    entry = artifacts.file_entry(call.path["run_id"], path)
    assert entry.digest is not None
    assert entry.size is not None
    span = _byte_range(wanted, entry.size)
    if span is None:
        return _unsatisfiable(wanted, entry.size)
    start, end = span
    stream = artifacts.artifact_store.open_at(entry.digest, start)
    headers |= {
        "content-length": str(end - start + 1),
        "content-range": f"bytes {start}-{end}/{entry.size}",
        "etag": f'"{entry.digest}"',
    }
    return _FileStream(stream, end - start + 1, status_code=206, headers=headers)


@api.put(
    "/runs/{run_id}/artifacts/{path:path}",
    summary="Upload one artifact file: the raw request body is the file's content",
    raw_body=True,
    status=201,
    scope=run_scope(path_run),
)
async def upload_artifact(call: Call) -> dict[str, Any]:
    path = file_path(call.path["path"])
    run_id = call.path["run_id"]
    tracking = call.ctx.tracking
    await anyio.to_thread.run_sync(check_writable, call, run_id)
    folder, _, name = path.rpartition("/")
    scratch = call.ctx.settings.home / "cache" / "tmp"
    await anyio.to_thread.run_sync(lambda: scratch.mkdir(parents=True, exist_ok=True))
    workdir = Path(await anyio.to_thread.run_sync(lambda: tempfile.mkdtemp(dir=scratch)))
    try:
        target = workdir / name
        size, digest = await _receive(call, target)
        stored = await anyio.to_thread.run_sync(
            lambda: tracking.log_artifact(run_id, target, folder)
        )
    finally:
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(workdir, ignore_errors=True))
    return {"path": stored, "size": size, "digest": digest}


def file_path(raw: str) -> str:
    """The artifact path of a URL, normalised; one naming a file (not the root)."""
    path = safe_artifact_path(raw)
    if not path:
        raise InvalidInputError(
            "name the artifact file after /artifacts/, e.g. /artifacts/model/weights.bin"
        )
    return path


def check_writable(call: Call, run_id: str) -> None:
    """Answer an unknown or deleted run before reading any of the body."""
    run = call.ctx.tracking.get_run(run_id)
    if run.deleted_at is not None:
        raise NotFoundError("run", run_id, hint="it was deleted")


async def _receive(call: Call, target: Path) -> tuple[int, str]:
    """Write the request body to ``target`` as it arrives; its size and SHA-256."""
    assert call.stream is not None, "raw_body operations get the request stream"
    hasher, size = hashlib.sha256(), 0
    out = await anyio.to_thread.run_sync(lambda: target.open("wb"))
    try:
        pending: list[bytes] = []
        held = 0
        async for chunk in call.stream:
            if not chunk:
                continue
            hasher.update(chunk)
            size += len(chunk)
            pending.append(chunk)
            held += len(chunk)
            if held >= CHUNK:
                await anyio.to_thread.run_sync(out.write, b"".join(pending))
                pending, held = [], 0
        if pending:
            await anyio.to_thread.run_sync(out.write, b"".join(pending))
    finally:
        await anyio.to_thread.run_sync(out.close)
    return size, hasher.hexdigest()


class _FileStream(StreamingResponse):
    """A stored file streamed out, closed however the response ends (a client that goes
    away mid-download stops the iteration without closing the generator)."""

    def __init__(
        self, stream: BinaryIO, length: int | None = None, *, status_code: int = 200, **kw: Any
    ) -> None:
        super().__init__(
            _chunks(stream, length),
            status_code=status_code,
            media_type="application/octet-stream",
            **kw,
        )
        self._stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._stream.close()


def _chunks(stream: BinaryIO, length: int | None = None) -> Iterator[bytes]:
    """The stream's content (its first ``length`` bytes) in chunks (Starlette iterates
    this on a worker thread)."""
    left = -1 if length is None else length
    with stream:
        while left and (chunk := stream.read(CHUNK if left < 0 else min(CHUNK, left))):
            left -= len(chunk) if left > 0 else 0
            yield chunk


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The first and last byte a ``Range: bytes=…`` header asks for; ``None`` when
    nothing of a ``size``-byte file is in it (416). One range only."""
    found = _RANGE.fullmatch(header.strip())
    if found is None or found.group(1) == found.group(2) == "":
        raise InvalidInputError(
            f"Range {header!r} is not one byte range; send e.g. 'bytes=1048576-' to resume",
            details={"range": header},
        )
    first, last = found.group(1), found.group(2)
    if first == "":  # the last N bytes
        count = int(last)
        return (max(0, size - count), size - 1) if count and size else None
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        return None
    return start, end


def _unsatisfiable(header: str, size: int) -> Reply:
    error = {
        "error": {
            "code": "range_not_satisfiable",
            "message": f"Range {header!r} asks for nothing inside this {size:,}-byte file; "
            f"ask for bytes 0 to {max(size - 1, 0)}",
            "details": {"range": header, "size": size},
        }
    }
    return Reply(dump_json(error), 416, headers={"content-range": f"bytes */{size}"})
