"""Model packages over REST, for ``loopml.load_model`` in remote mode.

``GET /api/v1/packages?uri=models:/churn@production`` names the place the package is
stored for good (an alias resolved now) and lists its files with their sizes and SHA-256
digests; ``GET /api/v1/packages/files/{path}?uri=…`` streams one of them, verified as it
is read (its ETag is the digest, for the client to check again). The client fetches the
files into its package cache and loads the package there, as it loads one from a store.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import StreamingResponse

from loopml.errors import InvalidInputError
from loopml.server.api import Api, Call, Param, Reply
from loopml.server.routes._files import file_reply

__all__ = ["api"]

api = Api("/api/v1", tag="registry")

URI = Param(
    "uri", description="models:/name/3, models:/name@alias or runs:/<id>/<path>", required=True
)


def _uri(call: Call) -> str:
    uri = call.text("uri")
    if not uri:
        raise InvalidInputError(
            "query parameter 'uri' is required: the package, e.g. ?uri=models:/churn@production",
            details={"parameter": "uri"},
        )
    return uri


@api.get("/packages", summary="Where a model package is stored, and its files", params=(URI,))
def package_files(call: Call) -> dict[str, Any]:
    where, entries = call.ctx.registry.package_files(_uri(call))
    return {
        "uri": where,
        "files": [{"path": e.path, "size": e.size, "digest": e.digest} for e in entries],
    }


@api.get(
    "/packages/files/{path:path}",
    summary="Download one file of a model package (streamed, verified against its digest)",
    params=(URI,),
)
def package_file(call: Call) -> StreamingResponse | Reply:
    uri, path = _uri(call), call.path["path"]
    registry = call.ctx.registry
    entry, stream = registry.open_package_file(uri, path)
    stream.close()  # the entry is what is needed first; each reply opens its own stream
    return file_reply(
        call,
        entry.digest,
        entry.size,
        whole=lambda: registry.open_package_file(uri, path)[1],
        at=lambda start: registry.artifact_store.open_at(entry.digest, start),
    )
