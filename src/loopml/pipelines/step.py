"""``@loopml.step``: a function that runs as a tracked, cached unit of a pipeline.

Outside a pipeline a step is its plain function, so it stays easy to test. Inside a
pipeline function, calling it records a node and returns placeholders for its outputs.

Example:
    >>> @step
    ... def double(x: int) -> int:
    ...     return 2 * x
    >>> double(21)
    42
    >>> @step(retries=2, outputs=("train", "test"))
    ... def split(rows: list[int]) -> tuple[list[int], list[int]]:
    ...     return rows[:2], rows[2:]
    >>> split.options.outputs
    ('train', 'test')
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
from collections.abc import Callable, Sequence
from typing import Any, Generic, ParamSpec, TypeVar, overload

from loopml.errors import InvalidInputError
from loopml.pipelines.graph import MappedOutput, current_graph
from loopml.pipelines.models import StepOptions

__all__ = ["Step", "qualified_name", "step"]

P = ParamSpec("P")
R = TypeVar("R")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,199}$")


class Step(Generic[P, R]):
    """A pipeline step wrapping ``fn``; see :func:`step`."""

    def __init__(self, fn: Callable[P, R], options: StepOptions) -> None:
        if not callable(fn) or inspect.isclass(fn):
            raise InvalidInputError(f"@step decorates functions, got {fn!r}")
        if inspect.iscoroutinefunction(fn) or inspect.isgeneratorfunction(fn):
            raise InvalidInputError(
                f"step '{options.name}' is a coroutine or generator function; steps must be "
                "plain functions that return their outputs"
            )
        self.fn = fn
        self.options = options
        functools.update_wrapper(self, fn)
        self.__qualname__ = qualified_name(fn)
        self.signature = inspect.signature(fn)
        _point_fn_at_step(fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        graph = current_graph()
        if graph is None:
            return self.fn(*args, **kwargs)
        result: R = graph.add_call(self, args, kwargs)
        return result

    def map(self, **mapped: Any) -> list[R]:
        """Run the step once per item of the given lists (zipped, like ``map()``).

        Each argument given is mapped: a list known now, or another step's list-valued
        output (expanded while running). Fix other arguments with :meth:`partial`.

        Example:
            >>> scores = evaluate.partial(data=data).map(fold=[0, 1, 2])  # doctest: +SKIP
        """
        return _Partial(self, {}).map(**mapped)

    def partial(self, **fixed: Any) -> _Partial[R]:
        """Fix arguments for a following :meth:`map`."""
        return _Partial(self, fixed)

    def with_options(self, **changes: Any) -> Step[P, R]:
        """A copy of the step with other options, e.g. ``train.with_options(name="rf")``."""
        if "outputs" in changes:
            changes["outputs"] = _check_outputs(changes["outputs"], self.options.name)
        try:
            options = dataclasses.replace(self.options, **changes)
        except TypeError as err:
            known = [f.name for f in dataclasses.fields(StepOptions)]
            raise InvalidInputError(f"unknown step option(s): {err}; known: {known}") from err
        return Step(self.fn, _check_options(options))

    def __reduce__(self) -> str:
        # Pickled by reference: the module-level name of the decorated function.
        return self.__qualname__

    def __repr__(self) -> str:
        return f"<step {self.options.name}>"


class _Partial(Generic[R]):
    def __init__(self, step: Step[Any, R], fixed: dict[str, Any]) -> None:
        self.step = step
        self.fixed = fixed

    def map(self, **mapped: Any) -> list[R]:
        graph = current_graph()
        if graph is None:
            lists = list(mapped.values())
            if len({len(v) for v in lists}) > 1:
                raise InvalidInputError("mapped lists must be equally long")
            return [
                self.step.fn(**self.fixed, **dict(zip(mapped, items, strict=True)))
                for items in zip(*lists, strict=True)
            ]
        result: MappedOutput = graph.add_map(self.step, mapped, self.fixed)
        return result  # type: ignore[return-value]


@overload
def step(fn: Callable[P, R], /) -> Step[P, R]: ...


@overload
def step(
    *,
    name: str | None = None,
    cache: bool = True,
    retries: int = 0,
    retry_delay: float = 1.0,
    timeout: float | None = None,
    outputs: Sequence[str] | None = None,
    allow_pickle: bool = False,
    materializer: str | None = None,
) -> Callable[[Callable[P, R]], Step[P, R]]: ...


def step(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    cache: bool = True,
    retries: int = 0,
    retry_delay: float = 1.0,
    timeout: float | None = None,
    outputs: Sequence[str] | None = None,
    allow_pickle: bool = False,
    materializer: str | None = None,
) -> Step[P, R] | Callable[[Callable[P, R]], Step[P, R]]:
    """Make a function a pipeline step.

    Args:
        name: the step's name (default: the function's).
        cache: skip the step when an earlier successful run had the same cache key
            (its code and the project code it calls, parameters, input digests and
            package versions) and its outputs still exist.
        retries: extra attempts after an exception; waits ``retry_delay`` seconds,
            doubling each time.
        timeout: seconds one attempt may take.
        outputs: output names, when the function returns a tuple of that length.
        allow_pickle: store outputs no materializer accepts with pickle (only load
            such outputs from a store you trust).
        materializer: force a materializer by name (``"json"``, ``"parquet"``, …).

    Example:
        >>> @step(cache=False)
        ... def now() -> float:
        ...     import time
        ...     return time.time()
        >>> now.options.cache
        False
    """

    def decorate(function: Callable[P, R]) -> Step[P, R]:
        step_name = name or str(getattr(function, "__name__", "step"))
        options = StepOptions(
            name=step_name,
            cache=cache,
            retries=retries,
            retry_delay=retry_delay,
            timeout=timeout,
            outputs=_check_outputs(outputs, step_name),
            allow_pickle=allow_pickle,
            materializer=materializer,
        )
        return Step(function, _check_options(options))

    return decorate(fn) if fn is not None else decorate


def _check_outputs(outputs: Sequence[str] | None, step_name: str) -> tuple[str, ...]:
    if outputs is None:
        return ("output",)
    if isinstance(outputs, str):
        outputs = (outputs,)
    names = tuple(outputs)
    if not names or len(set(names)) != len(names) or not all(_NAME.match(n) for n in names):
        raise InvalidInputError(
            f"step '{step_name}': outputs must be distinct identifiers, got {list(names)}"
        )
    return names


def _check_options(options: StepOptions) -> StepOptions:
    where = f"step '{options.name}'"
    if not isinstance(options.name, str) or not _NAME.match(options.name):
        raise InvalidInputError(
            f"step name {options.name!r} must start with a letter and hold only letters, "
            "digits, '_', '.', '-'"
        )
    if not isinstance(options.retries, int) or options.retries < 0:
        raise InvalidInputError(f"{where}: retries must be an integer >= 0")
    if options.retry_delay < 0:
        raise InvalidInputError(f"{where}: retry_delay must be >= 0 seconds")
    if options.timeout is not None and options.timeout <= 0:
        raise InvalidInputError(f"{where}: timeout must be > 0 seconds, or None")
    return options


def qualified_name(fn: Callable[..., Any]) -> str:
    """The function's qualified name as written (before :func:`step` touched it)."""
    return str(getattr(fn, "_loopml_qualname", getattr(fn, "__qualname__", repr(fn))))


def _point_fn_at_step(fn: Callable[..., Any]) -> None:
    # The module-level name now holds the Step, so pickle could no longer find the
    # function by its qualified name; "<name>.fn" leads through the Step back to it.
    if hasattr(fn, "_loopml_qualname"):
        return
    qualname = getattr(fn, "__qualname__", "")
    fn._loopml_qualname = qualname  # type: ignore[attr-defined]
    if "<locals>" not in qualname:
        fn.__qualname__ = f"{qualname}.fn"
