"""Value objects of artifact storage: what a backend lists and what the store returns.

All of them are frozen: they describe stored content, which never changes under its digest.

Example:
    >>> entry = ManifestEntry(path="model/weights.bin", digest="ab" * 32, size=3)
    >>> entry.path
    'model/weights.bin'
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BlobInfo", "GcReport", "ManifestEntry", "StoredFile"]


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """One blob as a backend lists it.

    Attributes:
        digest: the SHA-256 hex digest that names the blob.
        size: its length in bytes.
        modified: when it was last written or touched, in Unix seconds.

    Example:
        >>> BlobInfo(digest="ab" * 32, size=10, modified=1_700_000_000.0).size
        10
    """

    digest: str
    size: int
    modified: float


@dataclass(frozen=True, slots=True)
class StoredFile:
    """What :meth:`ArtifactStore.put_file` and ``put_bytes`` stored.

    Attributes:
        digest: the SHA-256 hex digest of the content; the key to read it back.
        size: its length in bytes.

    Example:
        >>> StoredFile(digest="ab" * 32, size=0).size
        0
    """

    digest: str
    size: int


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One file of a stored directory tree.

    Attributes:
        path: the file's path relative to the tree's root, ``/``-separated and safe
            (see :func:`~loopml.artifacts.safe_artifact_path`).
        digest: the SHA-256 hex digest of its content.
        size: its length in bytes.

    Example:
        >>> ManifestEntry(path="a/b.txt", digest="cd" * 32, size=5).digest[:4]
        'cdcd'
    """

    path: str
    digest: str
    size: int


@dataclass(frozen=True, slots=True)
class GcReport:
    """The outcome of :meth:`ArtifactStore.collect_garbage`.

    In a dry run the numbers describe what *would* have been deleted.

    Attributes:
        deleted: how many blobs were (or would be) deleted.
        freed_bytes: the total size of those blobs and of the temporary files.
        kept: how many blobs were kept, being referenced or too recent.
        digests: the deleted (or doomed) digests, sorted.
        temp_files: how many temporary files of killed writes (``.tmp-*``) older than
            the grace period were (or would be) deleted.

    Example:
        >>> GcReport(deleted=0, freed_bytes=0, kept=3).digests
        []
    """

    deleted: int
    freed_bytes: int
    kept: int
    digests: list[str] = field(default_factory=list)
    temp_files: int = 0
