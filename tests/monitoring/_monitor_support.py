"""A churn model trained on a logged dataset, and hours of its payload log with known shifts.

``churn_rows(rng, n, shift)``: rows of ``x1``, ``x2`` (normal), ``plan`` (3 categories)
and ``churned`` (``x1 + x2 > 0``), with ``x1`` moved by ``shift``. ``log_windows``: logs
``requests`` requests of ``rows`` rows in each hour ``T0 + k h`` of deployment
``churn-api`` (model ``churn`` v1), the k-th hour shifted by ``shifts[k]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from loopml.config import Settings
from loopml.monitoring import PayloadWriter, Prediction

HOUR = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, on an hour
FEATURES = ["x1", "x2", "plan"]


def churn_rows(rng: np.random.Generator, rows: int, shift: float = 0.0) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "x1": rng.normal(shift, 1.0, rows),
            "x2": rng.normal(0.0, 1.0, rows),
            "plan": rng.choice(["basic", "pro", "team"], rows, p=[0.5, 0.3, 0.2]),
        }
    )
    frame["churned"] = ((frame["x1"] + frame["x2"]) > 0).astype(int)
    return frame


def log_windows(
    settings: Settings, model: Any, shifts: list[float], *, rows: int = 30, requests: int = 40
) -> list[str]:
    """Log the hours (see the module docstring); returns the request ids in order."""
    rng = np.random.default_rng(11)
    writer = PayloadWriter(settings, "churn-api", flush_seconds=0.05)
    ids: list[str] = []
    try:
        for hour, shift in enumerate(shifts):
            for r in range(requests):
                frame = churn_rows(rng, rows, shift)
                request_id = f"h{hour}-r{r}"
                ids.append(request_id)
                writer.record(
                    Prediction(
                        request_id=request_id,
                        time_ms=T0 + hour * HOUR + r * 1000,
                        deployment="churn-api",
                        model="churn",
                        version=1,
                        role="primary",
                        inputs={name: frame[name].to_numpy() for name in FEATURES},
                        outputs={"predict": model.predict(frame[["x1", "x2"]])},
                        latency_ms=1.0 + r % 3,
                        status=200,
                    )
                )
    finally:
        writer.close(timeout=60)
    return ids
