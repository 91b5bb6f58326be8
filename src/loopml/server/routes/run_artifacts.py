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

import shutil
import tempfile
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.responses import StreamingResponse

from loopml.artifacts import safe_artifact_path
from loopml.errors import InvalidInputError, NotFoundError
from loopml.server.api import Api, Call, Param, Reply
from loopml.server.routes._files import file_reply, receive_file
from loopml.server.scopes import path_run, run_scope

__all__ = ["api", "check_writable", "file_path"]

api = Api("/api/v1", tag="tracking")


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
    run_id = call.path["run_id"]
    entry = artifacts.file_entry(run_id, path)
    assert entry.digest is not None
    assert entry.size is not None
    digest = entry.digest
    return file_reply(
        call,
        digest,
        entry.size,
        whole=lambda: artifacts.open_file(run_id, path)[1],
        at=lambda start: artifacts.artifact_store.open_at(digest, start),
        name=path.rpartition("/")[2],
    )


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
        size, digest = await receive_file(call, target)
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
