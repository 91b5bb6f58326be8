"""Blobs as objects in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2, moto), via s3fs.

The layout mirrors the local store: ``<bucket>/<prefix>/blobs/ab/cdef…``. An S3 PUT
(single or multipart) becomes visible only once complete, which gives the same
"whole blob or no blob" guarantee as the local store's rename.

The endpoint is, first match wins: ``endpoint_url`` (or ``client_kwargs["endpoint_url"]``)
in the storage options, then the ``LOOPML_S3_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL``
environment variables, then AWS itself. Credentials follow the usual botocore chain
unless ``key``/``secret`` are given.

Example:
    >>> store = S3BlobStore("my-bucket", "team/artifacts")  # doctest: +SKIP
    >>> store.url  # doctest: +SKIP
    's3://my-bucket/team/artifacts'
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

from loopml.artifacts._hashing import check_digest, is_digest
from loopml.artifacts.models import BlobInfo
from loopml.artifacts.paths import safe_artifact_path
from loopml.errors import InvalidInputError, MissingDependencyError, NotFoundError

__all__ = ["ENDPOINT_ENV_VARS", "S3BlobStore"]

ENDPOINT_ENV_VARS = ("LOOPML_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL")
_COPY_OBJECT_LIMIT = 5 * 2**30  # larger objects can only be copied in parts


class S3BlobStore:
    """A blob store under a prefix of an S3 bucket.

    Args:
        bucket: the bucket name; it must exist.
        prefix: a ``/``-separated key prefix for this store (``""`` for the bucket root).
        **storage_options: passed to ``s3fs.S3FileSystem`` (``key``, ``secret``,
            ``endpoint_url``, ``client_kwargs``, …).

    Raises:
        MissingDependencyError: ``s3fs`` is not installed (``pip install 'loopml[s3]'``).
        InvalidInputError: the bucket name or prefix is malformed.

    Example:
        >>> store = S3BlobStore("ml", "prod", key="...", secret="...")  # doctest: +SKIP
        >>> store.exists("ab" * 32)  # doctest: +SKIP
        False
    """

    url: str  # declared here: the py: door checks members on the class

    def __init__(self, bucket: str, prefix: str = "", **storage_options: Any) -> None:
        s3fs = _import_s3fs()
        if not bucket or "/" in bucket:
            raise InvalidInputError(
                f"S3 bucket name {bucket!r} is not valid; write the URL as s3://bucket/prefix"
            )
        self.bucket = bucket
        self.prefix = safe_artifact_path(prefix.strip("/"))
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._root = "/".join(filter(None, (bucket, self.prefix, "blobs")))
        self._fs = s3fs.S3FileSystem(**_with_endpoint(storage_options))

    def __repr__(self) -> str:
        return f"S3BlobStore({self.url!r})"

    def exists(self, digest: str) -> bool:
        """Whether a blob named ``digest`` is stored (one HEAD request)."""
        return bool(self._fs.exists(self._key(digest)))

    def put_file(self, digest: str, source: Path) -> None:
        """Upload ``source`` under ``digest`` (no-op if present)."""
        if not self.exists(digest):
            self._fs.put_file(os.fspath(source), self._key(digest))

    def put_bytes(self, digest: str, data: bytes) -> None:
        """Upload ``data`` under ``digest`` (no-op if present)."""
        if not self.exists(digest):
            self._fs.pipe_file(self._key(digest), data)

    def open(self, digest: str) -> BinaryIO:
        """A stream over the object. Raises ``NotFoundError`` if it is missing."""
        try:
            return cast(BinaryIO, self._fs.open(self._key(digest), "rb"))
        except FileNotFoundError as err:
            raise self._missing(digest) from err

    def touch(self, digest: str) -> None:
        """Refresh the object's LastModified by copying it onto itself."""
        path = self._key(digest)
        try:
            size = int(self._fs.info(path)["size"])
        except FileNotFoundError as err:
            raise self._missing(digest) from err
        if size > _COPY_OBJECT_LIMIT:
            self._fs.copy(path, path)  # s3fs copies objects this large part by part
            return
        key = path[len(self.bucket) + 1 :]
        self._fs.call_s3(
            "copy_object",
            Bucket=self.bucket,
            Key=key,
            CopySource={"Bucket": self.bucket, "Key": key},
            Metadata={"loopml-touched": f"{time.time():.3f}"},
            MetadataDirective="REPLACE",  # S3 refuses a self-copy that changes nothing
        )

    def delete(self, digest: str) -> None:
        """Delete the object if it is there."""
        with contextlib.suppress(FileNotFoundError):
            self._fs.rm_file(self._key(digest))

    def iter_blobs(self) -> Iterator[BlobInfo]:
        """Every object under ``<prefix>/blobs/`` that is named like a blob."""
        listing: dict[str, dict[str, Any]] = self._fs.find(self._root, detail=True)
        for name, info in listing.items():
            digest = name[len(self._root) + 1 :].replace("/", "")
            if info.get("type") != "file" or not is_digest(digest):
                continue
            yield BlobInfo(
                digest=digest, size=int(info["size"]), modified=info["LastModified"].timestamp()
            )

    def _key(self, digest: str) -> str:
        check_digest(digest)
        return f"{self._root}/{digest[:2]}/{digest[2:]}"

    def _missing(self, digest: str) -> NotFoundError:
        return NotFoundError(
            "blob", digest, hint=f"it is not in {self.url}; it may have been garbage-collected"
        )


def _import_s3fs() -> Any:
    try:
        import s3fs
    except ImportError as err:
        raise MissingDependencyError("s3fs", "s3", "an S3 artifact store") from err
    return s3fs


def _with_endpoint(storage_options: dict[str, Any]) -> dict[str, Any]:
    """Storage options with the endpoint filled in from the environment if unset."""
    options = {"use_listings_cache": False, **storage_options}
    client_kwargs = options.get("client_kwargs") or {}
    if options.get("endpoint_url") or client_kwargs.get("endpoint_url"):
        return options
    for variable in ENDPOINT_ENV_VARS:
        if os.environ.get(variable):
            options["endpoint_url"] = os.environ[variable]
            break
    return options
