"""What runs on a worker: load a step's inputs, call it, store its outputs.

A :class:`StepTask` is plain picklable data (the function by reference, settings,
resolved input references), so any executor can ship it to any worker that sees the
metadata and artifact stores. The worker never decides what a step's status is: it
returns a :class:`StepResult` and the orchestrator records it.

Example:
    >>> StepResult(ok=True, attempts=1).ok
    True
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import tempfile
import threading
import time
import traceback as tb
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopml._user_code import user_frame
from loopml.artifacts import ArtifactStore
from loopml.clock import now_ms
from loopml.config import Settings
from loopml.errors import InvalidInputError, StepTimeoutError
from loopml.pipelines._canonical import canonical_json
from loopml.pipelines._capture import capturing
from loopml.pipelines.materializers import choose_materializer, get_materializer, type_name
from loopml.pipelines.models import OutputRef, StepOptions
from loopml.tracking.client import TrackingClient
from loopml.tracking.models import Run

__all__ = [
    "INLINE_LIMIT",
    "StepResult",
    "StepTask",
    "close_clients",
    "execute_step",
    "forget_clients",
    "load_ref",
    "store_value",
]

# JSON outputs up to this many bytes live in the metadata store, not as blobs.
INLINE_LIMIT = 2048

# A resolved input: ("ref", OutputRef) | ("list", [resolved…]) | ("element", OutputRef, i)
# | ("dataset", "datasets:/name/3")
Resolved = tuple[Any, ...]


@dataclass(slots=True)
class StepTask:
    """Everything a worker needs to run one step once (with its retries)."""

    settings: Settings
    run: Run
    node: str
    fn: Callable[..., Any]
    options: StepOptions
    params: dict[str, Any]
    inputs: dict[str, Resolved]


@dataclass(slots=True)
class StepResult:
    """How one step run went, as the worker saw it."""

    ok: bool
    attempts: int
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    started_at: int = 0
    ended_at: int = 0


_clients: dict[Settings, TrackingClient] = {}
_clients_lock = threading.Lock()


def worker_client(settings: Settings) -> TrackingClient:
    """The process's client for ``settings`` (shared by every step this process runs)."""
    with _clients_lock:
        client = _clients.get(settings)
        if client is None:
            client = _clients[settings] = TrackingClient(settings)
        return client


def use_client(client: TrackingClient) -> None:
    """Let steps run in this process use ``client`` (the orchestrator's own)."""
    with _clients_lock:
        _clients[client.settings] = client


def forget_clients() -> None:
    """Drop the clients without closing them (a forked worker; they are the parent's)."""
    with _clients_lock:
        _clients.clear()


