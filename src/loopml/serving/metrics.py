"""The server's Prometheus metrics, served at ``GET /metrics`` in the text format.

=========================================  ==========  ==================================
metric                                     type        labels
=========================================  ==========  ==================================
``loopml_serving_requests_total``          counter     deployment, version, code
``loopml_serving_latency_seconds``         histogram   deployment, stage (parse, queue,
                                                       predict, serialize)
``loopml_serving_batch_size``              histogram   deployment (rows per model call)
``loopml_serving_model_load_seconds``      gauge       deployment, version
``loopml_serving_versions_loaded``         gauge       deployment
``loopml_serving_payload_queue_depth``     gauge       deployment
``loopml_serving_payload_dropped``         gauge       deployment (total so far)
``loopml_serving_shadow_dropped_total``    counter     deployment
=========================================  ==========  ==================================

With several worker processes every worker writes its samples to files in one folder
(prometheus_client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``) and a scrape of any
worker adds them up, so ``/metrics`` is the whole server's, not one worker's.

Example:
    >>> metrics = ServingMetrics()
    >>> metrics.count("churn-api", "3", 200)
    >>> b'loopml_serving_requests_total{code="200",deployment="churn-api",version="3"} 1.0' in (
    ...     metrics.render())
    True
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["CONTENT_TYPE", "MULTIPROCESS_ENV", "STAGES", "ServingMetrics"]

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STAGES = ("parse", "queue", "predict", "serialize")
_LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class ServingMetrics:
    """Every metric the server keeps, on a registry of its own.

    In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set before the workers start),
    values go to that folder and :meth:`render` collects every worker's.
    """

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values

        self.multiprocess_dir = os.environ.get(MULTIPROCESS_ENV) or None
        if self.multiprocess_dir and values.ValueClass is values.MutexValue:
            # prometheus_client picks its value class at import; a process that imported it
            # before the folder was chosen switches now, before any metric exists.
            values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Counter(
            "loopml_serving_requests",
            "Requests answered, by deployment, model version and HTTP status.",
            ["deployment", "version", "code"],
            registry=registry,
        )
        self.latency = Histogram(
            "loopml_serving_latency_seconds",
            "Time spent per request in each stage: parse, queue, predict, serialize.",
            ["deployment", "stage"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.batch_size = Histogram(
            "loopml_serving_batch_size",
            "Rows per model call.",
            ["deployment"],
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        self.load_seconds = Gauge(
            "loopml_serving_model_load_seconds",
            "How long loading each served model version took.",
            ["deployment", "version"],
            multiprocess_mode="max",
            registry=registry,
        )
        self.versions_loaded = Gauge(
            "loopml_serving_versions_loaded",
            "Model versions loaded per deployment.",
            ["deployment"],
            multiprocess_mode="max",
            registry=registry,
        )
        self.queue_depth = Gauge(
            "loopml_serving_payload_queue_depth",
            "Predictions waiting in the payload log's queue (all workers).",
            ["deployment"],
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.payload_dropped = Gauge(
            "loopml_serving_payload_dropped",
            "Predictions the payload log dropped because its queue was full (all workers).",
            ["deployment"],
            multiprocess_mode="sum",
            registry=registry,
        )
        self.shadow_dropped = Counter(
            "loopml_serving_shadow_dropped",
            "Shadow predictions skipped because the shadow queue was full.",
            ["deployment"],
            registry=registry,
        )
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._stages: dict[str, tuple[Any, ...]] = {}
        self._batches: dict[str, Any] = {}
        self._depths: dict[str, Any] = {}

    def count(self, deployment: str, version: str, code: int) -> None:
        """One request answered with ``code`` by ``version`` (``""`` before routing)."""
        key = (deployment, version, code)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.requests.labels(deployment, version, str(code))
        counter.inc()

    def observe(self, deployment: str, seconds: tuple[float, float, float, float]) -> None:
        """A request's parse, queue, predict and serialize times."""
        stages = self._stages.get(deployment)
        if stages is None:
            stages = self._stages[deployment] = tuple(
                self.latency.labels(deployment, stage) for stage in STAGES
            )
        for histogram, value in zip(stages, seconds, strict=True):
            histogram.observe(value)

    def batch(self, deployment: str, rows: int) -> None:
        """One model call on ``rows`` rows."""
        histogram = self._batches.get(deployment)
        if histogram is None:
            histogram = self._batches[deployment] = self.batch_size.labels(deployment)
        histogram.observe(rows)

    def payload_depth(self, deployment: str, depth: int) -> None:
        """The payload log's queue depth, as its sink reports it."""
        gauge = self._depths.get(deployment)
        if gauge is None:
            gauge = self._depths[deployment] = self.queue_depth.labels(deployment)
        gauge.set(depth)

    def render(self) -> bytes:
        """The text exposition of every metric (of every worker in multiprocess mode)."""
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess

        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]
            registry, path=self.multiprocess_dir
        )
        return generate_latest(registry)
