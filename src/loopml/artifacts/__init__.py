"""Artifact storage: content-addressed blobs (SHA-256) on local disk, S3 or in memory.

:class:`ArtifactStore` holds the rules (hash, store once, verify on read, collect
garbage); a :class:`BlobStore` backend only persists bytes. :meth:`ArtifactStore.from_url`
builds the store over the backend a URL such as ``s3://bucket/prefix`` names;
:func:`blob_store_from_url` returns just that backend.

Example:
    >>> store = ArtifactStore.from_url("memory://")
    >>> stored = store.put_bytes(b"weights")
    >>> store.get_bytes(stored.digest)
    b'weights'
"""

from loopml.artifacts._hashing import sha256_file
from loopml.artifacts._resolve import blob_store_from_url
from loopml.artifacts.base import BlobStore
from loopml.artifacts.models import BlobInfo, GcReport, ManifestEntry, StoredFile
from loopml.artifacts.paths import join_artifact_path, local_target, safe_artifact_path
from loopml.artifacts.store import ArtifactStore

__all__ = [
    "ArtifactStore",
    "BlobInfo",
    "BlobStore",
    "GcReport",
    "ManifestEntry",
    "StoredFile",
    "blob_store_from_url",
    "join_artifact_path",
    "local_target",
    "safe_artifact_path",
    "sha256_file",
]
