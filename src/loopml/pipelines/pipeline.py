"""``@loopml.pipeline``: a function whose step calls make a DAG that runs tracked and cached.

Example:
    >>> import loopml
    >>> @loopml.step
    ... def load(n: int) -> list[int]:
    ...     return list(range(n))
    >>> @loopml.step
    ... def total(rows: list[int]) -> int:
    ...     return sum(rows)
    >>> @loopml.pipeline
    ... def count(n: int = 3) -> None:
    ...     total(load(n))
    >>> run = count.run({"n": 4})  # doctest: +SKIP
    >>> run.load("total")  # doctest: +SKIP
    6
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, ParamSpec, TypeVar, overload

from loopml.config import Settings
from loopml.errors import InvalidInputError, PipelineFailedError
from loopml.pipelines._params import coerce_params, load_config
from loopml.pipelines.executors import resolve_executor
from loopml.pipelines.graph import Graph, current_graph
from loopml.pipelines.models import PipelineRunInfo
from loopml.pipelines.pipeline_run import PipelineRun
from loopml.pipelines.runner import EventHandler, Runner
from loopml.pipelines.step import qualified_name

__all__ = ["Pipeline", "PipelineOptions", "pipeline", "resume"]

P = ParamSpec("P")
R = TypeVar("R")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,200}$")


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    """Defaults of a pipeline's runs (each ``run()`` argument overrides them)."""

    name: str
    executor: str | None = None
    cache: bool = True
    experiment: str | None = None


class Pipeline(Generic[P, R]):
    """A pipeline made from ``fn``; see :func:`pipeline`."""

    def __init__(self, fn: Callable[P, R], options: PipelineOptions) -> None:
        if not _NAME.match(options.name):
            raise InvalidInputError(
                f"pipeline name {options.name!r} may hold only letters, digits, '_', '.', '-'"
            )
        self.fn = fn
        self.options = options
        self.signature = inspect.signature(fn)
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    @property
    def name(self) -> str:
        return self.options.name

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> PipelineRun:
        """Run with these parameters (inside another pipeline: add its steps there)."""
        if current_graph() is not None:
            self.fn(*args, **kwargs)
            return None  # type: ignore[return-value]
        bound = self._bind(args, kwargs)
        return self.run(bound)

    def trace(self, params: Mapping[str, Any] | None = None) -> Graph:
        """The graph this pipeline builds with ``params`` (nothing runs)."""
        return self._trace(self._bind((), dict(params or {})))

    def _trace(self, values: dict[str, Any]) -> Graph:
        graph = Graph(self.name)
        function: Callable[..., Any] = self.fn
        with graph.tracing():
            graph.outputs = function(**values)
        if not graph.nodes:
            raise InvalidInputError(
                f"pipeline '{self.name}' called no steps; call @loopml.step functions inside it"
            )
        return graph

    def run(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        config: str | Path | None = None,
        executor: Any = None,
        cache: bool | None = None,
        experiment: str | None = None,
        run_name: str | None = None,
        settings: Settings | None = None,
        on_event: EventHandler | None = None,
        raise_on_failure: bool = True,
        resume_from: PipelineRunInfo | None = None,
        tags: Mapping[str, str] | None = None,
        dataset_versions: Mapping[str, int] | None = None,
    ) -> PipelineRun:
        """Trace and run the pipeline; wait for it to end.

        Args:
            params: the pipeline function's arguments (over those of ``config``).
            config: a TOML, JSON or YAML file of parameters.
            executor: an executor URL (``"local"``, ``"process://4"``,
                ``"dask://host:8786"``, ``"ray"``) or object; default the pipeline's,
                else the ``executor`` setting (``LOOPML_EXECUTOR``).
            cache: ``False`` runs every step even when its cache key matches.
            experiment: where the runs are tracked (default: the pipeline's name).
            run_name: a name for the pipeline run.
            settings: the stores to use (default: the fluent API's).
            on_event: called with a :class:`StepEvent` on every change of a step.
            raise_on_failure: raise :class:`PipelineFailedError` if a step failed.
            resume_from: a failed run whose finished steps are reused.
            tags: more tags of the pipeline run (e.g. what it reproduces).
            dataset_versions: dataset name -> version for the inputs that ask for the
                latest (``loopml.dataset("x")``): a re-run reads what the first run read.
                Inputs that name their version keep it.

        Returns:
            The run, with its steps and a ``load()`` for their outputs.
        """
        values = {**(load_config(config) if config is not None else {}), **dict(params or {})}
        bound = self._bind((), values)
        graph = self._trace(bound)
        client = _client(settings)
        executor_obj, owned = resolve_executor(
            executor or self.options.executor, client.settings.executor
        )
        try:
            runner = Runner(
                graph,
                client=client,
                executor=executor_obj,
                params=_jsonable(bound),
                cache=self.options.cache if cache is None else cache,
                experiment=experiment or self.options.experiment,
                entrypoint=self.entrypoint,
                run_name=run_name,
                resume_from=resume_from,
                on_event=on_event,
                tags=tags,
                dataset_versions=dataset_versions,
            )
            result = runner.execute()
        finally:
            if owned:
                executor_obj.close()
        if raise_on_failure and result.status != "finished":
            failed = result.info.failed_steps
            error = result.info.steps[failed[0]].error if failed else None
            first = error.strip().splitlines()[0] if error and error.strip() else None
            raise PipelineFailedError(
                f"pipeline '{self.name}' run {result.id} {result.status}: step(s) "
                f"{', '.join(failed) or '?'} failed"
                + (f"; first error: {first}" if first else "")
                + f"; see `loopml pipeline show {result.id}`, fix, then "
                f"`loopml pipeline resume {result.id}`",
                run_id=result.id,
                details={"failed_steps": failed},
            )
        return result

    def with_options(self, **changes: Any) -> Pipeline[P, R]:
        """A copy with other defaults, e.g. ``train.with_options(executor="process")``."""
        try:
            options = dataclasses.replace(self.options, **changes)
        except TypeError as err:
            known = [f.name for f in dataclasses.fields(PipelineOptions)]
            raise InvalidInputError(f"unknown pipeline option: {err}; known: {known}") from err
        return Pipeline(self.fn, options)

    @property
    def entrypoint(self) -> str | None:
        """How to import this pipeline again: ``module:name`` or ``path/file.py:name``."""
        module = self.fn.__module__
        name = qualified_name(self.fn)
        if "<locals>" in name:
            return None
        if module == "__main__" or module.startswith("loopml_pipeline_"):
            main_file = getattr(sys.modules.get(module), "__file__", None)
            return f"{Path(main_file).absolute()}:{name}" if main_file else None
        return f"{module}:{name}"

    def _bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as err:
            known = ", ".join(self.signature.parameters) or "none"
            raise InvalidInputError(
                f"pipeline '{self.name}': {err}; its parameters are: {known}"
            ) from err
        # Only what was given is converted: a default is the author's own choice.
        for name, value in coerce_params(self.name, self.fn, bound.arguments).items():
            bound.arguments[name] = value
        bound.apply_defaults()
        return dict(bound.arguments)

    def __repr__(self) -> str:
        return f"<pipeline {self.name}>"


