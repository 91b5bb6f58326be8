"""Compare two dataset versions: schema, rows, files and column statistics.

Everything is computed from what the versions recorded (schema, profile, manifest), so a
diff reads no data and costs a few queries whatever the size of the versions.

Example:
    >>> compare_manifests({"a.txt": "1", "b.txt": "2"}, {"b.txt": "3", "c.txt": "4"})
    (('c.txt',), ('a.txt',), ('b.txt',))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loopml.artifacts import ManifestEntry
from loopml.data.models import DatasetDiff, DatasetVersion, StatChange, TypeChange

__all__ = ["COMPARED_STATISTICS", "compare_manifests", "diff_versions"]

COMPARED_STATISTICS = ("mean", "std", "min", "max", "null_fraction", "distinct")


def diff_versions(
    a: DatasetVersion,
    b: DatasetVersion,
    files_a: Sequence[ManifestEntry] = (),
    files_b: Sequence[ManifestEntry] = (),
) -> DatasetDiff:
    """What changed from ``a`` to ``b``.

    File changes are listed when both versions are folders; schema and statistic changes
    when both are tables.

    Example:
        >>> diff_versions(v1, v2).row_delta  # doctest: +SKIP
        12
    """
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    if a.kind == "files" and b.kind == "files":
        added, removed, changed = compare_manifests(_digests(files_a), _digests(files_b))
    columns_added, columns_removed, retyped = _schema_changes(a.schema, b.schema)
    return DatasetDiff(
        a=a.uri,
        b=b.uri,
        identical=a.digest == b.digest,
        rows_a=a.row_count,
        rows_b=b.row_count,
        added_columns=columns_added,
        removed_columns=columns_removed,
        type_changes=retyped,
        files_added=added,
        files_removed=removed,
        files_changed=changed,
        stat_changes=_stat_changes(a.profile, b.profile),
        bytes_a=a.byte_size,
        bytes_b=b.byte_size,
    )


def compare_manifests(
    old: Mapping[str, str], new: Mapping[str, str]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """``(added, removed, modified)`` paths between two ``{path: digest}`` manifests."""
    added = tuple(sorted(new.keys() - old.keys()))
    removed = tuple(sorted(old.keys() - new.keys()))
    modified = tuple(sorted(p for p in old.keys() & new.keys() if old[p] != new[p]))
    return added, removed, modified


def _digests(files: Sequence[ManifestEntry]) -> dict[str, str]:
    return {entry.path: entry.digest for entry in files}


def _schema_changes(
    a: Mapping[str, Any] | None, b: Mapping[str, Any] | None
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[TypeChange, ...]]:
    if a is None or b is None:
        return (), (), ()
    before, after = _column_types(a), _column_types(b)
    added = tuple(name for name in after if name not in before)
    removed = tuple(name for name in before if name not in after)
    retyped = tuple(
        TypeChange(name, before[name], after[name])
        for name in before
        if name in after and before[name] != after[name]
    )
    return added, removed, retyped


def _column_types(schema: Mapping[str, Any]) -> dict[str, str]:
    """``{column: "type"}``, with `` not null`` appended for required columns."""
    return {
        column["name"]: column["type"] + ("" if column.get("nullable", True) else " not null")
        for column in schema.get("columns", [])
    }


def _stat_changes(
    a: Mapping[str, Any] | None, b: Mapping[str, Any] | None
) -> tuple[StatChange, ...]:
    if a is None or b is None:
        return ()
    columns_a, columns_b = a.get("columns", {}), b.get("columns", {})
    changes = []
    for column, stats_a in columns_a.items():
        stats_b = columns_b.get(column)
        if stats_b is None:
            continue
        for statistic in COMPARED_STATISTICS:
            if statistic not in stats_a and statistic not in stats_b:
                continue
            before, after = stats_a.get(statistic), stats_b.get(statistic)
            if before != after:
                changes.append(StatChange(column, statistic, before, after, _delta(before, after)))
    return tuple(changes)


def _delta(before: object, after: object) -> float | None:
    numbers = (int, float)
    if isinstance(before, bool) or isinstance(after, bool):
        return None
    if isinstance(before, numbers) and isinstance(after, numbers):
        return float(after) - float(before)
    return None
