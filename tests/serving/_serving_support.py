"""What serving tests share besides fixtures: a recording payload-log sink, a ``loopml serve``
subprocess, fixture types."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import requests

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


HERE = Path(__file__).parent


class Served:
    """A running ``loopml serve`` and its URL (read from what it prints when ready)."""

    def __init__(self, *args: str, home: Path | None = None) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
        if home is not None:  # another store than the test's own LOOPML_HOME
            env["LOOPML_HOME"] = str(home)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "loopml", "serve", *args, "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        if not first.startswith("serving on "):
            self.process.kill()
            raise AssertionError(f"no server: {first}{self.process.stderr.read()}")  # type: ignore[union-attr]
        self.url = first.removeprefix("serving on ").strip()
        self.announced = first + "".join(self.process.stdout.readline() for _ in range(2))

    def infer(self, rows: list[list[float]], model: str = "doubler") -> requests.Response:
        body = {
            "inputs": [{"name": "x", "shape": [len(rows), 3], "datatype": "FP32", "data": rows}]
        }
        return requests.post(f"{self.url}/v2/models/{model}/infer", json=body, timeout=30)

    def workers(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(60)
        finally:
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()
