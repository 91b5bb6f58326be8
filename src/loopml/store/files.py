"""Queries over ``artifact_files`` paths that every owner of files (runs, versions) shares.

Example:
    >>> from loopml.store.schema import artifact_files
    >>> condition = under_folder(artifact_files.c.path, "model")  # model/… but not Model/…
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func

__all__ = ["under_folder"]


def under_folder(column: ColumnElement[str], folder: str) -> ColumnElement[bool]:
    """Paths inside ``folder`` (``folder/…``), compared exactly on every database.

    ``LIKE`` with the folder's wildcards escaped narrows the rows; SQLite's ``LIKE``
    ignores ASCII case, so the head of the path is compared once more, exactly.
    """
    head = folder + "/"
    escaped = folder.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return and_(
        column.like(escaped + "/%", escape="\\"),
        func.substr(column, 1, len(head)) == head,
    )
