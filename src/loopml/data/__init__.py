"""Data: dataset versioning (content-addressed snapshots, diff, change detection) and validation.

Names load on first use: most of them bring in pyarrow, and drift statistics bring in
scipy (import those from :mod:`loopml.data.drift` directly).

Example:
    >>> from loopml.data import DatasetClient, infer_schema, validate
    >>> version = DatasetClient().log("churn", "data/churn.parquet")  # doctest: +SKIP
    >>> validate("datasets:/churn@latest", infer_schema(frame)).passed  # doctest: +SKIP
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopml._lazy import lazy_getattr

if TYPE_CHECKING:
    from loopml.data._targets import check_name, parse_target
    from loopml.data.changes import changed
    from loopml.data.checks import Violation
    from loopml.data.models import (
        ChangeReport,
        Dataset,
        DatasetDiff,
        DatasetVersion,
        ValidationRecord,
    )
    from loopml.data.profile import profile_table
    from loopml.data.report import render_html
    from loopml.data.schema import (
        ColumnSchema,
        DataSchema,
        DriftConfig,
        infer_schema,
        load_schema,
        save_schema,
    )
    from loopml.data.validate import ValidationResult, validate
    from loopml.data.versions import DatasetClient

_EXPORTS = {
    "check_name": "loopml.data._targets",
    "parse_target": "loopml.data._targets",
    "DatasetClient": "loopml.data.versions",
    "Dataset": "loopml.data.models",
    "DatasetVersion": "loopml.data.models",
    "DatasetDiff": "loopml.data.models",
    "ChangeReport": "loopml.data.models",
    "ValidationRecord": "loopml.data.models",
    "changed": "loopml.data.changes",
    "profile_table": "loopml.data.profile",
    "ColumnSchema": "loopml.data.schema",
    "DataSchema": "loopml.data.schema",
    "DriftConfig": "loopml.data.schema",
    "infer_schema": "loopml.data.schema",
    "load_schema": "loopml.data.schema",
    "save_schema": "loopml.data.schema",
    "validate": "loopml.data.validate",
    "ValidationResult": "loopml.data.validate",
    "Violation": "loopml.data.checks",
    "render_html": "loopml.data.report",
}

__all__ = [
    "ChangeReport",
    "ColumnSchema",
    "DataSchema",
    "Dataset",
    "DatasetClient",
    "DatasetDiff",
    "DatasetVersion",
    "DriftConfig",
    "ValidationRecord",
    "ValidationResult",
    "Violation",
    "changed",
    "check_name",
    "infer_schema",
    "load_schema",
    "parse_target",
    "profile_table",
    "render_html",
    "save_schema",
    "validate",
]


__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
