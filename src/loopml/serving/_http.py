"""HTTP plumbing of the serving app: limits, reading bodies, replies and error shapes.

Example:
    >>> ServerLimits(max_body_bytes=1024).body_timeout
    30.0
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from loopml.errors import (
    InvalidInputError,
    LoopmlError,
    PayloadTooLargeError,
    RequestTimeoutError,
)

__all__ = [
    "JSON",
    "Receive",
    "Send",
    "ServerLimits",
    "error_body",
    "headers_of",
    "read_body",
    "reply",
]

JSON = b"application/json"
Send = Callable[[dict[str, Any]], Any]
Receive = Callable[[], Any]


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """What one request may take.

    Attributes:
        max_body_bytes: larger bodies get 413 (checked against Content-Length first).
        body_timeout: seconds a client has to send the whole body, else 408.
        shadow_queue: shadow predictions waiting at most; more are dropped and counted.
    """

    max_body_bytes: int = 32 * 1024 * 1024
    body_timeout: float = 30.0
    shadow_queue: int = 1000

    def __post_init__(self) -> None:
        if isinstance(self.max_body_bytes, bool) or self.max_body_bytes < 1:
            raise InvalidInputError(
                f"max_body_bytes must be a positive byte count, got {self.max_body_bytes!r}"
            )
        if not self.body_timeout > 0:
            raise InvalidInputError(f"body_timeout must be > 0 seconds, got {self.body_timeout!r}")


async def read_body(receive: Receive, declared: str | None, limits: ServerLimits) -> bytes:
    """The request body, refused when over ``limits.max_body_bytes`` (413) or not sent within
    ``limits.body_timeout`` seconds (408)."""
    limit = limits.max_body_bytes
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(
            f"the body is {declared} bytes; this server takes at most {limit} "
            "(split the batch, or start it with a larger --max-body-bytes)"
        )
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(limits.body_timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise InvalidInputError("the client went away before sending the body")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLargeError(
                        f"the body is over {limit} bytes, this server's limit; split the batch"
                    )
                chunks.append(chunk)
                if not message.get("more_body"):
                    break
    except TimeoutError as err:
        raise RequestTimeoutError(
            f"the body was not sent within {limits.body_timeout:g} seconds"
        ) from err
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def headers_of(scope: dict[str, Any]) -> dict[bytes, str]:
    return {name: value.decode("latin-1") for name, value in scope["headers"]}


def error_body(err: LoopmlError, protocol: str) -> bytes:
    """The error in the protocol's own shape: V2 ``{"error": "..."}``, MLflow's
    ``{"error_code", "message"}``, else loopml's ``{"error": {"code", "message", "details"}}``."""
    if protocol == "v2":
        return orjson.dumps({"error": err.message})
    if protocol == "invocations":
        code = "BAD_REQUEST" if err.http_status < 500 else "INTERNAL_ERROR"
        return orjson.dumps({"error_code": code, "message": err.message})
    return orjson.dumps(err.to_dict())


async def reply(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes = JSON,
    extra: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *extra]})
    await send({"type": "http.response.body", "body": body})
