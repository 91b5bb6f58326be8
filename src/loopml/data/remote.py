"""Dataset versions through a loopml server, for ``LOOPML_TRACKING_URI=http://…``.

The same calls as :class:`~loopml.data.versions.DatasetClient` (``log``, ``get``,
``files``, ``load``, ``log_input``), answered by the server's REST API, so
``loopml.log_dataset`` and ``loopml.load_dataset`` work unchanged against a server:

- ``log`` stages the content as the local client would read it (a DataFrame or Arrow
  table as Parquet, a CSV or Parquet file as it is, a folder as a tar archive of its
  plain files) and uploads it; the server logs it, so the version, its digest and its
  number are the ones a local log of the same content makes.
- ``load`` downloads the version's stored files and checks each against its SHA-256
  before using it; a folder's files land in ``dest`` (default: a cache folder per
  digest, reused when its files are already right).

Example:
    >>> client = RemoteDatasetClient(settings)  # doctest: +SKIP
    >>> client.log("churn", frame).uri  # doctest: +SKIP
    'datasets:/churn/1'
"""

from __future__ import annotations

import os
import tarfile
import tempfile
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml import _transfer
from loopml._remote import TOKEN_ENV, JsonHttp, ServerUnreachable, error_from
from loopml.artifacts import ManifestEntry, local_target
from loopml.config import Settings
from loopml.data import _tables
from loopml.data._folders import list_files
from loopml.data._sources import _format_from_name, _in_memory_table
from loopml.data._targets import check_name, check_role, parse_target
from loopml.data.models import DatasetVersion
from loopml.errors import InvalidInputError, MissingFileError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["RemoteDatasetClient"]

_API = "/api/v1"
# How long a download keeps retrying a server that does not answer.
RESUME_WAIT_S = 10.0


class RemoteDatasetClient:
    """Dataset versions logged to and loaded from the server ``settings.tracking_uri`` names."""

    def __init__(
        self, settings: Settings, *, token: str | None = None, http: JsonHttp | None = None
    ) -> None:
        """``http``: the connection to the server to share (the remote tracking client's),
        else one of its own (closed by :meth:`close`)."""
        self.settings = settings
        self.http = http or JsonHttp(settings.tracking_uri, token or os.environ.get(TOKEN_ENV))

    # -- writing -----------------------------------------------------------------------

    def log(
        self,
        name: str,
        source: object,
        *,
        description: str | None = None,
        run_id: str | None = None,
        role: str = "input",
        format: str | None = None,
        encoding: str | None = None,
    ) -> DatasetVersion:
        """Upload ``source`` as the next version of ``name`` (or get the version holding it).

        Raises:
            InvalidInputError: a bad name, role or source (as a local log would).
            MissingFileError: the path does not exist.
        """
        check_name(name)
        check_role(role)
        scratch = self.settings.home / "cache" / "tmp"
        scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=scratch) as tmp:
            body, fmt, filename, label = _stage(source, format, Path(tmp))
            query = {
                "format": fmt,
                "filename": filename,
                "source": label,
                "description": description,
                "run_id": run_id,
                "role": role,
                "encoding": encoding,
            }
            found = self.http.request(
                "POST", f"{_API}/datasets/{_q(name)}/versions", query=query, upload=body
            )
        return _version(found)

    def log_input(
        self, dataset: DatasetVersion | str, run_id: str, context: str | None = "training"
    ) -> DatasetVersion:
        """Record that run ``run_id`` consumed ``dataset`` in ``context`` (``None``: no
        context said, as :meth:`load` records)."""
        uri = dataset.uri if isinstance(dataset, DatasetVersion) else dataset
        if not isinstance(uri, str):
            raise InvalidInputError(
                "dataset must be a DatasetVersion or a datasets:/ URI, got "
                f"{type(dataset).__name__}"
            )
        found = self.http.request(
            "POST", f"{_API}/runs/{_q(run_id)}/inputs", {"dataset": uri, "context": context}
        )
        return _version(found)

    # -- reading -----------------------------------------------------------------------

    def get(self, uri_or_name: str, version: int | None = None) -> DatasetVersion:
        """A version, from ``datasets:/name/3``, ``datasets:/name@latest`` or a name."""
        name, number = parse_target(uri_or_name, version)
        which = "latest" if number is None else str(number)
        return _version(self.http.request("GET", f"{_API}/datasets/{_q(name)}/versions/{which}"))

    def files(self, uri_or_name: str, version: int | None = None) -> list[ManifestEntry]:
        """The stored files of a version, by path."""
        found = self.get(uri_or_name, version)
        listed = self.http.request(
            "GET", f"{_API}/datasets/{_q(found.name)}/versions/{found.version}/files"
        )
        return [
            ManifestEntry(path=f["path"], digest=f["digest"], size=int(f["size"]))
            for f in listed["files"]
        ]

    def load(
        self,
        uri_or_name: str,
        version: int | None = None,
        *,
        as_arrow: bool = False,
        dest: str | Path | None = None,
        run_id: str | None = None,
    ) -> pd.DataFrame | pa.Table | Path:
        """The content of a version, every file checked against its digest."""
        found = self.get(uri_or_name, version)
        if run_id is not None:
            self.log_input(found, run_id, None)
        entries = self.files(found.uri)
        if found.kind == "files":
            folder = Path(dest) if dest is not None else self._cache(found)
            for entry in entries:
                self._fetch(found, entry, local_target(folder, entry.path))
            return folder
        [entry] = entries
        target = self._cache(found) / entry.path
        self._fetch(found, entry, target)
        table = _read(found, entry, target)
        return table if as_arrow else _tables.table_to_frame(table)

    def close(self) -> None:
        self.http.close()

    # -- internals ---------------------------------------------------------------------

    def _cache(self, found: DatasetVersion) -> Path:
        return self.settings.home / "cache" / "datasets" / found.digest

    def _fetch(self, found: DatasetVersion, entry: ManifestEntry, target: Path) -> None:
        """Download ``entry`` to ``target`` (checked against its SHA-256) unless a file
        with its digest is there already."""
        if target.is_file() and _transfer.sha256_of(target) == entry.digest:
            return
        url = (
            f"{self.http.url}{_API}/datasets/{_q(found.name)}/versions/{found.version}/files/"
            + "/".join(_q(part) for part in entry.path.split("/"))
        )
        try:
            _transfer.retrying(
                lambda: _transfer.download(
                    url, target, sha256=entry.digest, size=entry.size, headers=self.http.headers()
                ),
                RESUME_WAIT_S,
                errors=(_transfer.Unreachable,),
            )
        except _transfer.Unreachable as err:
            raise ServerUnreachable(
                f"cannot fetch {entry.path} of {found.uri} from {self.http.url} ({err}); "
                "load it again when the server answers (what arrived is kept and resumed)"
            ) from err
        except _transfer.TransferError as err:
            raise error_from(int(err.details.get("status", 500)), err.body) from err


