"""The fluent API: ``with loopml.start_run(): loopml.log_metric(...)``.

Each thread has a stack of active runs; ``start_run`` inside an active run starts a
nested (child) run. A run's status is always right when it ends: ``finished`` on a
normal exit of the block, ``failed`` on an exception, ``killed`` on Ctrl-C; runs
still open at interpreter exit are finished (``failed`` after an uncaught exception);
a run whose process died without a word (SIGKILL) is found and marked ``killed`` by
the next loopml process on the same host.

Example:
    >>> import loopml
    >>> with loopml.start_run(experiment="iris", name="rf") as run:  # doctest: +SKIP
    ...     loopml.log_param("n_estimators", 100)
    ...     loopml.log_metric("acc", 0.95)
"""

from __future__ import annotations

import atexit
import io
import json
import math
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Unpack

from loopml.config import Settings
from loopml.errors import InvalidInputError, MissingDependencyError, quote
from loopml.tracking.client import DEFAULT_EXPERIMENT, TrackingClient
from loopml.tracking.models import Experiment, Run, RunStatus
from loopml.uris import run_uri

if TYPE_CHECKING:
    from loopml.packaging.models import PackageInfo, PackageOptions

__all__ = [
    "ActiveRun",
    "active_run",
    "attach_run",
    "configure",
    "default_client",
    "end_run",
    "get_metric_history",
    "get_run",
    "load_table",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "reset",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_tag",
    "set_tags",
    "start_run",
]

_local = threading.local()
_all_active: dict[str, ActiveRun] = {}
_state_lock = threading.Lock()
_overrides: dict[str, Any] = {}
_client: TrackingClient | None = None
_uncaught: type[BaseException] | None = None
_active_experiment: str | None = None  # set by set_experiment (a name: ids are per store)


