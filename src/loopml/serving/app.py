"""The serving app: a plain ASGI callable answering for a set of named endpoints.

Routes (``{m}`` is an endpoint's name, ``{v}`` a version it has loaded):

=======================================================  ====================================
``GET /v2``, ``/v2/health/live``, ``/v2/health/ready``     server metadata and health (V2)
``GET /v2/models/{m}[/versions/{v}]``                     model metadata: tensors from the
                                                          package's signature
``GET /v2/models/{m}[/versions/{v}]/ready``               model readiness
``POST /v2/models/{m}[/versions/{v}]/infer``              inference, JSON or binary tensors
``POST /endpoints/{m}/predict``                           simple JSON: records, columns, rows
``POST /endpoints/{m}/invocations``                       MLflow's scoring format
``POST /predict``, ``POST /invocations``                  the same, when one endpoint is served
``POST /endpoints/{m}/feedback``, ``POST /feedback``        delayed labels, by request id
``GET /ping``, ``/health``, ``/version``                  MLflow's health check and version
``GET /endpoints``                                        what is served, and its routing
``GET /metrics``                                          Prometheus text format
=======================================================  ====================================

A request naming a version (``/versions/{v}``) is answered by that version; any other is
routed by the endpoint's traffic policy, sticky by the ``loopml-key`` header. Bodies
over ``max_body_bytes`` get 413, a body not fully sent within ``body_timeout`` seconds
408, and input that does not fit the signature 400 listing every problem; a 5xx means
the model itself failed (its message names the model and version) or a bug.

Every model call goes to the endpoint's payload-log sink after the reply is sent; a
shadow predicts on its own decoding of the same body, after the reply, on a background
thread, and is logged under the same request id.

Example:
    >>> app = ServingApp([endpoint])  # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=8080)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import sys
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from loopml.clock import now_ms
from loopml.config import Settings
from loopml.errors import (
    InvalidInputError,
    LoopmlError,
    MethodNotAllowedError,
    ModelFailedError,
    NotFoundError,
)
from loopml.monitoring import FeedbackResult, is_sampled
from loopml.monitoring.feedback import parse_items, write_feedback
from loopml.monitoring.payload import NullSink, Prediction, PredictionSink, Role
from loopml.serving import _scoring, _v2
from loopml.serving._http import (
    JSON,
    Receive,
    Send,
    ServerLimits,
    error_body,
    headers_of,
    read_body,
    reply,
)
from loopml.serving._inputs import (
    Payload,
    logged_inputs,
    lookup_rows,
    model_input,
    named_outputs,
)
from loopml.serving._per_version import PerVersion
from loopml.serving._shadow import ShadowRunner
from loopml.serving.metrics import CONTENT_TYPE, ServingMetrics
from loopml.serving.policy import KEY_HEADER
from loopml.serving.runtime import Endpoint, ServedVersion
from loopml.store import open_store

if TYPE_CHECKING:
    from loopml.features import FeatureStore

__all__ = ["ServerLimits", "ServingApp"]

log = logging.getLogger("loopml.serving")

MAX_FEEDBACK_ITEMS = 10_000
"""The most labels one ``POST /feedback`` takes (bulk loads: ``loopml feedback``)."""

_KEY = KEY_HEADER.encode()
_MODEL_INPUT_ERRORS = (ValueError, TypeError, KeyError, IndexError)


@dataclass(slots=True)
class _Call:
    """What one predict request gathered, for its reply, metrics and the payload log."""

    endpoint: Endpoint
    protocol: str  # "v2", "mlflow" or "predict"
    request_id: str
    started: float
    arrived_ms: int
    body: bytes = b""
    served: ServedVersion | None = None
    inputs: Any = None
    outputs: Mapping[str, Any] | None = None
    status: int = 200
    error: str | None = None
    features: Mapping[str, Any] | None = None  # looked up from the online store
    batched: bool = False  # answered through the version's batcher


class ServingApp:
    """An ASGI app serving ``endpoints``, each under its own name.

    Args:
        endpoints: what to serve (names must be unique).
        sinks: the payload-log sink per endpoint name (a :class:`NullSink` when absent).
        limits: body size, body timeout, shadow queue.
        metrics: where to count (a fresh :class:`ServingMetrics` when absent).
        features: the feature store a version trained on features reads its inputs from
            (``None``: requests carry every input).
        settings: where ``POST /feedback`` stores labels (``Settings.load()`` when absent).

    A deployment's ``resources.max_batch_size`` above 1 turns adaptive batching on: its
    requests' rows are merged into one model call (:mod:`loopml.serving.batching`).
    """

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        *,
        sinks: Mapping[str, PredictionSink] | None = None,
        limits: ServerLimits | None = None,
        metrics: ServingMetrics | None = None,
        features: FeatureStore | None = None,
        settings: Settings | None = None,
    ) -> None:
        names = [endpoint.name for endpoint in endpoints]
        if not names or len(set(names)) != len(names):
            raise InvalidInputError(f"serve one or more endpoints with distinct names, got {names}")
        self.endpoints = {endpoint.name: endpoint for endpoint in endpoints}
        self.sinks: dict[str, PredictionSink] = {
            name: (sinks or {}).get(name) or NullSink() for name in names
        }
        self.limits = limits or ServerLimits()
        self.settings = settings
        self.metrics = metrics or ServingMetrics()
        # The served deployments' monitor gauges (drift, performance, alert states) in
        # Prometheus text, refreshed beside the follower (start_worker_services).
        self.monitor_gauges = b""
        self.shadow = ShadowRunner(self.limits.shadow_queue)
        self.per_version = PerVersion(
            features,
            run_model=_run_model,
            on_batch=lambda name, b: self.metrics.batch(name, b.rows),
        )
        self.on_close: list[Callable[[], None]] = []  # e.g. stopping the follower
        self.ready = True
        self._output_specs: weakref.WeakKeyDictionary[
            ServedVersion, list[tuple[str, str, list[int]]]
        ] = weakref.WeakKeyDictionary()  # a version swapped out and freed leaves with its entry
        self.refresh_gauges()

    # -- plumbing ---------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.get_running_loop().run_in_executor(None, self.close)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def close(self, timeout: float = 10.0) -> None:
        """Finish queued shadow predictions, then flush and close every sink."""
        self.ready = False
        for stop in self.on_close:
            try:
                stop()
            except Exception:
                log.exception("stopping a serving service failed")
        self.shadow.close(timeout)
        for sink in self.sinks.values():
            try:
                sink.close(timeout)
            except Exception:  # closing one sink must not keep the others from closing
                log.exception("closing a payload-log sink failed")

    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        try:
            if path == "/v2" or path.startswith("/v2/"):
                await self._v2(method, path, scope, receive, send)
            elif path in ("/predict", "/invocations"):
                self._require(method, "POST")
                await self._predict(self._only_endpoint(path), path[1:], scope, receive, send)
            elif path == "/feedback":
                self._require(method, "POST")
                await self._feedback(self._only_endpoint(path), scope, receive, send)
            elif path == "/endpoints" or path.startswith("/endpoints/"):
                await self._endpoints(method, path, scope, receive, send)
            elif path == "/metrics":
                self._require(method, "GET")
                self.refresh_gauges()
                body = self.metrics.render() + self.monitor_gauges
                await reply(send, 200, body, CONTENT_TYPE.encode())
            elif path in ("/ping", "/health"):
                self._require(method, "GET")
                await reply(send, 200 if self.ready else 503, b"\n")
            elif path == "/version":
                self._require(method, "GET")
                version = str(sys.modules["loopml"].__version__)
                await reply(send, 200, version.encode(), b"text/plain; charset=utf-8")
            else:
                raise NotFoundError("route", path, hint="see GET /v2 and GET /endpoints")
        except LoopmlError as err:
            protocol = "v2" if path == "/v2" or path.startswith("/v2/") else "predict"
            await reply(send, err.http_status, error_body(err, protocol))

    def _require(self, method: str, wanted: str) -> None:
        if method != wanted:
            raise MethodNotAllowedError(f"use {wanted} here, not {method}")

    def _only_endpoint(self, path: str) -> Endpoint:
        if len(self.endpoints) == 1:
            return next(iter(self.endpoints.values()))
        raise NotFoundError(
            "route",
            path,
            hint=f"this server serves {', '.join(self.endpoints)}; "
            f"POST /endpoints/<name>{path} instead",
        )

    def _endpoint(self, name: str) -> Endpoint:
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            raise NotFoundError("model", name, choices=self.endpoints, hint="see GET /endpoints")
        return endpoint

    async def _endpoints(
        self, method: str, path: str, scope: dict[str, Any], receive: Receive, send: Send
    ) -> None:
        parts = path.strip("/").split("/")
        if len(parts) == 1:
            self._require(method, "GET")
            body = [endpoint.describe() for endpoint in self.endpoints.values()]
            await reply(send, 200, orjson.dumps(body))
            return
        if len(parts) != 3 or parts[2] not in ("predict", "invocations", "feedback"):
            raise NotFoundError("route", path, hint="POST /endpoints/<name>/predict")
        self._require(method, "POST")
        if parts[2] == "feedback":
            await self._feedback(self._endpoint(parts[1]), scope, receive, send)
            return
        await self._predict(self._endpoint(parts[1]), parts[2], scope, receive, send)

    # -- delayed labels -----------------------------------------------------------------------

    async def _feedback(
        self, endpoint: Endpoint, scope: dict[str, Any], receive: Receive, send: Send
    ) -> None:
        """Store the labels in the body for ``endpoint``'s logged predictions (a thread does
        the parsing and the write, so the event loop keeps answering predictions)."""
        headers = headers_of(scope)
        body = await read_body(receive, headers.get(b"content-length"), self.limits)
        result = await asyncio.to_thread(self._store_feedback, endpoint.name, body)
        await reply(send, 200, orjson.dumps(result.to_dict()))

    def _store_feedback(self, deployment: str, body: bytes) -> FeedbackResult:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as err:
            raise InvalidInputError(
                f"the feedback body is not JSON ({err}); send "
                '{"request_id": "...", "label": ...} or a list of them'
            ) from err
        if isinstance(parsed, list) and len(parsed) > MAX_FEEDBACK_ITEMS:
            raise InvalidInputError(
                f"{len(parsed)} labels in one request, over {MAX_FEEDBACK_ITEMS}; send them "
                "in batches, or load a file with `loopml feedback`"
            )
        rows = parse_items(parsed)
        settings = self.settings or Settings.load()
        return write_feedback(open_store(settings.db_url), deployment, rows)

    # -- Open Inference Protocol ------------------------------------------------------------

    async def _v2(
        self, method: str, path: str, scope: dict[str, Any], receive: Receive, send: Send
    ) -> None:
        parts = path.rstrip("/").split("/")[2:]  # "/v2/models/m/infer" -> models, m, infer
        if not parts:
            self._require(method, "GET")
            version = str(sys.modules["loopml"].__version__)  # the package is always imported
            body = {"name": "loopml", "version": version, "extensions": ["binary_tensor_data"]}
            await reply(send, 200, orjson.dumps(body))
            return
        if parts[0] == "health" and len(parts) == 2 and parts[1] in ("live", "ready"):
            self._require(method, "GET")
            ok = True if parts[1] == "live" else self.ready
            await reply(send, 200 if ok else 400, orjson.dumps({parts[1]: ok}))
            return
        if parts[0] != "models" or len(parts) < 2:
            raise NotFoundError("route", path, hint="see the Open Inference Protocol's routes")
        endpoint = self._endpoint(parts[1])
        rest = parts[2:]
        served = None
        if len(rest) >= 2 and rest[0] == "versions":
            served = self._version(endpoint, rest[1])
            rest = rest[2:]
        if not rest:
            self._require(method, "GET")
            await reply(send, 200, orjson.dumps(self._metadata(endpoint, served)))
        elif rest == ["ready"]:
            self._require(method, "GET")
            ready = {"name": endpoint.name, "ready": self.ready}
            await reply(send, 200 if self.ready else 400, orjson.dumps(ready))
        elif rest == ["infer"]:
            self._require(method, "POST")
            await self._predict(endpoint, "v2", scope, receive, send, served)
        else:
            raise NotFoundError("route", path, hint="see the Open Inference Protocol's routes")

    def _version(self, endpoint: Endpoint, version: str) -> ServedVersion:
        versions = endpoint.versions()
        for served in versions:
            if str(served.version) == version:
                return served
        raise NotFoundError(
            f"version of model {endpoint.name!r}",
            version,
            hint=f"loaded: {', '.join(str(s.version) for s in versions)}",
        )

    def _metadata(self, endpoint: Endpoint, served: ServedVersion | None) -> dict[str, Any]:
        versions = endpoint.versions()
        shown = served or endpoint.route(None)[0]
        return _v2.metadata(
            endpoint.name,
            [str(s.version) for s in versions],
            f"loopml_{shown.loaded.flavor}",
            shown.signature,
            self._outputs_of(shown),
        )

    def _outputs_of(self, served: ServedVersion) -> list[tuple[str, str, list[int]]] | None:
        """The outputs found by predicting on the input example (a version swapped in
        after :meth:`warm_up` is tried on first use)."""
        if served not in self._output_specs:
            self._warm(served)
        return self._output_specs.get(served)

    def warm_up(self) -> None:
        """Predict once on each loaded version's input example (first requests run warm),
        noting its outputs for model metadata when the signature declares none."""
        for endpoint in self.endpoints.values():
            for served in endpoint.versions():
                self._warm(served)

    def _warm(self, served: ServedVersion) -> None:
        # Which features a version reads online is decided before traffic: a recorded
        # feature the definitions no longer have fails the start, not every request.
        self.per_version.lookup(served)
        self._output_specs[served] = []
        try:
            example = served.loaded.input_example()
            if example is None:
                return
            outputs = named_outputs(served.signature, served.loaded.predict(example))
        except Exception as err:  # warming up is a courtesy; requests show failures
            log.warning("warming up %s failed: %s", served.label, err)
            return
        self._output_specs[served] = [
            (name, values.dtype.name, [-1, *values.shape[1:]]) for name, values in outputs.items()
        ]

    # -- one prediction ---------------------------------------------------------------------

    async def _predict(
        self,
        endpoint: Endpoint,
        protocol: str,
        scope: dict[str, Any],
        receive: Receive,
        send: Send,
        pinned: ServedVersion | None = None,
    ) -> None:
        started = time.perf_counter()
        headers = headers_of(scope)
        call = _Call(endpoint, protocol, headers.get(b"x-request-id", ""), started, now_ms())
        timings = (0.0, 0.0, 0.0, 0.0)
        shadow: ServedVersion | None = None
        answer: bytes = b""
        header_length: int | None = None
        extra: list[tuple[bytes, bytes]] = []
        try:
            call.body = await read_body(receive, headers.get(b"content-length"), self.limits)
            parse_start = time.perf_counter()
            parsed = _parse(protocol, call.body, headers)
            payload = parsed.payload if isinstance(parsed, _v2.InferRequest) else parsed
            if isinstance(parsed, _v2.InferRequest) and parsed.id is not None:
                call.request_id = parsed.id
            if pinned is None:
                call.served, shadow = endpoint.route(headers.get(_KEY) or None)
            else:
                call.served = pinned
            served = call.served
            call.inputs, call.features = self.per_version_input(served, payload)
            batcher = self.per_version.batcher(served, endpoint.routing.resources, endpoint.name)
            predict_start = time.perf_counter()
            queued = 0.0
            if batcher is None:
                result = _run_model(served, call.inputs)
            else:
                call.batched = True
                result, timing = await batcher.submit_timed(call.inputs)
                queued = timing.queued
                predict_start += timing.queued
            predict_end = time.perf_counter()
            call.outputs = named_outputs(served.signature, result)
            answer, header_length = self._encode(call, parsed, result)
            if header_length is not None:
                extra.append((b"inference-header-content-length", str(header_length).encode()))
            done = time.perf_counter()
            timings = (
                predict_start - queued - parse_start,
                queued,
                predict_end - predict_start,
                done - predict_end,
            )
        except LoopmlError as err:
            call.status, call.error = err.http_status, err.message
            answer = error_body(err, protocol)
        except Exception as err:  # a bug of ours: the client gets a 500 naming it
            log.exception("request to %s failed", endpoint.name)
            failure = LoopmlError(f"internal error: {type(err).__name__}: {err}")
            call.status, call.error = 500, failure.message
            answer = error_body(failure, protocol)
        if not call.request_id:
            call.request_id = _new_request_id()
        extra.append((b"x-request-id", call.request_id.encode("latin-1", "replace")))
        content_type = b"application/octet-stream" if header_length is not None else JSON
        if call.status in (408, 413):  # the body was not read to its end: do not reuse
            extra.append((b"connection", b"close"))
        await reply(send, call.status, answer, content_type, extra)
        self._after(call, timings, shadow)

    def _encode(self, call: _Call, parsed: Any, result: Any) -> tuple[bytes, int | None]:
        served = call.served
        assert served is not None  # set before any model ran
        if isinstance(parsed, _v2.InferRequest):
            assert call.outputs is not None
            return _v2.encode_infer(
                parsed,
                call.outputs,
                model_name=call.endpoint.name,
                model_version=str(served.version),
            )
        if call.protocol == "predict":
            extra = {"model": served.model, "version": served.version}
            return _scoring.encode_predictions(result, extra), None
        return _scoring.encode_predictions(result), None

    # -- after the reply: metrics, payload log, shadow --------------------------------------

    def _after(self, call: _Call, timings: tuple[float, ...], shadow: ServedVersion | None) -> None:
        name = call.endpoint.name
        served = call.served
        try:
            version = "" if served is None else str(served.version)
            self.metrics.count(name, version, call.status)
            if call.status == 200:
                self.metrics.observe(name, timings)  # type: ignore[arg-type]
                rows = None if call.batched else _rows(call.inputs)
                if rows is not None:  # a batcher reports its model calls itself
                    self.metrics.batch(name, rows)
        except Exception:  # metrics must never fail a request that was answered
            log.exception("recording metrics failed")
        if served is None:
            return
        settings = call.endpoint.routing.payload_log
        # by request id, as the payload log samples: a shadow is kept with its primary
        logged = settings.enabled and is_sampled(call.request_id, settings.sample_rate)
        if logged:
            latency = (time.perf_counter() - call.started) * 1000
            self._record(call, served, "primary", call.inputs, call.outputs, latency)
        if shadow is not None and call.status == 200:
            job = _ShadowJob(self, call, shadow, logged)
            if not self.shadow.submit(job.run):
                self.metrics.shadow_dropped.labels(name).inc()

    def _record(
        self,
        call: _Call,
        served: ServedVersion,
        role: Role,
        inputs: Any,
        outputs: Mapping[str, Any] | None,
        latency_ms: float,
        status: int | None = None,
        error: str | None = None,
        features: Mapping[str, Any] | None = None,
    ) -> None:
        name = call.endpoint.name
        try:
            keep_inputs = call.endpoint.routing.payload_log.log_inputs and inputs is not None
            sink = self.sinks[name]
            sink.record(
                Prediction(
                    request_id=call.request_id,
                    time_ms=call.arrived_ms,
                    deployment=name,
                    model=served.model,
                    version=served.version,
                    role=role,
                    inputs=logged_inputs(inputs) if keep_inputs else None,
                    outputs=outputs,
                    latency_ms=latency_ms,
                    status=call.status if status is None else status,
                    error=call.error if status is None else error,
                    features=call.features if role == "primary" else features,
                )
            )
            self.metrics.payload_depth(name, sink.queue_depth)
        except Exception:  # the payload log never fails a request
            log.exception("handing a prediction to the payload log failed")

    def per_version_input(
        self, served: ServedVersion, payload: Payload
    ) -> tuple[Any, Mapping[str, Any] | None]:
        """What ``served`` takes for ``payload``, and the features looked up for it (when
        the version was trained on features: the request then carries entity keys)."""
        lookup = self.per_version.lookup(served)
        if lookup is None:
            return model_input(served.signature, payload), None
        frame, features = lookup.enrich(lookup_rows(payload))
        return model_input(served.signature, Payload(value=frame)), features

    def refresh_gauges(self) -> None:
        """Set the gauges read at scrape time: versions, load times, payload-log queue."""
        for name, endpoint in self.endpoints.items():
            versions = endpoint.versions()
            self.metrics.versions_loaded.labels(name).set(len(versions))
            for served in versions:
                self.metrics.load_seconds.labels(name, str(served.version)).set(served.load_seconds)
            sink = self.sinks[name]
            self.metrics.queue_depth.labels(name).set(sink.queue_depth)
            self.metrics.payload_dropped.labels(name).set(sink.dropped)


class _ShadowJob:
    """The challenger's turn: decode the body again (its own copy), predict, log."""

    def __init__(self, app: ServingApp, call: _Call, shadow: ServedVersion, logged: bool) -> None:
        self.app, self.call, self.shadow, self.logged = app, call, shadow, logged

    def run(self) -> None:
        call, shadow = self.call, self.shadow
        started = time.perf_counter()
        inputs: Any = None
        outputs: Mapping[str, Any] | None = None
        features: Mapping[str, Any] | None = None
        status, error = 200, None
        try:
            parsed = _parse(call.protocol, call.body, {})
            payload = parsed.payload if isinstance(parsed, _v2.InferRequest) else parsed
            inputs, features = self.app.per_version_input(shadow, payload)
            outputs = named_outputs(shadow.signature, _run_model(shadow, inputs))
        except LoopmlError as err:
            status, error = (err.http_status, err.message)
        except Exception as err:  # never reaches the client: logged as the shadow's failure
            status, error = 500, f"internal error: {type(err).__name__}: {err}"
        if self.logged:
            latency = (time.perf_counter() - started) * 1000
            self.app._record(
                call, shadow, "shadow", inputs, outputs, latency, status, error, features
            )