def _stage(source: object, format: str | None, tmp: Path) -> tuple[Path, str, str | None, str]:
    """What to upload for ``source``: the body's file, its format, file name and label."""
    if isinstance(source, str | os.PathLike):
        path = Path(source).expanduser()
        if not path.exists():
            raise MissingFileError(
                "path", str(path), hint=f"check it (relative paths start at {Path.cwd()})"
            )
        label = str(path.absolute())
        if path.is_dir():
            if format not in (None, "files"):
                raise InvalidInputError(f"{path} is a folder; a folder has format 'files'")
            return _archive(list_files(path), tmp), "files", None, label
        fmt = format or _format_from_name(path)
        if fmt == "files":
            return _archive([(path.name, path, path.stat())], tmp), "files", None, label
        return path, fmt, path.name, label
    if format not in (None, "parquet"):
        raise InvalidInputError(f"a table in memory is stored as Parquet, not {format}")
    import pyarrow.parquet as pq

    table = _tables.check_table(_in_memory_table(source), f"the {type(source).__name__}")
    body = tmp / "data.parquet"
    pq.write_table(table, body)
    kind = f"{type(source).__module__.split('.')[0]}.{type(source).__name__}"
    return body, "parquet", None, kind


def _archive(files: list[tuple[str, Path, Any]], tmp: Path) -> Path:
    """A tar of ``(manifest path, path, stat)`` files: plain files, relative paths."""
    body = tmp / "upload.tar"
    with tarfile.open(body, "w") as tar:
        for name, path, _ in files:
            tar.add(path, arcname=name, recursive=False)
    return body


def _read(found: DatasetVersion, entry: ManifestEntry, path: Path) -> pa.Table:
    what = f"{found.uri} ({entry.path})"
    if found.format != "csv":
        return _tables.read_parquet(path, what)
    import pyarrow as pa

    codec = _tables.CSV_COMPRESSION.get(Path(entry.path).suffix)
    if codec is None:
        return _tables.read_csv(path, what)
    return _tables.read_csv(pa.CompressedInputStream(pa.OSFile(str(path)), codec), what)


def _version(data: dict[str, Any]) -> DatasetVersion:
    return DatasetVersion.from_dict(data)


def _q(part: str) -> str:
    return urllib.parse.quote(part, safe="")
