"""Blobs as objects in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2, moto), via s3fs.

The layout mirrors the local store: ``<bucket>/<prefix>/blobs/ab/cdef…``. An S3 PUT
(single or multipart) becomes visible only once complete, which gives the same
"whole blob or no blob" guarantee as the local store's rename.

The endpoint is, first match wins: ``endpoint_url`` (or ``client_kwargs["endpoint_url"]``)
in the storage options, then the ``LOOPML_S3_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL``
environment variables, then AWS itself. Credentials follow the usual botocore chain
unless ``key``/``secret`` are given.

Clients may also read and write the bucket themselves through presigned URLs
(:class:`~loopml.artifacts.base.DirectAccess`). Uploads land under ``<prefix>/uploads/``
first and become blobs only once their SHA-256 is checked. The URLs name the endpoint
the store uses, or ``presign_endpoint_url`` (``LOOPML_S3_PRESIGN_ENDPOINT_URL``) when
clients reach the store at another address than the server does.

Example:
    >>> store = S3BlobStore("my-bucket", "team/artifacts")  # doctest: +SKIP
    >>> store.url  # doctest: +SKIP
    's3://my-bucket/team/artifacts'
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

from loopml.artifacts._hashing import check_digest, corrupt_blob_error, hash_stream, is_digest
from loopml.artifacts.models import BlobInfo
from loopml.artifacts.paths import safe_artifact_path
from loopml.errors import InvalidInputError, MissingDependencyError, NotFoundError

__all__ = ["ENDPOINT_ENV_VARS", "PRESIGN_ENDPOINT_ENV", "S3BlobStore"]

ENDPOINT_ENV_VARS = ("LOOPML_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL")
PRESIGN_ENDPOINT_ENV = "LOOPML_S3_PRESIGN_ENDPOINT_URL"
_UPLOAD_ID = re.compile(r"[0-9A-Za-z_-]{8,64}")
_COPY_OBJECT_LIMIT = 5 * 2**30  # larger objects can only be copied in parts


class S3BlobStore:
    """A blob store under a prefix of an S3 bucket.

    Args:
        bucket: the bucket name; it must exist.
        prefix: a ``/``-separated key prefix for this store (``""`` for the bucket root).
        presign_endpoint_url: the endpoint presigned URLs name (default
            ``$LOOPML_S3_PRESIGN_ENDPOINT_URL``, else the store's own endpoint).
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

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        presign_endpoint_url: str | None = None,
        **storage_options: Any,
    ) -> None:
        s3fs = _import_s3fs()
        if not bucket or "/" in bucket:
            raise InvalidInputError(
                f"S3 bucket name {bucket!r} is not valid; write the URL as s3://bucket/prefix"
            )
        self.bucket = bucket
        self.prefix = safe_artifact_path(prefix.strip("/"))
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._root = "/".join(filter(None, (bucket, self.prefix, "blobs")))
        self._uploads = "/".join(filter(None, (bucket, self.prefix, "uploads")))
        self._options = _with_endpoint(storage_options)
        self._presign_endpoint = presign_endpoint_url or os.environ.get(PRESIGN_ENDPOINT_ENV)
        self._presigner: Any = None
        self._fs = s3fs.S3FileSystem(**self._options)

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

    # -- direct access (presigned URLs) ----------------------------------------------------

    def presign_upload(
        self, upload_id: str, digest: str, expires_s: int
    ) -> tuple[str, dict[str, str]]:
        """A presigned PUT for the staging object of ``upload_id``; S3 checks the body's
        SHA-256 against the signed ``x-amz-checksum-sha256`` header."""
        checksum = _checksum(check_digest(digest))
        url = self._presign(
            "put_object",
            {"Key": self._object_key(self._staged(upload_id)), "ChecksumSHA256": checksum},
            expires_s,
        )
        return url, {"x-amz-checksum-sha256": checksum}

    def presign_download(self, digest: str, expires_s: int) -> str:
        """A presigned GET of the blob ``digest``."""
        return self._presign("get_object", {"Key": self._object_key(self._key(digest))}, expires_s)

    def adopt_upload(self, upload_id: str, digest: str) -> int:
        """Check the staging object (S3's own SHA-256 when it kept one, else by reading it),
        copy it to the blob's key unless that blob exists, delete it; its size."""
        staged = self._staged(upload_id)
        try:
            head = self._fs.call_s3(
                "head_object",
                Bucket=self.bucket,
                Key=self._object_key(staged),
                ChecksumMode="ENABLED",
            )
        except FileNotFoundError as err:
            raise NotFoundError(
                "upload", upload_id, hint="nothing was uploaded to its URL; PUT the file first"
            ) from err
        size = int(head["ContentLength"])
        if head.get("ChecksumSHA256") != _checksum(check_digest(digest)):
            with self._fs.open(staged, "rb") as stream:
                actual, size = hash_stream(stream)
            if actual != digest:
                self.discard_upload(upload_id)
                raise corrupt_blob_error(digest, actual)
        if not self.exists(digest):
            self._copy(staged, self._key(digest), size)
        self.discard_upload(upload_id)
        return size

    def discard_upload(self, upload_id: str) -> None:
        """Delete the staging object of ``upload_id`` if it is there."""
        with contextlib.suppress(FileNotFoundError):
            self._fs.rm_file(self._staged(upload_id))

    def collect_temp_files(self, older_than: float, *, dry_run: bool) -> tuple[int, int]:
        """Delete staging objects of uploads never adopted, if older than ``older_than``."""
        count = size = 0
        listing: dict[str, dict[str, Any]] = self._fs.find(self._uploads, detail=True)
        for name, info in listing.items():
            if info.get("type") != "file" or info["LastModified"].timestamp() >= older_than:
                continue
            if not dry_run:
                with contextlib.suppress(FileNotFoundError):
                    self._fs.rm_file(name)
            count, size = count + 1, size + int(info["size"])
        return count, size

    def _staged(self, upload_id: str) -> str:
        if not isinstance(upload_id, str) or not _UPLOAD_ID.fullmatch(upload_id):
            raise InvalidInputError(
                f"upload id {upload_id!r} is not valid; use the id the server gave"
            )
        return f"{self._uploads}/{upload_id}"

    def _object_key(self, path: str) -> str:
        return path[len(self.bucket) + 1 :]

    def _copy(self, source: str, target: str, size: int) -> None:
        if size > _COPY_OBJECT_LIMIT:
            self._fs.copy(source, target)  # s3fs copies objects this large part by part
            return
        self._fs.call_s3(
            "copy_object",
            Bucket=self.bucket,
            Key=self._object_key(target),
            CopySource={"Bucket": self.bucket, "Key": self._object_key(source)},
        )

    def _presign(self, method: str, params: dict[str, Any], expires_s: int) -> str:
        if self._presigner is None:
            self._presigner = _presigner(self._options, self._presign_endpoint)
        return str(
            self._presigner.generate_presigned_url(
                method, Params={"Bucket": self.bucket, **params}, ExpiresIn=int(expires_s)
            )
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


def _checksum(digest: str) -> str:
    """A hex SHA-256 as S3 writes checksums: base64 of the 32 bytes."""
    return base64.b64encode(bytes.fromhex(digest)).decode()


def _presigner(options: dict[str, Any], endpoint: str | None) -> Any:
    """A botocore S3 client (SigV4) with the store's credentials, for presigning only."""
    import botocore.session  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    client_kwargs = dict(options.get("client_kwargs") or {})
    session = botocore.session.get_session()
    return session.create_client(
        "s3",
        endpoint_url=endpoint or options.get("endpoint_url") or client_kwargs.get("endpoint_url"),
        region_name=client_kwargs.get("region_name") or os.environ.get("AWS_DEFAULT_REGION"),
        aws_access_key_id=options.get("key"),
        aws_secret_access_key=options.get("secret"),
        aws_session_token=options.get("token"),
        config=Config(signature_version="s3v4"),
    )


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
