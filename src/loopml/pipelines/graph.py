"""The graph a pipeline function builds when it is traced.

Calling a pipeline runs its Python function once with the real parameter values; every
step call inside records a :class:`Node` and returns placeholders (:class:`StepOutput`)
that later steps take as inputs. Plain values become the step's parameters. So an
ordinary ``if params["deep"]:`` in the pipeline decides the graph's shape, and
:func:`when` makes a step depend on a value only known while running.

Example:
    >>> graph = Graph("demo")
    >>> with graph.tracing():
    ...     pass
    >>> graph.nodes
    {}
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError
from loopml.pipelines.inputs import (
    DatasetInput,
    ElementInput,
    GatherInput,
    InputSpec,
    MapInput,
    OutputInput,
    ValueInput,
    collect_upstream,
    dataset,
    describe,
)

if TYPE_CHECKING:
    from loopml.pipelines.step import Step

__all__ = [
    "Condition",
    "DatasetInput",
    "ElementInput",
    "GatherInput",
    "Graph",
    "InputSpec",
    "MapInput",
    "MappedOutput",
    "Node",
    "OutputInput",
    "StepOutput",
    "ValueInput",
    "current_graph",
    "dataset",
    "when",
]

_current: contextvars.ContextVar[Graph | None] = contextvars.ContextVar(
    "loopml_pipeline_graph", default=None
)


def current_graph() -> Graph | None:
    """The graph being traced in this context, if any."""
    return _current.get()


class StepOutput:
    """A placeholder for one output of a step, while the pipeline is traced.

    Pass it to other steps; its value only exists when the pipeline runs.
    """

    __slots__ = ("node", "output")

    def __init__(self, node: str, output: str) -> None:
        self.node = node
        self.output = output

    def __repr__(self) -> str:
        return f"StepOutput({self.node!r}, {self.output!r})"

    def __bool__(self) -> bool:
        raise InvalidInputError(
            f"the output of step '{self.node}' has no value while the pipeline is being "
            "defined; pass it to another step, or branch on it with `with loopml.when(...)`"
        )

    def __iter__(self) -> Iterator[Any]:
        raise InvalidInputError(
            f"the output of step '{self.node}' cannot be iterated while the pipeline is "
            "being defined; map a step over it with `step.map(arg=output)`, or give the step "
            "several outputs with `@step(outputs=('a', 'b'))`"
        )


class MappedOutput(list[StepOutput]):
    """The outputs of a step mapped over a list; pass it on as one list-valued input.

    A map over a value known when the pipeline is defined holds one placeholder per
    element; a map over another step's output expands while running (``template``).
    """

    def __init__(self, items: Sequence[StepOutput] = (), template: str | None = None):
        super().__init__(items)
        self.template = template


@dataclass(frozen=True, slots=True)
class Condition:
    """Run only if the truth of an upstream output equals ``expected``."""

    node: str
    output: str
    expected: bool = True


@dataclass(slots=True)
class Node:
    """One step call in the graph."""

    id: str
    step: Step[Any, Any]
    params: dict[str, Any]
    inputs: dict[str, InputSpec]
    conditions: tuple[Condition, ...] = ()
    mapped: tuple[str, ...] = ()  # for a map template: the arguments mapped over
    template: str | None = None  # for a child of a running map: its template

    @property
    def upstream(self) -> set[str]:
        found: set[str] = {c.node for c in self.conditions}
        for spec in self.inputs.values():
            collect_upstream(spec, found)
        return found

    @property
    def is_template(self) -> bool:
        return bool(self.mapped)

    def describe(self) -> dict[str, Any]:
        """A JSON description (stored with the run; drawn by ``loopml pipeline show``)."""
        return {
            "id": self.id,
            "step": self.step.options.name,
            "function": f"{self.step.fn.__module__}.{self.step.__qualname__}",
            "upstream": sorted(self.upstream),
            "params": self.params,
            "inputs": {name: describe(spec) for name, spec in self.inputs.items()},
            "conditions": [
                {"node": c.node, "output": c.output, "expected": c.expected}
                for c in self.conditions
            ],
            "map": list(self.mapped),
            "template": self.template,
            "cache": self.step.options.cache,
        }


class Graph:
    """The nodes a pipeline function created, in the order it created them."""

    def __init__(self, pipeline: str) -> None:
        self.pipeline = pipeline
        self.nodes: dict[str, Node] = {}
        self.outputs: Any = None
        self._conditions: list[Condition] = []
        self._names: dict[str, int] = {}

    @contextmanager
    def tracing(self) -> Iterator[Graph]:
        token = _current.set(self)
        try:
            yield self
        finally:
            _current.reset(token)

    # -- building ----------------------------------------------------------------------

    def add_call(self, step: Step[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Record a call of ``step``; return its output placeholder(s)."""
        bound = _bind(step, args, kwargs)
        params, inputs = self._split(step, bound)
        node = self._add(Node(self._unique(step.options.name), step, params, inputs))
        return self._handles(node)

    def add_map(
        self, step: Step[Any, Any], mapped: dict[str, Any], fixed: dict[str, Any]
    ) -> MappedOutput:
        """Record ``step`` mapped over the lists in ``mapped`` (zipped, like ``map()``)."""
        if len(step.options.outputs) != 1:
            raise InvalidInputError(
                f"step '{step.options.name}' has several outputs; only a single-output step "
                "can be mapped (return one value, e.g. a dict)"
            )
        if not mapped:
            raise InvalidInputError(
                f"{step.options.name}.map() needs at least one argument to map over, "
                f"e.g. {step.options.name}.map(x=[1, 2, 3])"
            )
        overlap = set(mapped) & set(fixed)
        if overlap:
            raise InvalidInputError(f"argument(s) {sorted(overlap)} are both mapped and fixed")
        dynamic = {k: v for k, v in mapped.items() if isinstance(v, StepOutput | MappedOutput)}
        if dynamic and len(dynamic) != len(mapped):
            raise InvalidInputError(
                f"{step.options.name}.map() mixes step outputs with plain lists; map over "
                "step outputs only, or plain lists only"
            )
        if dynamic:
            return self._add_dynamic_map(step, mapped, fixed)
        lengths = {k: len(v) for k, v in mapped.items() if _is_list(v)}
        if len(lengths) != len(mapped):
            bad = sorted(set(mapped) - set(lengths))
            raise InvalidInputError(
                f"{step.options.name}.map() maps over lists or step outputs; {bad} are neither "
                "(fix values with .partial(...))"
            )
        if len(set(lengths.values())) > 1:
            raise InvalidInputError(
                f"{step.options.name}.map() got lists of different lengths {lengths}; "
                "mapped lists are zipped, so they must be equally long"
            )
        count = next(iter(lengths.values()))
        outputs = []
        base = self._unique(step.options.name)
        for index in range(count):
            call = {**fixed, **{k: v[index] for k, v in mapped.items()}}
            bound = _bind(step, (), call)
            params, inputs = self._split(step, bound)
            node = self._add(Node(f"{base}[{index}]", step, params, inputs))
            outputs.append(StepOutput(node.id, step.options.outputs[0]))
        return MappedOutput(outputs)

    def _add_dynamic_map(
        self, step: Step[Any, Any], mapped: dict[str, Any], fixed: dict[str, Any]
    ) -> MappedOutput:
        placeholders = dict.fromkeys(mapped)
        bound = _bind(step, (), {**fixed, **placeholders})
        for name in mapped:
            bound.pop(name)
        params, inputs = self._split(step, bound)
        for name, value in mapped.items():
            inputs[name] = self._input_of(value)
        node = self._add(
            Node(self._unique(step.options.name), step, params, inputs, mapped=tuple(mapped))
        )
        return MappedOutput(template=node.id)

    @contextmanager
    def condition(self, output: StepOutput, expected: bool) -> Iterator[None]:
        if not isinstance(output, StepOutput):
            raise InvalidInputError(
                f"loopml.when() takes a step's output, got {type(output).__name__}; for a "
                "value known now, use a plain `if`"
            )
        if output.node not in self.nodes:
            raise InvalidInputError(f"loopml.when() got an output of unknown step {output.node}")
        self._conditions.append(Condition(output.node, output.output, expected))
        try:
            yield
        finally:
            self._conditions.pop()

    def _add(self, node: Node) -> Node:
        node.conditions = tuple(self._conditions)
        self.nodes[node.id] = node
        return node

    def _unique(self, name: str) -> str:
        count = self._names.get(name, 0) + 1
        self._names[name] = count
        return name if count == 1 else f"{name}_{count}"

    def _split(
        self, step: Step[Any, Any], bound: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, InputSpec]]:
        from loopml.pipelines._canonical import is_json_value

        params: dict[str, Any] = {}
        inputs: dict[str, InputSpec] = {}
        for name, value in bound.items():
            if _holds_reference(value):
                inputs[name] = self._input_of(value)
            elif is_json_value(value):
                params[name] = value
            else:
                inputs[name] = ValueInput(value)
        return params, inputs

    def _input_of(self, value: Any) -> InputSpec:
        if isinstance(value, MappedOutput):
            if value.template is not None:
                return MapInput(value.template)
            return GatherInput(tuple(self._input_of(v) for v in value))
        if isinstance(value, StepOutput):
            if value.node not in self.nodes:
                raise InvalidInputError(
                    f"the output {value.node}.{value.output} belongs to another pipeline"
                )
            return OutputInput(value.node, value.output)
        if isinstance(value, DatasetInput):
            return value
        if _is_list(value):
            return GatherInput(tuple(self._input_of(v) for v in value))
        return ValueInput(value)

    def _handles(self, node: Node) -> Any:
        names = node.step.options.outputs
        handles = tuple(StepOutput(node.id, name) for name in names)
        return handles[0] if len(handles) == 1 else handles

    # -- reading -----------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        return {"pipeline": self.pipeline, "nodes": [n.describe() for n in self.nodes.values()]}


