"""Runs as a pandas DataFrame (pandas is imported only here, when asked for)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from loopml.tracking.models import Run

if TYPE_CHECKING:
    import pandas as pd


def runs_frame(found: Sequence[Run]) -> pd.DataFrame:
    """One row per run: attributes, then ``params.*``, ``metrics.*`` and ``tags.*`` columns."""
    import pandas as pd

    records: list[dict[str, Any]] = []
    for run in found:
        record: dict[str, Any] = {
            "run_id": run.id,
            "experiment_id": run.experiment_id,
            "run_name": run.name,
            "status": str(run.status),
            "start_time": pd.to_datetime(run.start_time, unit="ms", utc=True),
            "end_time": pd.to_datetime(run.end_time, unit="ms", utc=True)
            if run.end_time is not None
            else pd.NaT,
            "parent_run_id": run.parent_run_id,
        }
        record.update({f"params.{k}": v for k, v in run.params.items()})
        record.update({f"metrics.{k}": v for k, v in run.metrics.items()})
        record.update({f"tags.{k}": v for k, v in run.tags.items()})
        records.append(record)
    return pd.DataFrame.from_records(records)
