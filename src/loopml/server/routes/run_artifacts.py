"""A run's artifacts over REST: list them, download one file, upload one file.

Both directions stream: a download is read from the artifact store in chunks (verified
against its digest on the way), an upload is written to a temporary file on the server's
disk as it arrives and then logged through the tracking client, so neither holds a whole
file in memory and an upload may be larger than the server's body limit. Paths are
checked with :func:`loopml.artifacts.safe_artifact_path`: ``..``, absolute paths and
other escapes are refused with 400.

Large files resume. A download honours ``Range`` (206, or 416 past the end). An upload
may be staged (``/artifact-uploads``): chunks are appended at the offset the server
reports, each within the body limit, and the file reaches the run only when the client
completes it with the SHA-256 of the whole. When the artifact store is S3, a client may
instead get presigned URLs (``/artifacts/presign``) and move the bytes to and from the
store itself; completing such an upload checks the object before the run records it.
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
from starlette.requests import ClientDisconnect
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from loopml.artifacts import safe_artifact_path, sha256_file
from loopml.clock import now_ms
from loopml.errors import ConflictError, InvalidInputError, NotFoundError, PayloadTooLargeError
from loopml.server._http import dump_json
from loopml.server.api import Api, Call, Param, Reply

__all__ = ["api"]

api = Api("/api/v1", tag="tracking")

CHUNK = 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")
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
    path = _file_path(call.path["path"])
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
)
async def upload_artifact(call: Call) -> dict[str, Any]:
    path = _file_path(call.path["path"])
    run_id = call.path["run_id"]
    tracking = call.ctx.tracking
    await anyio.to_thread.run_sync(_check_writable, call, run_id)
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


# -- staged uploads (resumable, through the server) ---------------------------------------

_UPLOADS = "/runs/{run_id}/artifact-uploads"


@api.post(
    _UPLOADS,
    summary="Start a resumable upload of one artifact file, sent in chunks",
    status=201,
)
def start_upload(call: Call) -> dict[str, Any]:
    run_id = call.path["run_id"]
    path = _file_path(call.field("path"))
    size = call.field("size", int, default=None)
    if size is not None and size < 0:
        raise InvalidInputError(f"field 'size' must be 0 or more, got {size}")
    _check_writable(call, run_id)
    upload = call.ctx.uploads.create(run_id, path, call.principal.user, size=size)
    return {**upload.to_dict(), "chunk_limit": call.ctx.config.max_body_bytes}


@api.get(
    _UPLOADS + "/{upload_id}",
    summary="An upload in progress: how many bytes it holds (the offset to resume from)",
    role="editor",
)
def upload_status(call: Call) -> dict[str, Any]:
    upload = call.ctx.uploads.get(call.path["run_id"], call.path["upload_id"], call.principal.user)
    return {**upload.to_dict(), "chunk_limit": call.ctx.config.max_body_bytes}


@api.put(
    _UPLOADS + "/{upload_id}",
    summary="Append one chunk (the raw body) at ?offset=, which must be the upload's size",
    params=(Param("offset", "integer", "where the chunk starts: the upload's size", True),),
    raw_body=True,
)
async def append_chunk(call: Call) -> dict[str, Any]:
    run_id, upload_id, user = call.path["run_id"], call.path["upload_id"], call.principal.user
    offset = call.integer("offset", low=0)
    if offset is None:
        raise InvalidInputError("send the chunk's place as ?offset=N (the upload's size)")
    uploads = call.ctx.uploads
    upload = await anyio.to_thread.run_sync(uploads.get, run_id, upload_id, user)
    if offset != upload.offset:  # answer before reading a chunk that cannot be used
        await anyio.to_thread.run_sync(uploads.append, run_id, upload_id, user, offset, b"")
    data = await _read_chunk(call, call.ctx.config.max_body_bytes)
    upload = await anyio.to_thread.run_sync(uploads.append, run_id, upload_id, user, offset, data)
    return upload.to_dict()


@api.post(
    _UPLOADS + "/{upload_id}/complete",
    summary="Check the uploaded file against its sha256 and add it to the run's artifacts",
    status=201,
)
def complete_upload(call: Call) -> dict[str, Any]:
    run_id, upload_id = call.path["run_id"], call.path["upload_id"]
    digest = _sha256(call.field("sha256"))
    size = call.field("size", int, default=None)
    _check_writable(call, run_id)
    tracking = call.ctx.tracking
    store = tracking.run_artifacts.artifact_store
    with call.ctx.uploads.completing(run_id, upload_id, call.principal.user) as (upload, data):
        size = upload.size if size is None else size
        if upload.direct:
            stored = store.adopt_upload(upload_id, digest)
        else:
            if size is not None and size != upload.offset:
                raise _size_mismatch(upload_id, upload.offset, size)
            actual = sha256_file(data)
            if actual != digest:
                raise InvalidInputError(
                    f"upload {upload_id} hashes to {actual}, not the sha256 {digest} given; "
                    "nothing was committed: resend the file (or the right sha256)",
                    details={"upload_id": upload_id, "sha256": digest, "actual": actual},
                )
            stored = store.put_file(data)
        if size is not None and size != stored.size:
            raise _size_mismatch(upload_id, stored.size, size)
        path = tracking.run_artifacts.log_stored(run_id, upload.path, stored)
    return {"path": path, "size": stored.size, "digest": stored.digest}


@api.delete(_UPLOADS + "/{upload_id}", summary="Abandon an upload; what it held is deleted")
def abandon_upload(call: Call) -> dict[str, Any]:
    run_id, upload_id = call.path["run_id"], call.path["upload_id"]
    upload = call.ctx.uploads.discard(run_id, upload_id, call.principal.user)
    if upload.direct:
        call.ctx.tracking.run_artifacts.artifact_store.discard_upload(upload_id)
    return {"upload_id": upload_id, "abandoned": True}


# -- presigned URLs (straight to and from an S3 artifact store) ---------------------------


@api.post(
    "/runs/{run_id}/artifacts/presign",
    summary="A presigned URL to GET an artifact file from, or PUT one to, the artifact "
    "store itself (S3 stores; 409 for stores clients cannot reach)",
    role="viewer",  # a download; an upload checks editor below
)
def presign(call: Call) -> dict[str, Any]:
    run_id = call.path["run_id"]
    path = _file_path(call.field("path"))
    method = call.field("method", default="GET").upper()
    store = call.ctx.tracking.run_artifacts.artifact_store
    if not store.direct:
        raise ConflictError(
            "this server's artifact store keeps files where clients cannot reach them (not "
            "S3); send them through the server: PUT/GET /runs/{id}/artifacts/{path}, or "
            "/runs/{id}/artifact-uploads for large files",
            details={"direct": False},
        )
    expires_s = call.ctx.config.presign_expires_s
    expires_at = now_ms() + expires_s * 1000
    if method == "GET":
        entry = call.ctx.tracking.run_artifacts.file_entry(run_id, path)
        assert entry.digest is not None
        url = store.presign_download(entry.digest, expires_s=expires_s)
        return {
            "method": "GET",
            "url": url,
            "path": entry.path,
            "size": entry.size,
            "sha256": entry.digest,
            "url_expires_at": expires_at,
        }
    if method != "PUT":
        raise InvalidInputError(f"field 'method' must be GET or PUT, got {method!r}")
    call.require("editor", action="upload artifacts")
    digest = _sha256(call.field("sha256"))
    size = call.field("size", int, default=None)
    _check_writable(call, run_id)
    upload = call.ctx.uploads.create(run_id, path, call.principal.user, size=size, direct=True)
    url, headers = store.presign_upload(upload.id, digest, expires_s=expires_s)
    return {
        **upload.to_dict(),
        "method": "PUT",
        "url": url,
        "headers": headers,
        "url_expires_at": expires_at,
    }


async def _read_chunk(call: Call, limit: int) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes (the limit is per chunk)."""
    assert call.stream is not None, "raw_body operations get the request stream"
    declared = call.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _chunk_too_large(int(declared), limit)
    parts, size = [], 0
    try:
        async for part in call.stream:
            size += len(part)
            if size > limit:
                raise _chunk_too_large(size, limit)
            parts.append(part)
    except ClientDisconnect as err:  # a dropped connection: the client resumes from the offset
        raise InvalidInputError(
            "the connection closed before the whole chunk arrived; nothing was appended"
        ) from err
    if declared is not None and declared.isdigit() and size != int(declared):
        raise InvalidInputError(
            f"the chunk ended after {size:,} of the {int(declared):,} bytes announced; "
            "nothing was appended"
        )
    return b"".join(parts)


def _chunk_too_large(size: int, limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"this chunk has {size:,} bytes or more, over this server's limit of {limit:,} per "
        "request; send smaller chunks",
        details={"limit": limit},
    )


def _size_mismatch(upload_id: str, held: int, size: int) -> InvalidInputError:
    return InvalidInputError(
        f"upload {upload_id} holds {held:,} bytes, not the {size:,} given; nothing was "
        "committed: send the rest, or start again",
        details={"upload_id": upload_id, "offset": held, "size": size},
    )


def _sha256(value: str) -> str:
    digest = value.strip().lower()
    if not _SHA256.fullmatch(digest):
        raise InvalidInputError(
            f"sha256 {value!r} is not a SHA-256 hex digest (64 hex characters)",
            details={"field": "sha256"},
        )
    return digest


def _file_path(raw: str) -> str:
    """The artifact path of a URL, normalised; one naming a file (not the root)."""
    path = safe_artifact_path(raw)
    if not path:
        raise InvalidInputError(
            "name the artifact file after /artifacts/, e.g. /artifacts/model/weights.bin"
        )
    return path


def _check_writable(call: Call, run_id: str) -> None:
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
