"""SHA-256 helpers: hash files in chunks, check digest strings, verify while reading.

Example:
    >>> sha256_bytes(b"")
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from typing import TYPE_CHECKING, BinaryIO

from loopml.errors import DigestMismatchError, InvalidInputError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = [
    "CHUNK_SIZE",
    "VerifiedReader",
    "check_digest",
    "corrupt_blob_error",
    "hash_stream",
    "is_digest",
    "sha256_bytes",
    "sha256_file",
]

CHUNK_SIZE = 1 << 20  # 1 MiB: large enough to amortise calls, small enough to stream
_DIGEST = re.compile(r"[0-9a-f]{64}")


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 hex digest of a file, read in 1 MiB chunks.

    Args:
        path: the file to hash.

    Returns:
        64 lowercase hex characters.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x"
        >>> _ = p.write_bytes(b"abc")
        >>> sha256_file(p)[:12]
        'ba7816bf8f01'
    """
    with open(path, "rb") as stream:
        return hash_stream(stream)[0]


def hash_stream(stream: BinaryIO) -> tuple[str, int]:
    """The SHA-256 hex digest and the length of everything left to read in ``stream``."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def sha256_bytes(data: bytes) -> str:
    """The SHA-256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def is_digest(value: str) -> bool:
    """Whether ``value`` is a SHA-256 hex digest (64 lowercase hex characters)."""
    return _DIGEST.fullmatch(value) is not None


def check_digest(digest: str) -> str:
    """Return ``digest`` unchanged, or refuse it if it is not a SHA-256 hex digest.

    Backends build file paths and object keys from digests, so this check is also
    what keeps a crafted "digest" such as ``../../etc`` out of their layout.

    Raises:
        InvalidInputError: ``digest`` is not 64 lowercase hex characters.
    """
    if not isinstance(digest, str) or not is_digest(digest):
        raise InvalidInputError(
            f"{digest!r} is not a SHA-256 digest; expected 64 lowercase hex characters "
            "as returned by put_file, put_bytes or put_tree",
            details={"digest": str(digest)},
        )
    return digest


def corrupt_blob_error(digest: str, actual: str) -> DigestMismatchError:
    """The error for a blob whose bytes no longer hash to its name."""
    return DigestMismatchError(
        f"blob {digest} is corrupt: its stored bytes hash to {actual}; restore the blob "
        "from a backup or store the original content again, then retry",
        details={"digest": digest, "actual": actual},
    )


class VerifiedReader(io.RawIOBase):
    """A read-only stream that hashes what passes through and checks it at the end.

    Reaching the end of the stream raises :class:`~loopml.errors.DigestMismatchError`
    if the bytes read do not hash to ``digest``. A caller that stops early gets no
    verdict, so read to the end (or use ``get_bytes``/``get_file``) when it matters.

    Example:
        >>> reader = VerifiedReader(io.BytesIO(b"abc"), sha256_bytes(b"abc"))
        >>> io.BufferedReader(reader).read()
        b'abc'
    """

    def __init__(self, raw: BinaryIO, digest: str) -> None:
        super().__init__()
        self._raw = raw
        self._digest = digest
        self._hash = hashlib.sha256()
        self._verified = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        data = self._raw.read(len(view))
        if not data:
            self._verify()
            return 0
        self._hash.update(data)
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()

    def _verify(self) -> None:
        if self._verified:
            return
        actual = self._hash.hexdigest()
        if actual != self._digest:
            raise corrupt_blob_error(self._digest, actual)
        self._verified = True