class ActiveRun:
    """A run being recorded; a context manager that ends the run on exit."""

    def __init__(self, client: TrackingClient, run: Run) -> None:
        self.client = client
        self.id = run.id
        self.run = run

    @property
    def info(self) -> Run:
        """The run as stored now (params, latest metrics, tags)."""
        return self.client.get_run(self.id)

    @property
    def uri(self) -> str:
        return run_uri(self.id)

    def log_param(self, key: str, value: Any) -> None:
        self.client.log_param(self.id, key, value)

    def log_params(self, values: Mapping[str, Any]) -> None:
        self.client.log_params(self.id, values)

    def log_metric(self, key: str, value: Any, step: int = 0, timestamp: int | None = None) -> None:
        self.client.log_metric(self.id, key, value, step, timestamp)

    def log_metrics(self, values: Mapping[str, Any], step: int = 0) -> None:
        self.client.log_metrics(self.id, values, step)

    def set_tag(self, key: str, value: Any) -> None:
        self.client.set_tag(self.id, key, value)

    def set_tags(self, values: Mapping[str, Any]) -> None:
        self.client.set_tags(self.id, values)

    def log_artifact(self, local_path: str | Path, artifact_path: str = "") -> str:
        return self.client.log_artifact(self.id, local_path, artifact_path)

    def log_artifacts(self, local_dir: str | Path, artifact_path: str = "") -> list[str]:
        return self.client.log_artifacts(self.id, local_dir, artifact_path)

    def log_text(self, text: str, artifact_path: str) -> str:
        """Store ``text`` (UTF-8) as the file ``artifact_path``."""
        if not isinstance(text, str):
            raise InvalidInputError(
                f"log_text takes a string, got {type(text).__name__} {quote(text, 60)}; "
                "log bytes or files with log_artifact, a dict with log_dict"
            )
        return self.client.run_artifacts.log_bytes(self.id, text.encode("utf-8"), artifact_path)

    def log_dict(self, data: Mapping[str, Any], artifact_path: str) -> str:
        """Store ``data`` as JSON (or YAML for ``.yaml``/``.yml`` paths, needs PyYAML).

        JSON has no NaN or infinity: a float that is not finite is refused (its key path
        is named) rather than written as the non-standard ``NaN`` most parsers reject.
        Replace it (e.g. with ``None``) or log the file as YAML, which has ``.nan``.
        """
        if artifact_path.endswith((".yaml", ".yml")):
            try:
                import yaml
            except ImportError as err:
                raise MissingDependencyError("pyyaml", "yaml", "log_dict to YAML") from err
            text = yaml.safe_dump(dict(data), sort_keys=False)
        else:
            try:
                text = json.dumps(data, indent=2, default=str, allow_nan=False)
            except ValueError as err:
                where = _non_finite(data, "data")
                if where is None:  # e.g. a circular reference
                    message = f"log_dict could not serialise the data: {err}"
                    raise InvalidInputError(message) from err
                raise InvalidInputError(
                    f"log_dict cannot write {where} as JSON: it is not a finite "
                    "number and JSON has no NaN or infinity; replace it (e.g. with None) "
                    f"or log '{artifact_path}' as .yaml",
                    details={"path": where},
                ) from err
            except TypeError as err:
                raise InvalidInputError(f"log_dict could not serialise the data: {err}") from err
        return self.log_text(text, artifact_path)

    def log_figure(self, figure: Any, artifact_path: str) -> str:
        """Store a matplotlib figure (format from the extension) or a plotly figure (.html)."""
        suffix = Path(artifact_path).suffix.lower().lstrip(".") or "png"
        if hasattr(figure, "savefig"):
            buffer = io.BytesIO()
            figure.savefig(buffer, format=suffix)
            data = buffer.getvalue()
        elif hasattr(figure, "to_html") and suffix in ("html", "htm"):
            data = figure.to_html(include_plotlyjs=True, full_html=True).encode()
        else:
            raise InvalidInputError(
                f"log_figure takes a matplotlib figure (any extension) or a plotly figure "
                f"(.html), got {type(figure).__name__} for '{artifact_path}'"
            )
        return self.client.run_artifacts.log_bytes(self.id, data, artifact_path)

    def log_model(
        self, model: Any, name: str = "model", **options: Unpack[PackageOptions]
    ) -> PackageInfo:
        """Store ``model`` as a package under ``name`` in this run.

        Registering it as well is ``loopml.log_model(..., register_as="churn")``, or
        ``loopml.register_model(info, "churn")`` afterwards.

        The package (see :mod:`loopml.packaging.package`) holds the model in its flavor's
        format, ``model.json`` (signature, pinned requirements, every file's digest),
        the input example and ``requirements.txt``.

        Args:
            model: a fitted model: scikit-learn, LightGBM, XGBoost, torch, ONNX, or any
                object with ``predict`` (pyfunc).
            name: the folder in the run (``runs:/<run id>/<name>``).
            **options: :class:`~loopml.packaging.models.PackageOptions`:
                ``input_example`` (a few rows of input; the signature is inferred from
                it, and a torch model needs one: export traces it), ``signature`` (when
                it should not be inferred), ``requirements`` (extra lines to pin,
                ``"pkg==1.2"``).

        Raises:
            ConflictError: the run already has files under ``name``.

        Example:
            >>> with loopml.start_run() as run:  # doctest: +SKIP
            ...     info = run.log_model(forest, input_example=x_train[:5])
            >>> info.uri  # doctest: +SKIP
            'runs:/01J…/model'
        """
        from loopml.tracking.model_packages import log_model_in_run  # numpy only when used

        return log_model_in_run(self.client, self.id, model, name, **options)

    def log_image(self, image: Any, artifact_path: str) -> str:
        """Store an image; see :meth:`TrackingClient.log_image`. Returns the stored path."""
        return self.client.log_image(self.id, image, artifact_path)

    def log_table(self, table: Any, artifact_path: str) -> str:
        """Store a DataFrame as ``.parquet`` or ``.json``; read it back with :meth:`load_table`."""
        return self.client.log_table(self.id, table, artifact_path)

    def load_table(self, artifact_path: str) -> Any:
        """The DataFrame that :meth:`log_table` stored at ``artifact_path``."""
        return self.client.load_table(self.id, artifact_path)

    def end(self, status: RunStatus | str = RunStatus.FINISHED) -> None:
        """End the run (idempotent) and remove it from the active stack."""
        with _state_lock:
            if _all_active.pop(self.id, None) is None:
                return
        stack = _stack()
        if self in stack:
            stack.remove(self)
        self.client.end_run(self.id, status)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.end(RunStatus.FINISHED)
        elif issubclass(exc_type, KeyboardInterrupt):
            self.end(RunStatus.KILLED)
        else:
            self.end(RunStatus.FAILED)

    def __repr__(self) -> str:
        return f"ActiveRun(id={self.id!r}, name={self.run.name!r})"

    def _repr_html_(self) -> str:
        """The run as stored now, as a compact table for notebooks."""
        return self.info._repr_html_()