def close_clients() -> None:
    """Close and drop every client steps in this process used (tests; shutdown)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


def execute_step(task: StepTask) -> StepResult:
    """Run ``task`` to its end; never raises for a failure of the step itself."""
    from loopml.tracking.fluent import attach_run

    started = now_ms()
    client = worker_client(task.settings)
    artifact_store = client.run_artifacts.artifact_store
    attempts = 0
    logs = io.StringIO()

    def call(**kwargs: Any) -> Any:
        # In the thread that runs the step (a timeout runs it in a helper thread): that
        # is where loopml.log_metric looks for the active run, and where prints are kept.
        with attach_run(client, task.run), capturing(logs):
            return task.fn(**kwargs)

    try:
        with _Scratch() as scratch:
            kwargs = dict(task.params)
            for name, resolved in task.inputs.items():
                kwargs[name] = _load(resolved, artifact_store, scratch, client, task.run.id)
            try:
                value, attempts = _call_with_retries(task, call, kwargs)
            finally:
                _save_logs(client, task.run.id, logs)
            outputs = _store_outputs(task, value, artifact_store, scratch)
        client.flush()
    except BaseException as err:
        if isinstance(err, KeyboardInterrupt):
            raise
        return StepResult(
            ok=False,
            attempts=max(attempts, 1),
            error=_error_line(err),
            traceback="".join(tb.format_exception(err)),
            started_at=started,
            ended_at=now_ms(),
        )
    return StepResult(True, attempts, outputs, started_at=started, ended_at=now_ms())


class _Scratch(os.PathLike[str]):
    """A temporary folder made only if a step has a file to read or write (most do not)."""

    def __init__(self) -> None:
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> _Scratch:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._folder is not None:
            self._folder.cleanup()

    def __fspath__(self) -> str:
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="loopml-step-")
        return self._folder.name


def _call_with_retries(
    task: StepTask, fn: Callable[..., Any], kwargs: dict[str, Any]
) -> tuple[Any, int]:
    options = task.options
    attempt = 0
    while True:
        attempt += 1
        try:
            return _call_with_timeout(fn, kwargs, options.timeout, task.node), attempt
        except Exception as err:
            if attempt > options.retries:
                err.add_note(f"step '{task.node}' failed after {attempt} attempt(s)")
                raise
            delay = options.retry_delay * (2 ** (attempt - 1))
            print(
                f"loopml: step '{task.node}' attempt {attempt} failed ({type(err).__name__}: "
                f"{err}); retrying in {delay:g}s",
                file=sys.stderr,
            )
            time.sleep(delay)


def _call_with_timeout(
    fn: Callable[..., Any], kwargs: dict[str, Any], timeout: float | None, node: str
) -> Any:
    if timeout is None:
        return fn(**kwargs)
    message = f"step '{node}' ran longer than its timeout of {timeout:g}s"
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):

        def expire(signum: int, frame: Any) -> None:
            raise StepTimeoutError(message)

        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            return fn(**kwargs)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    # Off the main thread no signal can interrupt the call: it runs in a helper thread
    # that is abandoned (and finishes on its own) when the time is up.
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(**kwargs)
        except BaseException as err:
            box["error"] = err

    worker = threading.Thread(target=target, name=f"loopml-step-{node}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise StepTimeoutError(message)
    if "error" in box:
        raise box["error"]
    return box.get("value")


# -- inputs ----------------------------------------------------------------------------


def _load(
    resolved: Resolved,
    artifact_store: ArtifactStore,
    scratch: os.PathLike[str],
    client: TrackingClient,
    run_id: str,
) -> Any:
    kind = resolved[0]
    if kind == "ref":
        return load_ref(resolved[1], artifact_store, scratch)
    if kind == "list":
        return [_load(item, artifact_store, scratch, client, run_id) for item in resolved[1]]
    if kind == "element":
        return load_ref(resolved[1], artifact_store, scratch)[resolved[2]]
    if kind == "dataset":
        from loopml.data import DatasetClient

        return DatasetClient(client.settings).load(resolved[1], run_id=run_id)
    raise AssertionError(f"unknown input kind {kind!r}")


def load_ref(
    ref: OutputRef, artifact_store: ArtifactStore, scratch: os.PathLike[str] | None = None
) -> Any:
    """The value of a stored output (verified against its digest)."""
    if ref.is_inline:
        # A fresh copy, so a step that mutates its input cannot change another's.
        return json.loads(canonical_json(ref.inline))
    materializer = get_materializer(ref.materializer)
    with tempfile.TemporaryDirectory(dir=scratch) as folder:
        path = Path(folder) / f"value{materializer.extension}"
        artifact_store.get_file(ref.digest, path)
        return materializer.load(path)


# -- outputs ---------------------------------------------------------------------------


def _store_outputs(
    task: StepTask, value: Any, artifact_store: ArtifactStore, scratch: os.PathLike[str]
) -> dict[str, dict[str, Any]]:
    names = task.options.outputs
    if len(names) == 1:
        values = (value,)
    elif isinstance(value, tuple) and len(value) == len(names):
        values = value
    else:
        raise InvalidInputError(
            f"step '{task.node}' declares outputs {list(names)} but returned "
            f"{type_name(value)}; return a tuple of {len(names)} values"
        )
    return {
        name: store_value(
            item,
            artifact_store,
            scratch,
            step=task.node,
            output=name,
            allow_pickle=task.options.allow_pickle,
            forced=task.options.materializer,
            run_id=task.run.id,
        ).to_json()
        for name, item in zip(names, values, strict=True)
    }


def store_value(
    value: Any,
    artifact_store: ArtifactStore,
    scratch: os.PathLike[str],
    *,
    step: str,
    output: str,
    allow_pickle: bool = False,
    forced: str | None = None,
    run_id: str = "",
) -> OutputRef:
    """Materialize ``value``: inline when it is small JSON, else a blob in ``artifact_store``."""
    materializer = choose_materializer(
        value, step=step, output=output, allow_pickle=allow_pickle, forced=forced
    )
    if materializer.name == "json":
        data = canonical_json(value)
        if len(data) <= INLINE_LIMIT:
            import hashlib

            digest = hashlib.sha256(data).hexdigest()
            return OutputRef(
                digest, "json", type_name(value), len(data), value, True, run_id, output
            )
    path = Path(scratch) / f"{output}{materializer.extension}"
    materializer.save(value, path)
    stored = artifact_store.put_file(path)
    path.unlink()
    return OutputRef(
        stored.digest, materializer.name, type_name(value), stored.size, run_id=run_id, name=output
    )


# -- logs ------------------------------------------------------------------------------


def _save_logs(client: TrackingClient, run_id: str, logs: io.StringIO) -> None:
    """Keep what the step printed and logged as the run artifact ``logs/step.log``."""
    text = logs.getvalue()
    if text:
        client.run_artifacts.log_bytes(run_id, text.encode(), "logs/step.log")


def _error_line(err: BaseException) -> str:
    """``Type: message``, with the file and line in the step's own code where it rose."""
    text = f"{type(err).__name__}: {err}"
    frame = user_frame(err)
    if frame is None:
        return text
    first, newline, rest = text.partition("\n")  # summaries show the first line only
    return f"{first} (at {frame.filename}:{frame.lineno}, in {frame.name}){newline}{rest}"
