"""Dataset versions: immutable, content-addressed snapshots of tables and folders.

:class:`DatasetClient` logs a DataFrame, an Arrow table, a Parquet or CSV file, or a
folder as the next version of a named dataset, and loads, lists, compares and checks
versions. Content is named by SHA-256, so logging the same content again returns the
version that already holds it, and a file stored in one version is never stored again.

How content is named (details in ``_tables`` and ``_folders``):

- a **table** (DataFrame, Arrow table, Parquet file) by its canonical digest: the logical
  schema and values, not the bytes of any one file, so the same rows from a DataFrame or
  from a Parquet file are the same version. It is stored as deterministic Parquet.
- a **CSV file** by the SHA-256 of its bytes; it is stored as it is (and parsed once for
  its schema, row count and profile). ``format="parquet"`` converts it instead.
- a **folder** by the SHA-256 of its sorted ``[path, digest]`` manifest.

Files are hashed in parallel through a local digest cache (``<home>/cache``), so
re-logging or checking an unchanged folder reads no file. A new version, its file list,
its audit row and its lineage edge commit in one transaction: a failure leaves no
dataset or version behind (only blobs, which garbage collection removes). Version
numbers and same-content detection are safe with many processes logging at once.

Example:
    >>> client = DatasetClient()  # doctest: +SKIP
    >>> v = client.log("iris", "data/iris.csv")  # doctest: +SKIP
    >>> v.uri  # doctest: +SKIP
    'datasets:/iris/1'
    >>> client.load("datasets:/iris@latest").shape  # doctest: +SKIP
    (150, 5)
"""

from __future__ import annotations

import dataclasses
import os
import random
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from loopml.artifacts import ArtifactStore, ManifestEntry, local_target
from loopml.config import Settings
from loopml.data import _records, _tables, _validations
from loopml.data._digest_cache import DigestCache
from loopml.data._folders import Progress, store_files
from loopml.data._materialize import sync_folder
from loopml.data._sources import Identified, Prepared, identify, prepare
from loopml.data._targets import check_name, check_role, parse_target
from loopml.data.changes import change_report
from loopml.data.diff import diff_versions
from loopml.data.models import (
    ChangeReport,
    Dataset,
    DatasetDiff,
    DatasetVersion,
    ValidationRecord,
)
from loopml.errors import ConflictError, InvalidInputError, NotFoundError, quote
from loopml.paging import Page, check_limit
from loopml.store import Store, open_store

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["DatasetClient", "Role", "parse_target"]

Role = Literal["input", "output"]
_ATTEMPTS = 20


def _download_folder(dest: object) -> Path:
    if not isinstance(dest, str | os.PathLike) or not str(dest):
        raise InvalidInputError(
            f"dest must be the path of a folder to download into, got "
            f"{type(dest).__name__} {quote(dest)}"
        )
    folder = Path(dest).expanduser().absolute()
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError(
            f"{quote(str(folder))} is a file, not a folder; give a folder to download into "
            "(a table is written inside it as <name>.parquet or <name>.csv)",
            details={"dest": str(folder)},
        )
    return folder


