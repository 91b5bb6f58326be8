"""Dataset versions logged and read over REST, for clients in remote mode.

``POST /api/v1/datasets/{name}/versions?format=…`` takes the content as the request body:
a Parquet or CSV file as it is, or a folder as a tar archive. The body is streamed to the
server's scratch space, a folder's archive is unpacked with everything but plain files
and folders refused (links, devices, absolute or ``..`` paths), and the result is logged
through the dataset client, so a version logged remotely is the version the same content
would make locally (same digest, same number if it exists already).

``POST /api/v1/runs/{run_id}/inputs`` records that a run consumed a version (its
``Run.inputs``). ``GET …/versions/{version}/files/{path}`` streams one stored file of a
version, verified against its digest as it is read; its ETag is that digest, for the
client to check again.
"""

from __future__ import annotations

import re
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.responses import StreamingResponse

from loopml.errors import InvalidInputError
from loopml.server.api import Api, Call, Param, Reply
from loopml.server.routes._files import file_reply, receive_file
from loopml.server.scopes import path_run, run_scope

__all__ = ["api"]

api = Api("/api/v1", tag="data")

FORMATS = ("parquet", "csv", "files")
# A file name as the client had it: one path part, no hidden or control characters.
_FILENAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\- ]{0,199}")


@api.post(
    "/datasets/{name}/versions",
    summary="Log a version: the body is a Parquet or CSV file, or a folder as a tar archive "
    "(format=parquet|csv|files); the same content gives the same version back",
    params=(
        Param("format", description="parquet, csv or files (a tar archive)", required=True),
        Param("filename", description="the file's name on the client (a CSV keeps it)"),
        Param("source", description="where the content came from, recorded with the version"),
        Param("description", description="describes the dataset"),
        Param("run_id", description="the run that consumed (or produced) the version"),
        Param("role", description="input (default) or output"),
        Param("encoding", description="the text encoding of a CSV that is not UTF-8"),
    ),
    raw_body=True,
    status=201,
)
async def log_version(call: Call) -> Any:
    fmt = call.text("format") or ""
    if fmt not in FORMATS:
        raise InvalidInputError(
            f"query parameter 'format' must be one of {', '.join(FORMATS)}, got {fmt[:40]!r}",
            details={"parameter": "format"},
        )
    filename = _filename(call.text("filename"), fmt)
    role = call.text("role") or "input"
    scratch = call.ctx.settings.home / "cache" / "tmp"
    await anyio.to_thread.run_sync(lambda: scratch.mkdir(parents=True, exist_ok=True))
    workdir = Path(await anyio.to_thread.run_sync(lambda: tempfile.mkdtemp(dir=scratch)))
    try:
        received = workdir / ("upload.tar" if fmt == "files" else filename)
        await receive_file(call, received)
        source = received
        if fmt == "files":
            source = workdir / "content"
            await anyio.to_thread.run_sync(_unpack, received, source)
        return await anyio.to_thread.run_sync(
            lambda: call.ctx.datasets.log(
                call.path["name"],
                source,
                description=call.text("description"),
                run_id=call.text("run_id"),
                role=role,  # type: ignore[arg-type]  # checked by the client
                format=fmt,
                encoding=call.text("encoding"),
                source_label=call.text("source") or f"upload by {call.principal.user}",
            )
        )
    finally:
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(workdir, ignore_errors=True))


@api.get(
    "/datasets/{name}/versions/{version}/files/{path:path}",
    summary="Download one stored file of a version (streamed, verified against its digest)",
)
def download_file(call: Call) -> StreamingResponse | Reply:
    from loopml.server.routes.data import version_uri

    uri = version_uri(call.path["name"], call.path["version"])
    path = call.path["path"]
    datasets = call.ctx.datasets
    entry, stream = datasets.open_file(uri, path)
    stream.close()  # the entry is what is needed first; each reply opens its own stream
    return file_reply(
        call,
        entry.digest,
        entry.size,
        whole=lambda: datasets.open_file(uri, path)[1],
        at=lambda start: datasets.artifact_store.open_at(entry.digest, start),
    )


@api.post(
    "/runs/{run_id}/inputs",
    summary="Record that a run consumed a dataset version (body: dataset, a datasets:/ URI; "
    "context, e.g. training, or null for none)",
    scope=run_scope(path_run),
)
def log_input(call: Call) -> Any:
    context = call.json().get("context", "training")  # null: consumed, no context said
    return call.ctx.datasets.log_input(call.field("dataset"), call.path["run_id"], context)


def _filename(raw: str | None, fmt: str) -> str:
    if raw is None or raw == "":
        return {"parquet": "data.parquet", "csv": "data.csv"}.get(fmt, "upload")
    if not _FILENAME.fullmatch(raw) or ".." in raw:
        raise InvalidInputError(
            f"query parameter 'filename' must be a plain file name (letters, digits, "
            f"'_', '-', '.', spaces; no folders), got {raw[:60]!r}",
            details={"parameter": "filename"},
        )
    return raw


def _unpack(archive: Path, dest: Path) -> None:
    """Unpack a folder's tar archive: plain files and folders only, all inside ``dest``."""
    dest.mkdir()
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                parts = member.name.replace("\\", "/").split("/")
                if member.name.startswith("/") or ".." in parts:
                    raise InvalidInputError(
                        f"the archive would write outside its folder ({member.name[:80]!r}); "
                        "archive relative paths, e.g. `tar -cf - -C FOLDER .`"
                    )
                if not (member.isfile() or member.isdir()):
                    raise InvalidInputError(
                        f"the archive holds {member.name[:80]!r}, which is not a plain file or "
                        "folder (links and devices are refused); archive the files themselves"
                    )
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as err:
        if isinstance(err, tarfile.FilterError):
            raise InvalidInputError(
                f"the archive would write outside its folder ({err}); archive relative paths"
            ) from err
        raise InvalidInputError(
            f"the body is not a readable tar archive of a folder ({err}); send "
            "`tar -cf - -C FOLDER .` with format=files"
        ) from err