def configure(**settings: Any) -> None:
    """Point the fluent API at a store: ``configure(home=…, db_url=…, artifacts_url=…)``."""
    Settings.load(**settings)  # validate now
    reset()
    with _state_lock:
        _overrides.update(settings)


def reset() -> None:
    """Close and forget the default client, the :func:`configure` overrides and the
    experiment chosen with :func:`set_experiment`."""
    global _client, _active_experiment
    with _state_lock:
        _overrides.clear()
        _active_experiment = None
        old, _client = _client, None
    if old is not None:
        old.close()


def _client_for(settings: Settings) -> TrackingClient:
    """The embedded client, or the server's when ``tracking_uri`` names one."""
    from loopml.tracking.remote import RemoteTrackingClient, is_remote

    if is_remote(settings.tracking_uri):
        remote = RemoteTrackingClient(settings)
        if _hooks_installed:  # exit hooks run last-in first: end the runs, then close
            atexit.unregister(_end_all_at_exit)
            atexit.register(_end_all_at_exit)
        # Duck-typed: it answers every call the fluent API makes of a TrackingClient.
        return remote  # type: ignore[return-value]
    return TrackingClient(settings)


def default_client() -> TrackingClient:
    """The process's client for the current settings (re-created when they change)."""
    global _client
    settings = Settings.load(**_overrides)
    old = None
    with _state_lock:
        if _client is None or _client.settings != settings:
            old, _client = _client, _client_for(settings)
        client = _client
    if old is not None:
        old.close()
    return client


def start_run(
    experiment: str | None = None,
    name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    *,
    nested: bool | None = None,
) -> ActiveRun:
    """Start a run; use it as a context manager. Inside an active run it starts a child run.

    Args:
        experiment: experiment name (created if needed); default ``$LOOPML_EXPERIMENT``,
            else the parent run's experiment, else ``Default``.
        name: a readable run name; default a generated one.
        tags: tags to set at start.
        nested: ``False`` refuses to start inside another active run.
    """
    _install_hooks()
    parent = active_run()
    if parent is not None and nested is False:
        raise InvalidInputError(
            f"run {parent.id} is still active; end it first, or pass nested=True to start a "
            "child run"
        )
    client = parent.client if parent is not None else default_client()
    if experiment is None:
        import os

        experiment = (
            _active_experiment
            or os.environ.get("LOOPML_EXPERIMENT")
            or (
                _experiment_name(client, parent.run.experiment_id) if parent else DEFAULT_EXPERIMENT
            )
        )
    run = client.create_run(
        experiment, name=name, tags=tags, parent_run_id=parent.id if parent else None
    )
    active = ActiveRun(client, run)
    _stack().append(active)
    with _state_lock:
        _all_active[run.id] = active
    return active


@contextmanager
def attach_run(client: TrackingClient, run: Run) -> Iterator[ActiveRun]:
    """Make an existing run the active one inside the block, without ending it after.

    For code that runs on behalf of a run someone else owns: a pipeline step executing
    on a worker logs its metrics to the step run the orchestrator started.
    """
    active = ActiveRun(client, run)
    stack = _stack()
    stack.append(active)
    try:
        yield active
    finally:
        if active in stack:
            stack.remove(active)


def active_run() -> ActiveRun | None:
    """The innermost active run of this thread, if any."""
    stack = _stack()
    return stack[-1] if stack else None


def end_run(status: RunStatus | str = RunStatus.FINISHED) -> None:
    """End the innermost active run of this thread."""
    run = active_run()
    if run is not None:
        run.end(status)


def _require_run() -> ActiveRun:
    run = active_run()
    if run is None:
        raise InvalidInputError("no active run; wrap the code in `with loopml.start_run():` first")
    return run


def log_param(key: str, value: Any) -> None:
    _require_run().log_param(key, value)


def log_params(values: Mapping[str, Any]) -> None:
    _require_run().log_params(values)


def log_metric(key: str, value: Any, step: int = 0, timestamp: int | None = None) -> None:
    _require_run().log_metric(key, value, step, timestamp)


def log_metrics(values: Mapping[str, Any], step: int = 0) -> None:
    _require_run().log_metrics(values, step)


def set_tag(key: str, value: Any) -> None:
    _require_run().set_tag(key, value)


def set_tags(values: Mapping[str, Any]) -> None:
    _require_run().set_tags(values)


def log_artifact(local_path: str | Path, artifact_path: str = "") -> str:
    return _require_run().log_artifact(local_path, artifact_path)


