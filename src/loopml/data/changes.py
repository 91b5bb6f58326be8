"""Has a source drifted from the latest version of a dataset?

:func:`changed` answers without storing anything: the source is digested exactly as
``log`` would digest it (files through the local digest cache, so unchanged files are not
read again), and the digest is compared with the latest version's. "Changed" therefore
means "logging this source now would not give the latest version". For folders the
report also lists the files added, removed and modified since that version.

This is the check behind data-change triggers: cheap enough to run every minute on a
large folder.

Example:
    >>> report = changed("images", "data/images")  # doctest: +SKIP
    >>> if report:  # doctest: +SKIP
    ...     print(f"{len(report.modified)} files changed since {report.uri}")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from loopml.artifacts import ManifestEntry
from loopml.data.diff import compare_manifests
from loopml.data.models import ChangeReport, DatasetVersion

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.data._folders import Progress
    from loopml.data._sources import Identified

__all__ = ["change_report", "changed"]


def changed(
    name: str,
    source: object,
    *,
    format: str | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> ChangeReport:
    """Compare ``source`` with the latest version of dataset ``name``.

    Args:
        name: the dataset.
        source: what ``log`` accepts: a DataFrame, an Arrow table, or the path of a Parquet
            file, a CSV file or a folder.
        format: as for ``log``; give the same one the dataset was logged with.
        settings: where the store is; :meth:`Settings.load` by default.
        progress: called with ``(bytes done, bytes total)`` while files are hashed.

    Returns:
        A report that is truthy when the source differs.

    Raises:
        NotFoundError: the dataset does not exist (or has no version yet).
        InvalidInputError: the source cannot be versioned (see ``log``).

    Example:
        >>> changed("iris", "data/iris.csv").changed  # doctest: +SKIP
        False
    """
    from loopml.data.versions import DatasetClient  # versions uses this module's helpers

    client = DatasetClient(settings)
    return client.changed(name, source, format=format, progress=progress)


def change_report(
    latest: DatasetVersion,
    current: Identified,
    stored_files: Sequence[ManifestEntry] = (),
) -> ChangeReport:
    """The report for ``current`` (an identified source) against ``latest``."""
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    if latest.kind == "files" and current.kind == "files" and current.hashed is not None:
        old = {entry.path: entry.digest for entry in stored_files}
        new = {file.path: file.digest for file in current.hashed.files}
        added, removed, modified = compare_manifests(old, new)
    return ChangeReport(
        name=latest.name,
        version=latest.version,
        changed=current.digest != latest.digest,
        digest=current.digest,
        latest_digest=latest.digest,
        added=added,
        removed=removed,
        modified=modified,
        hashed_files=current.hashed_files,
        cached_files=current.cached_files,
    )
