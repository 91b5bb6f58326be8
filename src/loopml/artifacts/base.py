"""The interface every artifact backend implements: a flat space of blobs named by digest.

A backend only persists bytes. It does not hash, deduplicate, verify or decide what
is garbage: :class:`~loopml.artifacts.ArtifactStore` holds those rules, so a new
backend (GCS, Azure, a company's own store) is a small class with seven methods.
Third-party backends plug in through ``blob_store_from_url("py:package.module.ClassName")``.

Every method takes ``digest``, the SHA-256 hex digest of the content (64 lowercase hex
characters). Backends must refuse anything else before building a path or key from it.

Example:
    >>> from loopml.artifacts import blob_store_from_url
    >>> blobs: BlobStore = blob_store_from_url("memory://")
    >>> blobs.exists("ab" * 32)
    False
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from loopml.artifacts.models import BlobInfo

__all__ = ["BLOB_STORE_MEMBERS", "BlobStore", "DirectAccess", "TempFileCollector"]

BLOB_STORE_MEMBERS = (
    "url",
    "exists",
    "put_file",
    "put_bytes",
    "open",
    "touch",
    "delete",
    "iter_blobs",
)


@runtime_checkable
class BlobStore(Protocol):
    """Where blobs live. Implementations must be safe to use from several threads.

    Attributes:
        url: a URL that :func:`~loopml.artifacts.blob_store_from_url` turns back into an
            equivalent store, e.g. ``"s3://bucket/prefix"``.

    Example:
        >>> from loopml.artifacts.memory import MemoryBlobStore
        >>> isinstance(MemoryBlobStore(), BlobStore)
        True
    """

    url: str

    def exists(self, digest: str) -> bool:
        """Whether a blob named ``digest`` is stored."""
        ...

    def put_file(self, digest: str, source: Path) -> None:
        """Store the content of the file ``source`` under ``digest``.

        Atomic: a reader sees either no blob or the whole blob, never a part. When
        the blob already exists this does nothing. The caller vouches that the
        content hashes to ``digest``.
        """
        ...

    def put_bytes(self, digest: str, data: bytes) -> None:
        """Store ``data`` under ``digest``; same rules as :meth:`put_file`."""
        ...

    def open(self, digest: str) -> BinaryIO:
        """A binary stream over the blob; close it (use ``with``).

        Raises:
            NotFoundError: no blob is named ``digest``.
        """
        ...

    def touch(self, digest: str) -> None:
        """Set the blob's modified time to now, so garbage collection spares it.

        The store calls this instead of re-uploading content that is already there:
        the blob is then as young as a fresh upload would be.

        Raises:
            NotFoundError: no blob is named ``digest``.
        """
        ...

    def delete(self, digest: str) -> None:
        """Remove the blob; a missing blob is not an error."""
        ...

    def iter_blobs(self) -> Iterator[BlobInfo]:
        """Every stored blob with its size and modified time, in no set order."""
        ...


@runtime_checkable
class TempFileCollector(Protocol):
    """A backend whose writes can leave temporary files behind (a process killed mid-write).

    Optional: :meth:`ArtifactStore.collect_garbage` calls it on backends that have it. A
    backend whose writes are atomic by nature (S3's PUT, memory) does not need it.
    """

    def collect_temp_files(self, older_than: float, *, dry_run: bool) -> tuple[int, int]:
        """Delete temporary files last modified before ``older_than`` (a Unix time).

        Returns:
            How many files were (or, with ``dry_run``, would be) deleted, and their bytes.
        """
        ...


@runtime_checkable
class DirectAccess(Protocol):
    """A backend clients can reach themselves, through presigned URLs (S3).

    Optional: :meth:`ArtifactStore.presign_upload` and friends use it on backends that
    have it; a local directory has no URL a client could use, so its clients go through
    the server. An upload lands in a staging object named by ``upload_id`` first and
    becomes a blob only in :meth:`adopt_upload`, once its content is checked, so a wrong
    or partial upload never sits under a digest.
    """

    def presign_upload(
        self, upload_id: str, digest: str, expires_s: int
    ) -> tuple[str, dict[str, str]]:
        """A URL that accepts one PUT of the content for ``upload_id``, and the headers
        the PUT must carry (the store refuses a body whose SHA-256 is not ``digest``
        where it checks checksums)."""
        ...

    def presign_download(self, digest: str, expires_s: int) -> str:
        """A URL that answers GET (with ``Range``) with the blob ``digest``."""
        ...

    def adopt_upload(self, upload_id: str, digest: str) -> int:
        """Check the staged content of ``upload_id`` hashes to ``digest``, make it that
        blob and drop the staging object; its size.

        Raises:
            NotFoundError: nothing was uploaded for ``upload_id``.
            DigestMismatchError: the staged content is not ``digest`` (it is deleted).
        """
        ...

    def discard_upload(self, upload_id: str) -> None:
        """Delete the staging object of ``upload_id`` if there is one."""
        ...
