"""Validation reports kept with the dataset version they checked.

A report is one JSON blob in the artifact store, listed in ``artifact_files`` under its
own owner kind (``dataset_validation``, owned by the version's id), so garbage collection
keeps it and the version's own file list never shows it. Its path is
``validations/<id>.json`` with a sortable id, so the newest sorts last. Keeping one writes
an audit row in the same transaction.

Example:
    >>> path_of("01J0ABC")
    'validations/01J0ABC.json'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select

from loopml._ids import new_id
from loopml.artifacts import ArtifactStore, StoredFile
from loopml.clock import now_ms
from loopml.data.models import DatasetVersion, ValidationRecord
from loopml.errors import InvalidInputError, quote
from loopml.store.audit import current_actor, record
from loopml.store.schema import artifact_files

__all__ = ["OWNER", "blob_of", "digests", "keep", "new_record", "path_of", "read", "report_of"]

OWNER = "dataset_validation"  # owner_kind of the reports' rows in artifact_files
_FOLDER = "validations"
_F = artifact_files.c


def path_of(record_id: str) -> str:
    """Where a report is listed among its version's validation files."""
    return f"{_FOLDER}/{record_id}.json"


def report_of(result: object) -> dict[str, Any]:
    """``result`` (a ``ValidationResult`` or its ``to_dict()``) as a checked dict."""
    to_dict = getattr(result, "to_dict", None)
    report = to_dict() if callable(to_dict) else result
    if not isinstance(report, Mapping) or not isinstance(report.get("passed"), bool):
        raise InvalidInputError(
            f"keep a ValidationResult (what loopml.data.validate returns) or its to_dict(); "
            f"got {type(result).__name__} {quote(result, 60)}"
        )
    return dict(report)


def new_record(
    version: DatasetVersion, report: dict[str, Any], note: str | None
) -> ValidationRecord:
    """The record of ``report`` about ``version``, made now by the current actor."""
    return ValidationRecord(
        id=new_id(),
        uri=version.uri,
        passed=bool(report["passed"]),
        summary=str(report.get("summary") or ("passed" if report["passed"] else "failed")),
        recorded_at=now_ms(),
        recorded_by=current_actor(),
        note=note,
        report=report,
    )


def blob_of(found: ValidationRecord) -> bytes:
    """The JSON the artifact store keeps for ``found``."""
    return json.dumps(found.to_dict(), sort_keys=True, default=str).encode("utf-8")


def keep(
    conn: Connection, version: DatasetVersion, found: ValidationRecord, stored: StoredFile
) -> None:
    """List the stored report ``found`` under ``version``, with its audit row, in ``conn``."""
    conn.execute(
        artifact_files.insert().values(
            owner_kind=OWNER,
            owner_id=version.id,
            path=path_of(found.id),
            digest=stored.digest,
            size=stored.size,
            created_at=found.recorded_at,
        )
    )
    record(
        conn,
        action="dataset.validated",
        object_kind="dataset_version",
        object_id=f"{version.name}/{version.version}",
        reason=found.note,
        details={
            "passed": found.passed,
            "errors": found.report.get("error_count"),
            "warnings": found.report.get("warning_count"),
        },
    )


def digests(conn: Connection, version: DatasetVersion, limit: int) -> list[str]:
    """The blobs of the newest ``limit`` reports kept for ``version``, newest first."""
    rows = conn.execute(
        select(_F.digest)
        .where(_F.owner_kind == OWNER, _F.owner_id == version.id)
        .order_by(_F.path.desc())
        .limit(limit)
    )
    return [row.digest for row in rows]


def read(store: ArtifactStore, digest: str) -> ValidationRecord:
    """A kept report back from its blob."""
    return ValidationRecord(**json.loads(store.get_bytes(digest)))