@overload
def pipeline(fn: Callable[P, R], /) -> Pipeline[P, R]: ...


@overload
def pipeline(
    *,
    name: str | None = None,
    executor: str | None = None,
    cache: bool = True,
    experiment: str | None = None,
) -> Callable[[Callable[P, R]], Pipeline[P, R]]: ...


def pipeline(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    executor: str | None = None,
    cache: bool = True,
    experiment: str | None = None,
) -> Pipeline[P, R] | Callable[[Callable[P, R]], Pipeline[P, R]]:
    """Make a function a pipeline: its calls of steps become a DAG.

    The function runs once per pipeline run, with the real parameter values, to build
    the graph: Python ``if``/``for`` decide its shape; step outputs are placeholders
    passed between steps; :func:`loopml.when` branches on a step's output; ``step.map``
    fans out.

    Args:
        name: the pipeline's name (default: the function's).
        executor: the default executor URL of its runs.
        cache: whether runs reuse cached steps by default.
        experiment: where runs are tracked (default: the pipeline's name).

    Example:
        >>> @pipeline(executor="local")
        ... def nothing() -> None: ...
        >>> nothing.name
        'nothing'
    """

    def decorate(function: Callable[P, R]) -> Pipeline[P, R]:
        options = PipelineOptions(
            name=name or str(getattr(function, "__name__", "pipeline")),
            executor=executor,
            cache=cache,
            experiment=experiment,
        )
        return Pipeline(function, options)

    return decorate(fn) if fn is not None else decorate


def _client(settings: Settings | None) -> Any:
    from loopml.pipelines._task import worker_client
    from loopml.tracking.fluent import default_client

    if settings is None:
        return default_client()
    return worker_client(settings)


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    from loopml.pipelines._canonical import is_json_value

    return {k: (v if is_json_value(v) else repr(v)) for k, v in values.items()}


def resume(
    run_id: str,
    *,
    settings: Settings | None = None,
    executor: Any = None,
    on_event: EventHandler | None = None,
    raise_on_failure: bool = True,
) -> PipelineRun:
    """Run a failed or killed pipeline run again, reusing every step that finished.

    The pipeline is imported again from where the run recorded it; steps whose cache
    key is unchanged since that run are reused even when caching is off for them, and
    the others (the failed step and what follows, or steps whose code you fixed) run.

    Raises:
        NotFoundError: no such pipeline run.
        InvalidInputError: the run cannot be re-imported (it was defined inside a
            function, or in an interactive session).
    """
    from loopml.pipelines import records
    from loopml.pipelines._entrypoints import load_pipeline

    client = _client(settings)
    client.reconcile_dead_runs()
    with client.store.write() as conn:
        records.reconcile(conn)
    with client.store.read() as conn:
        info = records.get_pipeline_run(conn, run_id)
    if info.status == "running":
        raise InvalidInputError(f"pipeline run {run_id} is still running; wait for it to end")
    if not info.entrypoint:
        raise InvalidInputError(
            f"pipeline run {run_id} cannot be resumed: its pipeline was defined where it "
            "cannot be imported again (inside a function or an interactive session)"
        )
    target = load_pipeline(info.entrypoint)
    return target.run(  # type: ignore[no-any-return]
        info.params,
        executor=executor or info.executor,
        cache=info.cache,
        settings=settings,
        on_event=on_event,
        raise_on_failure=raise_on_failure,
        resume_from=info,
    )
