"""Files streamed in and out of the server: run artifacts, dataset files, package files.

One reply for all three: the whole file verified against its digest as it is read, or,
for a ``Range: bytes=…`` request, the bytes asked for (206; 416 when none of them is in
the file), so a client resumes a download that broke off. The stream is closed however
the response ends (a client that goes away mid-download included). The ETag is the
file's SHA-256, for the client to check the whole once it has it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import anyio.to_thread
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from loopml.errors import InvalidInputError
from loopml.server._http import dump_json
from loopml.server.api import Call, Reply

__all__ = ["CHUNK", "file_reply", "receive_file"]

CHUNK = 1024 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def file_reply(
    call: Call,
    digest: str,
    size: int,
    *,
    whole: Callable[[], BinaryIO],
    at: Callable[[int], BinaryIO],
    name: str | None = None,
) -> StreamingResponse | Reply:
    """The reply for one stored file of ``size`` bytes named by its SHA-256 ``digest``.

    ``whole()`` opens it verified; ``at(offset)`` opens it from a byte on (a range cannot
    be verified alone: the client checks the whole against the ETag).
    """
    headers = {"accept-ranges": "bytes", "etag": f'"{digest}"'}
    if name is not None:
        headers["content-disposition"] = f'attachment; filename="{name.replace(chr(34), "")}"'
    wanted = call.headers.get("range")
    if wanted is None:
        headers["content-length"] = str(size)
        return _FileStream(whole(), headers=headers)
    span = _byte_range(wanted, size)
    if span is None:
        return _unsatisfiable(wanted, size)
    start, end = span
    headers |= {
        "content-length": str(end - start + 1),
        "content-range": f"bytes {start}-{end}/{size}",
    }
    return _FileStream(at(start), end - start + 1, status_code=206, headers=headers)


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


async def receive_file(call: Call, target: Path) -> tuple[int, str]:
    """Write a raw-body request to ``target`` as it arrives, in 1 MiB writes on a worker
    thread (never the whole body in memory); its size and SHA-256."""
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
