"""Moving artifact files over HTTP without holding them in memory (standard library only).

:func:`put_file` streams a file to a URL (an S3 presigned PUT); :func:`download` fetches
a URL into a file, resuming with ``Range`` from what an earlier attempt left in
``<name>.part``, checks the SHA-256 of the whole and only then moves it into place. A
URL that cannot be reached (refused, reset, timed out) raises :class:`Unreachable`,
which callers retry or answer by going another way.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

from loopml.errors import DigestMismatchError, LoopmlError

__all__ = ["TransferError", "Unreachable", "download", "put_file", "retrying", "sha256_of"]

BLOCK = 1024 * 1024
T = TypeVar("T")


class Unreachable(OSError):
    """The URL did not answer, or the connection broke mid-transfer."""


class TransferError(LoopmlError):
    """The URL answered with an error status."""

    code = "transfer_failed"

    def __init__(self, status: int, message: str, body: bytes = b"") -> None:
        super().__init__(message, details={"status": status})
        self.status = status
        self.body = body


def put_file(url: str, source: Path, headers: Mapping[str, str], *, timeout: float = 30.0) -> None:
    """PUT the file ``source`` to ``url`` as one streamed body."""
    size = source.stat().st_size
    sent = {"content-type": "application/octet-stream", **headers, "content-length": str(size)}
    with source.open("rb") as body, _connection(url, timeout) as (conn, target):
        try:
            conn.request("PUT", target, body=body, headers=sent)
            reply = conn.getresponse()
            data = reply.read()
        except (OSError, http.client.HTTPException) as err:
            raise Unreachable(f"cannot reach {_where(url)} ({err})") from err
    if reply.status >= 300:
        raise TransferError(
            reply.status, f"{_where(url)} refused the upload ({reply.status}): {data[:300]!r}", data
        )


def download(
    url: str,
    target: Path,
    *,
    sha256: str,
    size: int,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Path:
    """Fetch ``url`` into ``target``: resume ``target``'s ``.part`` file with ``Range``,
    check the SHA-256 of the whole, then rename it into place.

    Raises:
        Unreachable: the URL did not answer or broke off (the ``.part`` file keeps what
            arrived, so calling again resumes).
        DigestMismatchError: the bytes do not hash to ``sha256`` (the ``.part`` file is
            deleted).
    """
    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    if have > size:
        part.unlink()
        have = 0
    if have < size:
        _fetch(url, part, have, dict(headers or {}), timeout)
    actual = sha256_of(part)
    if actual != sha256:
        part.unlink(missing_ok=True)
        raise DigestMismatchError(
            f"{_where(url)} sent bytes that hash to {actual}, not {sha256}; nothing was "
            "kept, download again",
            details={"sha256": sha256, "actual": actual},
        )
    os.replace(part, target)
    return target


def retrying(
    attempt: Callable[[], T], wait_s: float, *, errors: tuple[type[BaseException], ...]
) -> T:
    """``attempt()``, retried with back-off while it raises ``errors``, for ``wait_s``."""
    deadline, pause = time.monotonic() + wait_s, 0.1
    while True:
        try:
            return attempt()
        except errors:
            if time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


def _fetch(url: str, part: Path, have: int, headers: dict[str, str], timeout: float) -> None:
    if have:
        headers["range"] = f"bytes={have}-"
    with _connection(url, timeout) as (conn, target):
        try:
            conn.request("GET", target, headers=headers)
            reply = conn.getresponse()
            if reply.status == 416 and have:  # the URL holds less than we do: start over
                reply.read()
                part.unlink(missing_ok=True)
                headers.pop("range")
                return _fetch(url, part, 0, headers, timeout)
            if reply.status >= 300:
                body = reply.read()
                raise TransferError(
                    reply.status,
                    f"{_where(url)} refused the download ({reply.status}): {body[:300]!r}",
                    body,
                )
            span = reply.getheader("content-range") or ""
            if reply.status == 206 and not span.startswith(f"bytes {have}-"):
                reply.read()
                raise TransferError(206, f"{_where(url)} sent {span!r} for bytes={have}-")
            mode = "ab" if reply.status == 206 else "wb"  # a 200 sends the whole file
            with part.open(mode) as out:
                while block := reply.read(BLOCK):
                    out.write(block)
            if reply.length:  # http.client ends a body cut short without an error
                raise Unreachable(f"{_where(url)} broke off with {reply.length:,} bytes to go")
        except (OSError, http.client.HTTPException) as err:
            if isinstance(err, Unreachable):
                raise
            raise Unreachable(f"cannot reach {_where(url)} ({err})") from err


@contextlib.contextmanager
def _connection(url: str, timeout: float) -> Iterator[tuple[http.client.HTTPConnection, str]]:
    parts = urllib.parse.urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname or "", parts.port, timeout=timeout, blocksize=BLOCK)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        yield conn, target
    finally:
        conn.close()


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks."""
    hasher = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(BLOCK):
            hasher.update(block)
    return hasher.hexdigest()


def _where(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