class _RequestIds:
    """Request ids unique across processes and restarts: a random prefix and a counter.

    Cheaper than a UUID per request: reading the kernel's randomness costs tens of
    microseconds on some sandboxed kernels, so it is read once per process.
    """

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.counter):08x}"


_new_request_id = _RequestIds()


def _parse(protocol: str, body: bytes, headers: Mapping[bytes, str]) -> Any:
    if protocol == "v2":
        return _v2.parse_infer(body, headers.get(b"inference-header-content-length"))
    if protocol == "invocations":
        return _scoring.parse_invocations(body, headers.get(b"content-type", "application/json"))
    return _scoring.parse_predict(body)


def _run_model(served: ServedVersion, inputs: Any) -> Any:
    try:
        return served.loaded.model.predict(inputs)
    except _MODEL_INPUT_ERRORS as err:
        raise InvalidInputError(
            f"model {served.label} cannot predict on this input: {type(err).__name__}: {err}"
        ) from err
    except Exception as err:
        log.exception("model %s failed", served.label)
        raise ModelFailedError(f"model {served.label} failed: {type(err).__name__}: {err}") from err


def _rows(inputs: Any) -> int | None:
    if inputs is None:
        return None
    if isinstance(inputs, Mapping):
        inputs = next(iter(inputs.values()), None)
    shape = getattr(inputs, "shape", None)
    return int(shape[0]) if shape else None