def log_artifacts(local_dir: str | Path, artifact_path: str = "") -> list[str]:
    return _require_run().log_artifacts(local_dir, artifact_path)


def log_text(text: str, artifact_path: str) -> str:
    return _require_run().log_text(text, artifact_path)


def log_dict(data: Mapping[str, Any], artifact_path: str) -> str:
    return _require_run().log_dict(data, artifact_path)


def log_figure(figure: Any, artifact_path: str) -> str:
    return _require_run().log_figure(figure, artifact_path)


def log_model(model: Any, name: str = "model", **options: Unpack[PackageOptions]) -> PackageInfo:
    """Store ``model`` as a package in the active run (see :meth:`ActiveRun.log_model`).

    Example:
        >>> with loopml.start_run():  # doctest: +SKIP
        ...     info = loopml.log_model(forest, input_example=x_train[:5])
        >>> loopml.load_model(info.uri).predict(x_test)  # doctest: +SKIP
    """
    return _require_run().log_model(model, name, **options)


def _non_finite(value: Any, where: str, depth: int = 0) -> str | None:
    """The key path (``data['a'][2]``) of the first float in ``value`` that is not finite."""
    if depth > 100:  # deeper than any JSON document worth logging, or a cycle
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{where} = {value!r}"
    if isinstance(value, Mapping):
        items: Iterator[tuple[str, Any]] = ((f"[{k!r}]", v) for k, v in value.items())
    elif isinstance(value, list | tuple):
        items = ((f"[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for step, child in items:
        found = _non_finite(child, where + step, depth + 1)
        if found:
            return found
    return None


def _stack() -> list[ActiveRun]:
    stack: list[ActiveRun] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def _experiment_name(client: TrackingClient, experiment_id: str) -> str:
    return client.get_experiment(experiment_id).name


_hooks_installed = False


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    previous = sys.excepthook

    def excepthook(
        exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        global _uncaught
        _uncaught = exc_type
        previous(exc_type, exc, tb)

    sys.excepthook = excepthook
    atexit.register(_end_all_at_exit)


def _end_all_at_exit() -> None:
    if _uncaught is None:
        status = RunStatus.FINISHED
    elif issubclass(_uncaught, KeyboardInterrupt):
        status = RunStatus.KILLED
    else:
        status = RunStatus.FAILED
    # Children first: they were started last.
    for run in sorted(_all_active.values(), key=lambda r: r.id, reverse=True):
        try:
            run.end(status)
        except Exception as err:
            print(f"loopml: could not end run {run.id}: {err}", file=sys.stderr)


def search_runs(
    experiments: str | list[str] | None = None,
    filter: str | None = None,
    order_by: list[str] | str | None = None,
    max_results: int = 1000,
    *,
    as_frame: bool = False,
    include_deleted: bool = False,
) -> Any:
    """Find runs with the default client; see :meth:`TrackingClient.search_runs`."""
    return default_client().search_runs(
        experiments,
        filter,
        order_by,
        max_results,
        as_frame=as_frame,
        include_deleted=include_deleted,  # type: ignore[call-overload]
    )


def get_run(run_id: str) -> Run:
    """A run with its data; see :meth:`TrackingClient.get_run`."""
    return default_client().get_run(run_id)


def get_metric_history(run_id: str, key: str) -> list[Any]:
    """Every point of one metric of a run, by step."""
    return default_client().get_metric_history(run_id, key)


# -- experiments -----------------------------------------------------------------------------


def set_experiment(name: str | None = None, *, experiment_id: str | None = None) -> Experiment:
    """Make ``name`` the experiment of later :func:`start_run` calls, creating it if missing.

    It applies to the whole process (all threads) until changed or :func:`reset`, and
    takes precedence over ``$LOOPML_EXPERIMENT`` and the parent run's experiment;
    ``start_run(experiment=...)`` still wins over it.

    Args:
        name: the experiment's name (created when it does not exist).
        experiment_id: instead of ``name``, the id of an existing experiment.

    Returns:
        The experiment, with its tags.

    Raises:
        InvalidInputError: neither or both of ``name`` and ``experiment_id`` were given, or
            the name is not a valid experiment name.
        NotFoundError: no experiment has ``experiment_id``.

    Example:
        >>> loopml.set_experiment("churn")  # doctest: +SKIP
        >>> with loopml.start_run() as run:  # doctest: +SKIP
        ...     ...  # recorded in "churn"
    """
    global _active_experiment
    if (name is None) == (experiment_id is None):
        raise InvalidInputError(
            "set_experiment takes an experiment name or experiment_id=..., exactly one of them"
        )
    client = default_client()
    if name is not None:
        if not isinstance(name, str):
            raise InvalidInputError(
                f"experiment name must be a string, got {type(name).__name__} {name!r}"
            )
        found = client.get_or_create_experiment(name)
    else:
        if not isinstance(experiment_id, str) or not experiment_id:
            raise InvalidInputError(f"experiment_id must be a string, got {experiment_id!r}")
        found = client.get_experiment(experiment_id)
    with _state_lock:
        _active_experiment = found.name
    return client.get_experiment(found.id)


def _current_experiment(client: TrackingClient) -> Experiment:
    import os

    run = active_run()
    if _active_experiment is None and run is not None:
        return client.get_experiment(run.run.experiment_id)
    name = _active_experiment or os.environ.get("LOOPML_EXPERIMENT") or DEFAULT_EXPERIMENT
    return client.get_or_create_experiment(name)


def set_experiment_tags(tags: Mapping[str, Any]) -> Experiment:
    """Set tags on the current experiment (see :func:`set_experiment`); returns it.

    The current experiment is the one :func:`set_experiment` chose, else the active
    run's, else ``$LOOPML_EXPERIMENT``, else ``Default``; it is created if missing.
    Tags are mutable: setting a key again replaces its value.
    """
    client = default_client()
    return client.set_experiment_tags(_current_experiment(client).id, tags)


def set_experiment_tag(key: str, value: Any) -> Experiment:
    """Set one tag on the current experiment; see :func:`set_experiment_tags`."""
    return set_experiment_tags({key: value})


def search_experiments(
    filter: str | None = None,
    order_by: list[str] | str | None = None,
    max_results: int = 1000,
    *,
    include_deleted: bool = False,
) -> list[Experiment]:
    """Find experiments by ``name``, ``id`` and ``tags.<key>``.

    The filter is the run-search grammar (:mod:`loopml.tracking.search`): ``=``, ``!=``,
    ``LIKE``, ``ILIKE``, ``IN``, ``IS NULL``, ``AND``, ``OR`` and parentheses.

    Example:
        >>> loopml.search_experiments("name LIKE 'churn%'", "name")  # doctest: +SKIP
    """
    return default_client().search_experiments(
        filter, order_by, max_results, include_deleted=include_deleted
    )


# -- images and tables -----------------------------------------------------------------------


def log_image(image: Any, artifact_path: str) -> str:
    """Store an image in the active run; see :meth:`ActiveRun.log_image`.

    Example:
        >>> loopml.log_image(numpy.zeros((8, 8, 3), dtype="uint8"), "black.png")  # doctest: +SKIP
        'black.png'
    """
    return _require_run().log_image(image, artifact_path)


def log_table(table: Any, artifact_path: str) -> str:
    """Store a DataFrame in the active run as ``.parquet`` or ``.json``.

    Example:
        >>> loopml.log_table(frame, "eval/predictions.parquet")  # doctest: +SKIP
        'eval/predictions.parquet'
    """
    return _require_run().log_table(table, artifact_path)


def load_table(run: str, artifact_path: str | None = None) -> Any:
    """The DataFrame :func:`log_table` stored: ``load_table(run_id, "t.parquet")`` or
    ``load_table("runs:/<run id>/t.parquet")``.

    Raises:
        InvalidInputError: the run or path is malformed, or the file is not such a table.
        NotFoundError: no such run or artifact.
    """
    run_id, path = _run_and_path(run, artifact_path)
    return default_client().load_table(run_id, path)


def _run_and_path(run: str, artifact_path: str | None) -> tuple[str, str]:
    from loopml.uris import parse_uri, run_uri

    if not isinstance(run, str) or not run:
        raise InvalidInputError(f"pass a run id or a runs:/ URI, got {run!r}")
    if ":" in run:  # a run id has no ':'
        uri = parse_uri(run)
        if uri.scheme != "runs":
            raise InvalidInputError(f"pass a run id or a runs:/ URI, got {run!r}")
        run_id, path = uri.name, uri.path
        if artifact_path:
            path = f"{path}/{artifact_path}" if path else artifact_path
    else:
        run_id, path = run, artifact_path or ""
    if not path:
        raise InvalidInputError(
            f"name the table file: load_table('{run_id}', 'table.parquet') or "
            f"load_table('{run_uri(run_id, 'table.parquet')}')"
        )
    return run_id, path
