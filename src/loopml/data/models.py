"""Value objects of dataset versioning: datasets, versions, diffs and change reports.

All are frozen: a dataset version is an immutable snapshot named by its content digest,
and the reports describe a comparison made at one moment. Each has ``to_dict()`` giving
plain JSON-able data (what ``--json`` prints and the server returns).

Example:
    >>> v = DatasetVersion(
    ...     id="01J0", name="iris", version=3, digest="ab" * 32, kind="table",
    ...     format="parquet", row_count=150, file_count=1, byte_size=4096,
    ...     schema=None, profile=None, source="iris.csv", run_id=None,
    ...     created_at=0, created_by="ada",
    ... )
    >>> v.uri
    'datasets:/iris/3'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from loopml.errors import InvalidInputError
from loopml.uris import dataset_uri

__all__ = [
    "ChangeReport",
    "Dataset",
    "DatasetDiff",
    "DatasetVersion",
    "Kind",
    "StatChange",
    "TypeChange",
    "ValidationRecord",
]

Kind = Literal["table", "files"]


@dataclass(frozen=True, slots=True)
class Dataset:
    """A named series of versions.

    Attributes:
        id: the dataset's id.
        name: its unique name, as used in ``datasets:/<name>/<version>``.
        description: free text, or ``None``.
        created_at: when its first version was logged (Unix milliseconds).
        version_count: how many versions it has.
        latest_version: the highest version number, or ``None`` without versions.
        updated_at: when the latest version was logged (Unix milliseconds), or ``None``.

    Example:
        >>> Dataset("01J0", "iris", None, 0, 2, 2, 5).to_dict()["latest_version"]
        2
    """

    id: str
    name: str
    description: str | None
    created_at: int
    version_count: int
    latest_version: int | None
    updated_at: int | None

    def to_dict(self) -> dict[str, Any]:
        """The dataset as plain data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class DatasetVersion:
    """One immutable, content-addressed snapshot of a dataset.

    Attributes:
        id: the version's id (the owner id of its files in ``artifact_files``).
        name: the dataset's name.
        version: 1, 2, 3… in the order versions were logged.
        digest: SHA-256 naming the content (see :mod:`loopml.data.versions`).
        kind: ``"table"`` (one table) or ``"files"`` (a folder of files).
        format: how it is stored: ``"parquet"``, ``"csv"`` or ``"files"``.
        row_count: rows of a table; ``None`` for files.
        file_count: stored files (1 for a table).
        byte_size: their total size in bytes.
        schema: for a table ``{"columns": [{"name", "type", "nullable"}, …]}``, else ``None``.
        profile: for a table the statistics of :func:`loopml.data.profile.profile_table`.
        source: where the content came from (a path, or ``pandas.DataFrame``).
        run_id: the run that logged the version first, if any (lineage has the details).
        created_at: when it was logged (Unix milliseconds).
        created_by: who logged it.

    Example:
        >>> DatasetVersion("01J0", "x", 1, "ab" * 32, "files", "files", None, 2, 10,
        ...                None, None, "/data", None, 0, "ada").uri
        'datasets:/x/1'
    """

    id: str
    name: str
    version: int
    digest: str
    kind: Kind
    format: str
    row_count: int | None
    file_count: int
    byte_size: int
    schema: dict[str, Any] | None
    profile: dict[str, Any] | None
    source: str | None
    run_id: str | None
    created_at: int
    created_by: str | None

    @property
    def uri(self) -> str:
        """``datasets:/<name>/<version>``."""
        return dataset_uri(self.name, self.version)

    def to_dict(self) -> dict[str, Any]:
        """The version as plain data, with its ``uri``."""
        return {"uri": self.uri, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetVersion:
        """The version :meth:`to_dict` gave (``uri`` is derived, so it is ignored).

        Raises:
            InvalidInputError: a field is missing.
        """
        try:
            return cls(**{f.name: data[f.name] for f in fields(cls)})
        except KeyError as err:
            raise InvalidInputError(f"a dataset version needs the field {err}") from err

    def _repr_html_(self) -> str:
        """A compact summary for notebooks: never the whole profile or schema."""
        from loopml._html import html_table, human_bytes, when

        columns = [str(c.get("name")) for c in (self.schema or {}).get("columns", [])]
        return html_table(
            f"Dataset version {self.uri}",
            [
                ("kind", f"{self.kind} ({self.format})"),
                ("rows", self.row_count),
                ("columns", len(columns) if self.schema is not None else None),
                (
                    "column names",
                    columns[:8] + ([f"… {len(columns) - 8} more"] if len(columns) > 8 else []),
                ),
                ("files", self.file_count if self.kind == "files" else None),
                ("size", human_bytes(self.byte_size)),
                ("digest", self.digest[:12]),
                ("source", self.source),
                ("run", self.run_id),
                ("created", when(self.created_at)),
                ("created by", self.created_by),
            ],
        )


@dataclass(frozen=True, slots=True)
class TypeChange:
    """A column whose type (or nullability) differs between two versions.

    Example:
        >>> TypeChange("age", "int64", "double").after
        'double'
    """

    column: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class StatChange:
    """One statistic of one column that differs between two profiles.

    Attributes:
        column: the column.
        statistic: ``mean``, ``std``, ``min``, ``max``, ``null_fraction`` or ``distinct``.
        before: the value in the first version (``None`` if it had none).
        after: the value in the second version.
        delta: ``after - before`` when both are numbers, else ``None``.

    Example:
        >>> StatChange("age", "mean", 30.0, 33.0, 3.0).delta
        3.0
    """

    column: str
    statistic: str
    before: float | int | str | None
    after: float | int | str | None
    delta: float | None


@dataclass(frozen=True, slots=True)
class DatasetDiff:
    """What changed from version ``a`` to version ``b``.

    Example:
        >>> d = DatasetDiff("datasets:/x/1", "datasets:/x/2", False, 10, 12)
        >>> d.row_delta
        2
    """

    a: str
    b: str
    identical: bool
    rows_a: int | None = None
    rows_b: int | None = None
    added_columns: tuple[str, ...] = ()
    removed_columns: tuple[str, ...] = ()
    type_changes: tuple[TypeChange, ...] = ()
    files_added: tuple[str, ...] = ()
    files_removed: tuple[str, ...] = ()
    files_changed: tuple[str, ...] = ()
    stat_changes: tuple[StatChange, ...] = ()
    bytes_a: int = 0
    bytes_b: int = 0

    @property
    def row_delta(self) -> int | None:
        """``rows_b - rows_a``, or ``None`` unless both are tables."""
        if self.rows_a is None or self.rows_b is None:
            return None
        return self.rows_b - self.rows_a

    @property
    def schema_changed(self) -> bool:
        """Whether columns were added, removed or retyped."""
        return bool(self.added_columns or self.removed_columns or self.type_changes)

    def to_dict(self) -> dict[str, Any]:
        """The diff as plain data, with ``row_delta`` and ``schema_changed``."""
        return {**asdict(self), "row_delta": self.row_delta, "schema_changed": self.schema_changed}


@dataclass(frozen=True, slots=True)
class ChangeReport:
    """Whether a source differs from the latest version of a dataset.

    ``changed`` is true exactly when logging the source now would not return the latest
    version. It is also the report's truth value, so ``if changed(...)`` reads naturally.

    Attributes:
        name: the dataset.
        version: the latest version the source was compared with.
        changed: whether the content differs.
        digest: the digest the source has now.
        latest_digest: the digest of the latest version.
        added, removed, modified: for folders, the paths that differ.
        hashed_files: files read and hashed for this check.
        cached_files: files whose digest came from the local digest cache instead.

    Example:
        >>> report = ChangeReport("x", 1, False, "ab" * 32, "ab" * 32)
        >>> bool(report), report.uri
        (False, 'datasets:/x/1')
    """

    name: str
    version: int
    changed: bool
    digest: str
    latest_digest: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    hashed_files: int = 0
    cached_files: int = 0

    @property
    def uri(self) -> str:
        """The URI of the version compared with."""
        return dataset_uri(self.name, self.version)

    def __bool__(self) -> bool:
        return self.changed

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data, with the compared ``uri``."""
        return {"uri": self.uri, **asdict(self)}


@dataclass(frozen=True, slots=True)
class ValidationRecord:
    """A validation report kept with the dataset version it checked.

    Attributes:
        id: the record's id (sortable: newer records have larger ids).
        uri: the version checked, ``datasets:/<name>/<version>``.
        passed: whether no violation had severity ``error``.
        summary: the verdict and the counts in one line.
        recorded_at: when it was kept (Unix milliseconds).
        recorded_by: who kept it.
        note: what it was checked against, in words (a schema file, a CI job), if given.
        report: :meth:`loopml.data.ValidationResult.to_dict`: every violation, the column
            summaries, drift per column and the distributions compared.

    Example:
        >>> ValidationRecord("01J0", "datasets:/iris/3", True, "passed: 3 rows, no violations",
        ...                  0, "ada", None, {}).passed
        True
    """

    id: str
    uri: str
    passed: bool
    summary: str
    recorded_at: int
    recorded_by: str | None
    note: str | None
    report: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The record as plain data."""
        return asdict(self)
