"""What serving tests share besides fixtures: a recording payload-log sink, fixture types."""

from __future__ import annotations

import time
from collections.abc import Callable

from loopml.monitoring.payload import Prediction

Register = Callable[..., int]
"""``register(model, name, input_example=...)`` -> the new version number."""
RunServer = Callable[..., str]
"""``run_server(endpoints or app)`` -> the base URL of a real uvicorn serving it."""


class ListSink:
    """A payload-log sink that keeps every prediction in a list (thread-safe appends)."""

    def __init__(self) -> None:
        self.records: list[Prediction] = []
        self.closed = False

    def record(self, prediction: Prediction) -> None:
        self.records.append(prediction)

    @property
    def dropped(self) -> int:
        return 0

    @property
    def queue_depth(self) -> int:
        return len(self.records)

    def close(self, timeout: float = 10.0) -> None:
        self.closed = True

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Prediction]:
        """The records once there are ``count`` of them (shadows arrive after the reply)."""
        deadline = time.monotonic() + timeout
        while len(self.records) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.records)