@contextmanager
def when(output: Any, *, is_: bool = True) -> Iterator[None]:
    """Run the steps called inside the block only if ``output`` is true (or false).

    Steps left out this way are ``skipped``, and so is everything downstream of them.

    Example:
        >>> with loopml.when(gate_passed):  # doctest: +SKIP
        ...     deploy(model)
    """
    graph = current_graph()
    if graph is None:
        raise InvalidInputError("loopml.when() only works inside a @loopml.pipeline function")
    with graph.condition(output, is_):
        yield


def _bind(step: Step[Any, Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    try:
        bound = step.signature.bind(*args, **kwargs)
    except TypeError as err:
        raise InvalidInputError(
            f"step '{step.options.name}' called with bad arguments: {err}; its signature is "
            f"{step.options.name}{step.signature}"
        ) from err
    bound.apply_defaults()
    out = dict(bound.arguments)
    for name, parameter in step.signature.parameters.items():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD and name in out:
            out.update(out.pop(name))
        elif parameter.kind is inspect.Parameter.VAR_POSITIONAL and name in out:
            raise InvalidInputError(
                f"step '{step.options.name}' takes *{name}; steps need named parameters"
            )
    return out


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def _holds_reference(value: Any) -> bool:
    if isinstance(value, StepOutput | MappedOutput | DatasetInput):
        return True
    if _is_list(value):
        return any(_holds_reference(v) for v in value)
    return False
