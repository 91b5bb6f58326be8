"""What can be versioned, and how each kind of source is named and prepared for storing.

Two steps, so that logging content that is already a version costs as little as possible:

1. :func:`identify` works out the kind, the format and the digest, cheaply: files are
   hashed through the digest cache, and a Parquet file's table digest is remembered per
   file digest, so an unchanged file is neither read nor parsed.
2. :func:`prepare` (only for new content) reads what has to be read, profiles a table and
   writes the file to store (a deterministic Parquet file for tables).

========================  ========  ========  =============================================
source                    kind      format    stored as; digest
========================  ========  ========  =============================================
pandas DataFrame,         table     parquet   deterministic Parquet; the canonical table
pyarrow Table                                 digest (:mod:`loopml.data._tables`)
``*.parquet``, ``*.pq``   table     parquet   re-written deterministically; canonical digest
``*.csv`` (``.gz``,       table     csv       the original bytes, parsed for schema and
``.bz2``, ``.zst``)                           profile; the SHA-256 of the file
``*.csv`` with            table     parquet   converted to Parquet; canonical digest
``format="parquet"``
a folder (or any file     files     files     every file once by content; the SHA-256 of
with ``format="files"``)                      the sorted ``[path, digest]`` manifest
========================  ========  ========  =============================================

Example:
    >>> import pandas as pd
    >>> found = identify(pd.DataFrame({"x": [1]}), None, DigestCache(Path("/tmp/c.sqlite")))
    >>> found.kind, found.format
    ('table', 'parquet')
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from loopml.data import _tables
from loopml.data._digest_cache import DigestCache
from loopml.data._folders import HashResult, LocalFile, Progress, hash_files, list_files
from loopml.data._folders import manifest_digest as folder_digest
from loopml.data.models import Kind
from loopml.data.profile import profile_table
from loopml.errors import ConflictError, InvalidInputError, MissingFileError

__all__ = ["FORMATS", "Identified", "Prepared", "identify", "prepare"]

FORMATS = ("parquet", "csv", "files")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_TABLE_DIGEST = "table-digest/1"  # cache key: canonical digest of a file (algorithm 1)


@dataclass
class Identified:
    """A source with its kind, format and digest known (and what was needed to get them)."""

    kind: Kind
    format: str
    digest: str
    source: str
    table: pa.Table | None = None
    path: Path | None = None
    hashed: HashResult | None = None
    encoding: str | None = None  # of a CSV file read into a Parquet version

    @property
    def hashed_files(self) -> int:
        return self.hashed.hashed if self.hashed else 0

    @property
    def cached_files(self) -> int:
        return self.hashed.cached if self.hashed else 0


@dataclass
class Prepared:
    """Everything a new version records, with the files to store."""

    files: list[LocalFile]
    row_count: int | None = None
    schema: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None
    byte_size: int = field(init=False)

    def __post_init__(self) -> None:
        self.byte_size = sum(file.size for file in self.files)


def identify(
    source: object,
    format: str | None,
    cache: DigestCache,
    *,
    progress: Progress | None = None,
    encoding: str | None = None,
) -> Identified:
    """Work out what ``source`` is and digest it (see the module docstring).

    A CSV file in an ``encoding`` other than UTF-8 is read as text in that encoding and
    stored as Parquet (a ``csv`` version keeps the file's bytes, which only UTF-8 readers
    would read back as the same text).

    Raises:
        InvalidInputError: an unsupported source or format, an empty folder, an unreadable
            table file, an ``encoding`` for a source that is not a CSV file.
        NotFoundError: a path that does not exist.
    """
    if format is not None and format not in FORMATS:
        raise InvalidInputError(
            f"unknown dataset format {format!r}; use one of {', '.join(FORMATS)} "
            "(or leave it out to infer it from the source)"
        )
    if isinstance(source, str | os.PathLike):
        # the path named may be a link (to a file or folder); links inside are refused
        path = Path(source).expanduser().resolve()
        return _identify_path(path, format, cache, progress, encoding)
    _require(encoding is None, "encoding= applies to CSV files only; a table in memory is text")
    table = _in_memory_table(source)
    _require(format in (None, "parquet"), f"a table in memory is stored as Parquet, not {format}")
    table = _tables.check_table(table, f"the {type(source).__name__}")
    kind_name = f"{type(source).__module__.split('.')[0]}.{type(source).__name__}"
    return Identified("table", "parquet", _tables.canonical_digest(table), kind_name, table)


@contextlib.contextmanager
def prepare(found: Identified, scratch: Path) -> Iterator[Prepared]:
    """Read, profile and write what a new version of ``found`` stores.

    Temporary files live in ``scratch`` and are removed when the block ends.
    """
    if found.kind == "files":
        assert found.hashed is not None
        yield Prepared(found.hashed.files)
        return
    if found.format == "csv":
        assert found.path is not None
        assert found.hashed is not None
        table = _tables.check_text(_tables.read_csv(found.path, str(found.path)), str(found.path))
        original = found.hashed.files[0]
        stored = LocalFile(_csv_name(found.path), original.local, original.size, original.digest)
        yield _table_version(table, stored)
        return
    table = found.table
    if table is None:  # the digest came from the cache: read now, and check it is the same
        table = _read_table(found.path, found.encoding)
        if _tables.canonical_digest(table) != found.digest:
            raise ConflictError(
                f"{found.path} changed while it was being versioned; log it again once "
                "nothing writes to it",
                details={"path": str(found.path)},
            )
    scratch.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="log-", dir=scratch))
    try:
        target = folder / "data.parquet"
        _tables.write_parquet(table, target)
        [written] = hash_files([("data.parquet", target, target.stat())], None).files
        yield _table_version(table, written)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _identify_path(
    path: Path,
    format: str | None,
    cache: DigestCache,
    progress: Progress | None,
    encoding: str | None,
) -> Identified:
    if not path.exists():
        raise MissingFileError(
            "path", str(path), hint=f"check it (relative paths start at {Path.cwd()})"
        )
    text = str(path.absolute())
    if path.is_dir():
        _require(format in (None, "files"), f"{path} is a folder; a folder has format 'files'")
        files = list_files(path)
        _require(bool(files), f"folder {path} has no files; a dataset version needs at least one")
        hashed = hash_files(files, cache, progress=progress)
        digest = folder_digest(file.entry for file in hashed.files)
        return Identified("files", "files", digest, text, path=path, hashed=hashed)
    format = format or _format_from_name(path)
    is_csv = format == "csv" or (format == "parquet" and _is_csv_name(path.name.lower()))
    _require(encoding is None or is_csv, f"encoding= applies to CSV files only, not to {path.name}")
    if encoding is not None and _is_utf8(encoding):
        encoding = None  # the default: a csv version keeps the file as it is
    hashed = hash_files([(path.name, path, path.stat())], cache, progress=progress)
    raw_digest = hashed.files[0].digest
    if format == "files":
        digest = folder_digest(file.entry for file in hashed.files)
        return Identified("files", "files", digest, text, path=path, hashed=hashed)
    if format == "csv" and encoding is None:
        return Identified("table", "csv", raw_digest, text, path=path, hashed=hashed)
    derived = _TABLE_DIGEST + (f"/{encoding.lower()}" if encoding else "")
    known = cache.derived(raw_digest, derived)
    if known is not None:
        return Identified(
            "table", "parquet", known, text, path=path, hashed=hashed, encoding=encoding
        )
    table = _read_table(path, encoding)
    digest = _tables.canonical_digest(table)
    cache.remember(raw_digest, derived, digest)
    return Identified("table", "parquet", digest, text, table, path=path, hashed=hashed)


def _format_from_name(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if _is_csv_name(name):
        return "csv"
    raise InvalidInputError(
        f"cannot tell the format of {path} from its name; pass format='parquet' or 'csv' "
        "for a table, or format='files' to version the file as it is"
    )


def _read_table(path: Path | None, encoding: str | None = None) -> pa.Table:
    assert path is not None
    if _is_csv_name(path.name.lower()) or encoding is not None:
        return _tables.check_text(_tables.read_csv(path, str(path), encoding), str(path))
    return _tables.check_table(_tables.read_parquet(path, str(path)), str(path))


def _is_utf8(encoding: str) -> bool:
    import codecs

    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False  # read_csv names the unknown encoding


def _in_memory_table(source: object) -> pa.Table:
    if isinstance(source, pa.Table):
        return source
    if isinstance(source, pa.RecordBatch):
        return pa.Table.from_batches([source])
    pandas = sys.modules.get("pandas")  # a DataFrame implies pandas is imported already
    if pandas is not None and isinstance(source, pandas.DataFrame):
        return _tables.frame_to_table(source)
    raise InvalidInputError(
        f"cannot version a {type(source).__module__}.{type(source).__name__}; pass a pandas "
        "DataFrame, a pyarrow Table, or the path of a Parquet file, CSV file or folder"
    )


def _table_version(table: pa.Table, stored: LocalFile) -> Prepared:
    return Prepared(
        [stored],
        row_count=table.num_rows,
        schema=_tables.table_schema(table),
        profile=profile_table(table),
    )


def _is_csv_name(name: str) -> bool:
    return any(name.endswith(".csv" + suffix) for suffix in ("", *_tables.CSV_COMPRESSION))


def _csv_name(path: Path) -> str:
    """``data.csv`` plus the compression suffix the file has (readers rely on it)."""
    suffix = path.suffix.lower()
    return "data.csv" + (suffix if suffix in _tables.CSV_COMPRESSION else "")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidInputError(message)
