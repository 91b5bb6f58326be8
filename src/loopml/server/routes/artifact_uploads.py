"""Resumable artifact uploads, and presigned URLs straight to an S3 artifact store.

A staged upload (``/runs/{id}/artifact-uploads``) takes a large file in chunks: each is
appended at the offset the server reports and must fit the body limit on its own, and
the file reaches the run only when the client completes it with the SHA-256 of the
whole (:mod:`loopml.server.uploads` keeps them). When the artifact store is S3, a client
may instead get presigned URLs (``/runs/{id}/artifacts/presign``) and move the bytes to
and from the store itself; completing such an upload has the store check the object's
SHA-256 before the run records it.
"""

from __future__ import annotations

import re
from typing import Any

import anyio.to_thread
from starlette.requests import ClientDisconnect

from loopml.artifacts import sha256_file
from loopml.clock import now_ms
from loopml.errors import ConflictError, InvalidInputError, PayloadTooLargeError
from loopml.server.api import Api, Call, Param
from loopml.server.routes.run_artifacts import check_writable, file_path
from loopml.server.scopes import of_run, path_run, run_scope

__all__ = ["api"]

api = Api("/api/v1", tag="tracking")

_SHA256 = re.compile(r"[0-9a-f]{64}")
# Uploads to a run are checked on its experiment (a grant on experiment:NAME counts).
ON_RUN = run_scope(path_run)


# -- staged uploads (resumable, through the server) ---------------------------------------

_UPLOADS = "/runs/{run_id}/artifact-uploads"


@api.post(
    _UPLOADS,
    summary="Start a resumable upload of one artifact file, sent in chunks",
    status=201,
    scope=ON_RUN,
)
def start_upload(call: Call) -> dict[str, Any]:
    run_id = call.path["run_id"]
    path = file_path(call.field("path"))
    size = call.field("size", int, default=None)
    if size is not None and size < 0:
        raise InvalidInputError(f"field 'size' must be 0 or more, got {size}")
    check_writable(call, run_id)
    upload = call.ctx.uploads.create(run_id, path, call.principal.user, size=size)
    return {**upload.to_dict(), "chunk_limit": call.ctx.config.max_body_bytes}


@api.get(
    _UPLOADS + "/{upload_id}",
    summary="An upload in progress: how many bytes it holds (the offset to resume from)",
    role="editor",
    scope=ON_RUN,
)
def upload_status(call: Call) -> dict[str, Any]:
    upload = call.ctx.uploads.get(call.path["run_id"], call.path["upload_id"], call.principal.user)
    return {**upload.to_dict(), "chunk_limit": call.ctx.config.max_body_bytes}


@api.put(
    _UPLOADS + "/{upload_id}",
    summary="Append one chunk (the raw body) at ?offset=, which must be the upload's size",
    params=(Param("offset", "integer", "where the chunk starts: the upload's size", True),),
    raw_body=True,
    scope=ON_RUN,
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
    scope=ON_RUN,
)
def complete_upload(call: Call) -> dict[str, Any]:
    run_id, upload_id = call.path["run_id"], call.path["upload_id"]
    digest = _sha256(call.field("sha256"))
    size = call.field("size", int, default=None)
    check_writable(call, run_id)
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


@api.delete(
    _UPLOADS + "/{upload_id}",
    summary="Abandon an upload; what it held is deleted",
    scope=ON_RUN,
)
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
    scope=ON_RUN,
)
def presign(call: Call) -> dict[str, Any]:
    run_id = call.path["run_id"]
    path = file_path(call.field("path"))
    method = call.field("method", default="GET").upper()
    if method not in ("GET", "PUT"):
        raise InvalidInputError(f"field 'method' must be GET or PUT, got {method!r}")
    if method == "PUT":
        call.require("editor", of_run(call, run_id), action="upload artifacts")
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
    digest = _sha256(call.field("sha256"))
    size = call.field("size", int, default=None)
    check_writable(call, run_id)
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
