"""MLflow's artifact routes: the run artifact listing and the ``mlflow-artifacts`` proxy.

A run's ``artifact_uri`` is ``mlflow-artifacts:/<experiment id>/<run id>/artifacts``; MLflow
clients turn it into ``/api/2.0/mlflow-artifacts/artifacts/<experiment id>/<run id>/
artifacts/<path>`` on this server, where uploads (PUT) and downloads (GET) are streamed
into and out of the run's loopml artifacts. Paths with ``..``, absolute paths and the like
are refused (INVALID_PARAMETER_VALUE).
"""

from __future__ import annotations

import posixpath
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import anyio.to_thread
from starlette.responses import StreamingResponse

from loopml.artifacts import safe_artifact_path
from loopml.errors import InvalidInputError, NotFoundError
from loopml.server.api import Call, Param
from loopml.server.mlflow._api import mlflow_api, mlflow_artifacts_api
from loopml.tracking import TrackingClient
from loopml.tracking.run_artifacts import ArtifactEntry
from loopml.uris import run_uri

__all__ = ["locate"]

_CHUNK = 1024 * 1024


def locate(tracking: TrackingClient, path: str) -> tuple[str, str]:
    """``(run id, path inside the run)`` of ``<experiment id>/<run id>/artifacts/<path>``."""
    parts = safe_artifact_path(path).split("/")
    if len(parts) < 3 or parts[2] != "artifacts":
        raise InvalidInputError(
            f"artifact path {path!r} is not <experiment id>/<run id>/artifacts[/<path>]; use "
            "the run's artifact_uri (mlflow-artifacts:/…) as MLflow clients do"
        )
    run = tracking.get_run(parts[1])
    if run.experiment_id != parts[0]:
        raise NotFoundError("artifact", path, hint=f"run {run.id} is not in experiment {parts[0]}")
    return run.id, "/".join(parts[3:])


def _entries(tracking: TrackingClient, run_id: str, path: str) -> list[ArtifactEntry]:
    """The entries directly inside ``path`` (none when nothing is there, as in MLflow)."""
    try:
        return tracking.run_artifacts.list(run_id, path)
    except NotFoundError as err:
        if err.kind == "run":
            raise
        return []


def _file_json(entry: ArtifactEntry, name: str) -> dict[str, Any]:
    found: dict[str, Any] = {"path": name, "is_dir": entry.is_dir}
    if not entry.is_dir and entry.size is not None:
        found["file_size"] = entry.size
    return found


@mlflow_api.get(
    "/artifacts/list",
    summary="A run's artifacts directly inside a folder (MLflow)",
    params=(Param("run_id", required=True), Param("path")),
)
def list_run_artifacts(call: Call) -> object:
    tracking = call.ctx.tracking
    run_id = call.text("run_id") or call.text("run_uuid")
    if not run_id:
        raise InvalidInputError("Missing value for required parameter 'run_id'")
    run = tracking.get_run(run_id)
    path = safe_artifact_path(call.text("path") or "")
    return {
        "root_uri": f"mlflow-artifacts:/{run.experiment_id}/{run.id}/artifacts",
        "files": [_file_json(e, e.path) for e in _entries(tracking, run.id, path)],
        "next_page_token": None,
    }


@mlflow_artifacts_api.get(
    "/artifacts",
    summary="List artifacts through the proxy (mlflow-artifacts)",
    params=(Param("path", description="<experiment id>/<run id>/artifacts[/<path>]"),),
)
def proxy_list(call: Call) -> object:
    tracking = call.ctx.tracking
    run_id, inner = locate(tracking, call.text("path") or "")
    return {
        "files": [
            _file_json(e, posixpath.basename(e.path)) for e in _entries(tracking, run_id, inner)
        ]
    }


@mlflow_artifacts_api.get(
    "/artifacts/{path:path}", summary="Download one artifact file, streamed (mlflow-artifacts)"
)
def proxy_download(call: Call) -> object:
    tracking = call.ctx.tracking
    run_id, inner = locate(tracking, call.path["path"])
    folder, _, name = inner.rpartition("/")
    entry = next(
        (e for e in _entries(tracking, run_id, folder) if e.path == inner and not e.is_dir), None
    )
    if not inner or entry is None or entry.digest is None:
        raise NotFoundError("artifact", run_uri(run_id, inner), hint="list the run's artifacts")
    stream = tracking.run_artifacts.artifact_store.open_verified(entry.digest)
    headers = {"content-disposition": f'attachment; filename="{name}"'}
    if entry.size is not None:
        headers["content-length"] = str(entry.size)
    return StreamingResponse(
        _chunks(stream), media_type="application/octet-stream", headers=headers
    )


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    with stream:
        while chunk := stream.read(_CHUNK):
            yield chunk


@mlflow_artifacts_api.put(
    "/artifacts/{path:path}",
    summary="Upload one artifact file, streamed (mlflow-artifacts)",
    body=False,
    raw_body=True,
)
async def proxy_upload(call: Call) -> object:
    tracking = call.ctx.tracking
    run_id, inner = await anyio.to_thread.run_sync(locate, tracking, call.path["path"])
    folder, _, name = inner.rpartition("/")
    if not name:
        raise InvalidInputError("the upload path must name a file below the run's artifacts")
    assert call.stream is not None
    with tempfile.TemporaryDirectory(prefix="loopml-upload-") as tmp:
        target = Path(tmp) / name
        with target.open("wb") as out:
            pending: list[bytes] = []
            size = 0
            async for chunk in call.stream:
                pending.append(chunk)
                size += len(chunk)
                if size >= _CHUNK:
                    await anyio.to_thread.run_sync(out.writelines, pending)
                    pending, size = [], 0
            await anyio.to_thread.run_sync(out.writelines, pending)
        await anyio.to_thread.run_sync(tracking.log_artifact, run_id, target, folder)
    return {}