class DatasetClient:
    """Log, load, list, compare and check dataset versions in one store.

    Args:
        settings: where the metadata and artifacts live; :meth:`Settings.load` by default.

    Example:
        >>> import pandas as pd
        >>> client = DatasetClient(Settings.load(home="/tmp/loopml-doc"))  # doctest: +SKIP
        >>> client.log("tiny", pd.DataFrame({"x": [1, 2]})).version  # doctest: +SKIP
        1
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.load()
        self.store: Store = open_store(self.settings.db_url)
        self.artifact_store = ArtifactStore.from_url(self.settings.artifacts_url)
        self.cache = DigestCache(self.settings.home / "cache" / "digests.sqlite")

    # -- writing -----------------------------------------------------------------------

    def log(
        self,
        name: str,
        source: object,
        *,
        description: str | None = None,
        run_id: str | None = None,
        role: Role = "input",
        format: str | None = None,
        progress: Progress | None = None,
        encoding: str | None = None,
        source_label: str | None = None,
    ) -> DatasetVersion:
        """Store ``source`` as the next version of ``name``, or return the version holding it.

        Args:
            name: the dataset (letters, digits, ``_``, ``.``, ``-``; created if new).
            source: a pandas DataFrame, a pyarrow Table, or the path of a Parquet file, a
                CSV file or a folder.
            description: describes the dataset (replaces the one it had).
            run_id: a run that consumed (``role="input"``) or produced (``"output"``) the
                version; recorded as a lineage edge.
            role: ``"input"`` or ``"output"``.
            format: ``"parquet"``, ``"csv"`` or ``"files"``; inferred when left out.
            progress: called with ``(bytes done, bytes total)`` while files are hashed
                and stored.
            encoding: the text encoding of a CSV file that is not UTF-8 (``"latin-1"``,
                ``"cp1252"``); its text is read in that encoding and stored as Parquet.
            source_label: what to record as the version's source instead of the path
                (a server logging an upload records the client's path, not its own copy).

        Returns:
            The new version, or the existing one with the same content.

        Raises:
            InvalidInputError: a bad name, role, format or source; an empty folder; a file
                that is not the CSV or Parquet it claims to be; a CSV that is not UTF-8
                (naming ``encoding``); DataFrame column names that would not load back
                as they were (MultiIndex, names neither text nor integers).
            NotFoundError: the path or the run does not exist.
            ConflictError: a file changed while it was being versioned.

        Example:
            >>> client.log("images", "data/images", run_id=run.id)  # doctest: +SKIP
            DatasetVersion(..., name='images', version=4, ...)
        """
        check_name(name)
        check_role(role)
        if run_id is not None:
            with self.store.read() as conn:
                _records.check_run(conn, run_id)
        found = identify(source, format, self.cache, progress=progress, encoding=encoding)
        if source_label is not None:
            found = dataclasses.replace(found, source=str(source_label)[:1000])
        existing = self._existing(name, found, description, run_id, role)
        if existing is not None:
            _finish(progress, found)
            return existing
        with prepare(found, self.settings.home / "cache" / "tmp") as prepared:
            total = found.hashed.progress_total if found.hashed else 0
            start = found.hashed.hashed_bytes if found.hashed else 0
            store_files(
                self.artifact_store, prepared.files, progress=progress, start=start, total=total
            )
            return self._commit(name, found, prepared, description, run_id, role)

    # -- reading -----------------------------------------------------------------------

    def get(self, uri_or_name: str, version: int | None = None) -> DatasetVersion:
        """A version, from ``datasets:/name/3``, ``datasets:/name@latest`` or a name.

        Args:
            uri_or_name: a dataset URI, or a dataset name (its latest version).
            version: the version number, with a bare name.

        Raises:
            NotFoundError: no such dataset (with close names) or version (with the list).
            InvalidInputError: a malformed URI.

        Example:
            >>> client.get("datasets:/iris/2").row_count  # doctest: +SKIP
            150
        """
        name, number = parse_target(uri_or_name, version)
        with self.store.read() as conn:
            return _records.find_version(conn, name, number)

    def files(self, uri_or_name: str, version: int | None = None) -> list[ManifestEntry]:
        """The stored files of a version (one ``data.*`` file for a table), by path."""
        return self._manifest(self.get(uri_or_name, version))

    def open_file(self, uri: str, path: str) -> tuple[ManifestEntry, BinaryIO]:
        """One stored file of a version as a stream, verified against its digest as read.

        Raises:
            NotFoundError: no such version, or no file ``path`` in it (the paths are
                :meth:`files`).
            DigestMismatchError: the stored bytes do not match (raised at the end of
                reading).
        """
        found = self.get(uri)
        entries = self._manifest(found)
        for entry in entries:
            if entry.path == path:
                return entry, self.artifact_store.open_verified(entry.digest)
        raise NotFoundError(
            "file",
            path,
            choices=[e.path for e in entries],
            hint=f"`loopml data show {found.uri}` lists its files",
        )

    def load(
        self,
        uri_or_name: str,
        version: int | None = None,
        *,
        as_arrow: bool = False,
        dest: str | Path | None = None,
        progress: Progress | None = None,
        run_id: str | None = None,
    ) -> pd.DataFrame | pa.Table | Path:
        """The content of a version: a table as a DataFrame (or Arrow), a folder as a Path.

        Every byte is verified against its digest. A folder is written to ``dest``, by
        default a cache folder under ``<home>/cache/datasets/<digest>``; files already
        there with the right content are reused, so loading again is cheap.

        Args:
            uri_or_name: ``datasets:/name/3``, ``datasets:/name@latest`` or a name.
            version: the version number, with a bare name.
            as_arrow: return a table as a ``pyarrow.Table`` instead of a DataFrame.
            dest: where to write a folder's files.
            progress: called with ``(bytes done, bytes total)`` while files are fetched.
            run_id: record that this run consumed the version (a lineage edge, once).

        Raises:
            NotFoundError: no such dataset or version, or no such run.
            DigestMismatchError: stored bytes do not match their digest.

        Example:
            >>> client.load("iris").head(2)  # doctest: +SKIP
            >>> client.load("datasets:/images/4")  # doctest: +SKIP
            PosixPath('.loopml/cache/datasets/5f1c…')
        """
        found = self.get(uri_or_name, version)
        if run_id is not None:
            self.store.transact(lambda conn: _consumed(conn, run_id, found))
        if found.kind == "files":
            folder = Path(dest) if dest is not None else self._cache_folder(found)
            return self._materialize(found, folder, progress)
        table = self._read_table(found)
        return table if as_arrow else _tables.table_to_frame(table)

    def download(
        self,
        uri_or_name: str,
        dest: str | Path,
        *,
        format: str | None = None,
        progress: Progress | None = None,
    ) -> Path:
        """Write a version to ``dest``: a table as one file, a folder's files under it.

        A table becomes ``dest/<name>.parquet`` (or ``.csv`` for a CSV version or with
        ``format="csv"``); a folder's files land directly under ``dest``.

        Returns:
            The file written (tables) or ``dest`` (folders).

        Raises:
            InvalidInputError: ``format`` does not fit the version, or ``dest`` is a file
                (nothing is written then: ``dest`` names a folder to write into).

        Example:
            >>> client.download("datasets:/iris/2", "out")  # doctest: +SKIP
            PosixPath('out/iris.parquet')
        """
        folder = _download_folder(dest)
        found = self.get(uri_or_name)
        if found.kind == "files":
            if format not in (None, "files"):
                raise InvalidInputError(f"{found.uri} is a folder of files; it has no {format}")
            return self._materialize(found, folder, progress)
        return self._download_table(found, folder, format or found.format)

    def list_datasets(self) -> list[Dataset]:
        """Every dataset, by name."""
        with self.store.read() as conn:
            return _records.list_datasets(conn)

    def get_dataset(self, name: str) -> Dataset:
        """The dataset ``name``: its description, version count and latest version.

        Raises:
            NotFoundError: no such dataset (with close names).

        Example:
            >>> client.get_dataset("iris").latest_version  # doctest: +SKIP
            2
        """
        with self.store.read() as conn:
            return _records.get_dataset(conn, name)

    def list_versions(self, name: str) -> list[DatasetVersion]:
        """Every version of ``name``, oldest first (NotFoundError for an unknown dataset)."""
        with self.store.read() as conn:
            return _records.list_versions(conn, name)

    def page_datasets(self, *, limit: int = 100, page_token: str | None = None) -> Page[Dataset]:
        """One page of :meth:`list_datasets`: ``limit`` datasets after ``page_token``.

        Example:
            >>> page = client.page_datasets(limit=20)  # doctest: +SKIP
            >>> token = page.next_page_token  # doctest: +SKIP
            >>> more = client.page_datasets(limit=20, page_token=token)  # doctest: +SKIP
        """
        limit = check_limit(limit)
        with self.store.read() as conn:
            return _records.page_datasets(conn, limit=limit, page_token=page_token)

    def page_versions(
        self, name: str, *, limit: int = 100, page_token: str | None = None
    ) -> Page[DatasetVersion]:
        """One page of :meth:`list_versions`: ``limit`` versions after ``page_token``.

        Example:
            >>> [v.version for v in client.page_versions("iris", limit=2).items]  # doctest: +SKIP
            [1, 2]
        """
        limit = check_limit(limit)
        with self.store.read() as conn:
            return _records.page_versions(conn, name, limit=limit, page_token=page_token)

    def diff(self, a: str, b: str) -> DatasetDiff:
        """What changed between two versions (URIs, or names meaning their latest).

        Example:
            >>> client.diff("datasets:/iris/1", "datasets:/iris/2").row_delta  # doctest: +SKIP
            12
        """
        targets = parse_target(a), parse_target(b)  # both well-formed before any lookup
        first, second = (self.get(name, number) for name, number in targets)
        files_a = self._manifest(first) if first.kind == "files" else []
        files_b = self._manifest(second) if second.kind == "files" else []
        return diff_versions(first, second, files_a, files_b)

    def changed(
        self,
        name: str,
        source: object,
        *,
        format: str | None = None,
        progress: Progress | None = None,
    ) -> ChangeReport:
        """Whether ``source`` differs from the latest version of ``name`` (stores nothing).

        See :func:`loopml.data.changes.changed`.
        """
        latest = self.get(name)
        found = identify(source, format, self.cache, progress=progress)
        stored = self._manifest(latest) if latest.kind == "files" else []
        return change_report(latest, found, stored)

    def log_input(
        self, dataset: DatasetVersion | str, run_id: str, context: str | None = "training"
    ) -> DatasetVersion:
        """Record that run ``run_id`` consumed ``dataset`` in ``context`` (a lineage edge).

        Args:
            dataset: a version, or ``datasets:/name/3`` / ``datasets:/name@latest`` (the
                version it names now is recorded).
            run_id: the run.
            context: what the run used it for: ``training``, ``validation``, ``test``…;
                ``None``: consumed, no context said (what :meth:`load` records for a run).

        Raises:
            InvalidInputError: ``dataset`` is neither a version nor a dataset URI, or the
                context is not a short name.
            NotFoundError: no such dataset, version or run.

        Example:
            >>> client.log_input("datasets:/iris/2", run.id, context="evaluation")  # doctest: +SKIP
        """
        if context is not None:
            context = _check_context(context)
        if isinstance(dataset, DatasetVersion):
            uri = dataset.uri
        elif isinstance(dataset, str):
            uri = dataset
        else:
            raise InvalidInputError(
                f"log_input takes a DatasetVersion or a datasets:/<name>/<version> URI, got "
                f"{type(dataset).__name__}; version a DataFrame first with log_dataset"
            )
        found = self.get(uri)

        def work(conn: Connection) -> None:
            _records.check_run(conn, run_id)
            if context is None:
                _records.link_run(conn, run_id, "input", found)
            else:
                _records.link_input(conn, run_id, found, context)

        self.store.transact(work)
        return found

    # -- validation reports ------------------------------------------------------------

    def record_validation(
        self, uri_or_name: str, result: object, *, note: str | None = None
    ) -> ValidationRecord:
        """Keep a validation report with the version it checked (for the web UI and audit).

        Args:
            uri_or_name: the version checked: ``datasets:/name/3`` (``@latest`` is
                resolved now), or a name meaning its latest version.
            result: what :func:`loopml.data.validate` returned, or its ``to_dict()``.
            note: what it was checked against, in words (``"schema.toml in CI"``).

        Raises:
            NotFoundError: no such dataset or version.
            InvalidInputError: ``result`` is not a validation result.

        Example:
            >>> result = validate("datasets:/churn/3", schema)  # doctest: +SKIP
            >>> client.record_validation("datasets:/churn/3", result).passed  # doctest: +SKIP
            True
        """
        report = _validations.report_of(result)
        version = self.get(uri_or_name)
        found = _validations.new_record(version, report, note)
        stored = self.artifact_store.put_bytes(_validations.blob_of(found))
        self.store.transact(lambda conn: _validations.keep(conn, version, found, stored))
        return found

    def list_validations(self, uri_or_name: str, *, limit: int = 20) -> list[ValidationRecord]:
        """The validation reports kept for a version, newest first (at most ``limit``).

        Example:
            >>> client.list_validations("datasets:/churn/3")[0].summary  # doctest: +SKIP
            'failed: 1000 rows, 1 error, 0 warnings'
        """
        limit = check_limit(limit)
        version = self.get(uri_or_name)
        with self.store.read() as conn:
            digests = _validations.digests(conn, version, limit)
        return [_validations.read(self.artifact_store, digest) for digest in digests]

    # -- internals ---------------------------------------------------------------------

    def _existing(
        self,
        name: str,
        found: Identified,
        description: str | None,
        run_id: str | None,
        role: Role,
    ) -> DatasetVersion | None:
        with self.store.read() as conn:
            existing = _records.version_by_digest(conn, name, found.digest)
        if existing is not None and (run_id is not None or description is not None):
            self.store.transact(
                lambda conn: _records.attach(conn, existing, description, run_id, role)
            )
        return existing

    def _commit(
        self,
        name: str,
        found: Identified,
        prepared: Prepared,
        description: str | None,
        run_id: str | None,
        role: Role,
    ) -> DatasetVersion:
        fields = _version_fields(found, prepared)
        files = [file.entry for file in prepared.files]
        for attempt in range(_ATTEMPTS):
            try:
                return self.store.transact(
                    lambda conn: _records.insert_version(
                        conn,
                        name,
                        fields,
                        files,
                        description=description,
                        run_id=run_id,
                        role=role,
                    )
                )
            except SqlIntegrityError as err:  # another process won a race; look again
                if attempt == _ATTEMPTS - 1:
                    raise ConflictError(
                        f"could not log dataset '{name}': other processes kept logging it "
                        "at the same moment; try again",
                        details={"name": name},
                    ) from err
                time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
        raise AssertionError("unreachable")

    def _manifest(self, version: DatasetVersion) -> list[ManifestEntry]:
        with self.store.read() as conn:
            return _records.manifest(conn, version.id)

    def _cache_folder(self, version: DatasetVersion) -> Path:
        return self.settings.home / "cache" / "datasets" / version.digest

    def _materialize(
        self, version: DatasetVersion, folder: Path, progress: Progress | None
    ) -> Path:
        entries = self._manifest(version)
        sync_folder(self.artifact_store, entries, folder, self.cache, progress=progress)
        return folder.expanduser().absolute()

    def _read_table(self, version: DatasetVersion) -> pa.Table:
        import pyarrow as pa

        [entry] = self._manifest(version)
        reader: pa.NativeFile = pa.BufferReader(self.artifact_store.get_bytes(entry.digest))
        what = f"{version.uri} ({entry.path})"
        if version.format != "csv":
            return _tables.read_parquet(reader, what)
        codec = _tables.CSV_COMPRESSION.get(Path(entry.path).suffix)
        if codec is not None:
            reader = pa.CompressedInputStream(reader, codec)
        return _tables.read_csv(reader, what)

    def _download_table(self, version: DatasetVersion, folder: Path, format: str) -> Path:
        [entry] = self._manifest(version)
        if format not in ("parquet", "csv"):
            raise InvalidInputError(
                f"{version.uri} is a table; download it as format 'parquet' or 'csv'"
            )
        if format == version.format:
            suffix = entry.path.removeprefix("data")
            target = local_target(folder, f"{version.name}{suffix}")
            self.artifact_store.get_file(entry.digest, target)
            return target
        table = self._read_table(version)
        folder.mkdir(parents=True, exist_ok=True)
        target = local_target(folder, f"{version.name}.{format}")  # refuses a planted link
        # A fresh file of our own (never a name someone could plant a symlink at), beside
        # the target, then renamed over it: never a half-written file, nothing outside.
        handle, name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".partial")
        os.close(handle)
        partial = Path(name)
        try:
            if format == "parquet":
                _tables.write_parquet(table, partial)
            else:
                import pyarrow.csv as pacsv

                pacsv.write_csv(table, partial)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return target


def _consumed(conn: Connection, run_id: str, version: DatasetVersion) -> None:
    _records.check_run(conn, run_id)
    _records.link_run(conn, run_id, "input", version)


def _version_fields(found: Identified, prepared: Prepared) -> dict[str, object]:
    return {
        "digest": found.digest,
        "kind": found.kind,
        "format": found.format,
        "source": found.source,
        "row_count": prepared.row_count,
        "file_count": len(prepared.files),
        "byte_size": prepared.byte_size,
        "schema": prepared.schema,
        "profile": prepared.profile,
    }


def _finish(progress: Progress | None, found: Identified) -> None:
    if progress is not None and found.hashed is not None:
        total = found.hashed.progress_total
        progress(total, total)


def _check_context(context: object) -> str:
    if (
        not isinstance(context, str)
        or not context.strip()
        or len(context) > 250
        or any(ord(char) < 32 for char in context)
    ):
        shown = repr(context) if not isinstance(context, str) else repr(context[:80])
        raise InvalidInputError(
            f"an input's context must be a short name such as 'training' or 'evaluation' "
            f"(1-250 characters, one line), got {shown}"
        )
    return context
