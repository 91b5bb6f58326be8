"""What a step call's arguments refer to: upstream outputs, lists of them, datasets, values.

The graph stores each non-JSON argument of a node as one of these specs; the runner
resolves them to stored outputs (and their digests, for the cache key) when the node runs.

Example:
    >>> describe(GatherInput((OutputInput("a", "output"), DatasetInput("iris", 2))))
    {'list': [{'output': 'a.output'}, {'dataset': 'datasets:/iris/2'}]}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loopml.data import check_name, parse_target
from loopml.uris import dataset_uri

__all__ = [
    "DatasetInput",
    "ElementInput",
    "GatherInput",
    "InputSpec",
    "MapInput",
    "OutputInput",
    "ValueInput",
    "collect_upstream",
    "dataset",
    "describe",
]


@dataclass(frozen=True, slots=True)
class OutputInput:
    """The value of an upstream output."""

    node: str
    output: str


@dataclass(frozen=True, slots=True)
class GatherInput:
    """A list whose items are other inputs (a list of outputs, a static map's results)."""

    items: tuple[InputSpec, ...]


@dataclass(frozen=True, slots=True)
class MapInput:
    """Every result of a map that expands while running, as one list."""

    template: str


@dataclass(frozen=True, slots=True)
class ElementInput:
    """Item ``index`` of a list-valued upstream output (a child of a running map)."""

    node: str
    output: str
    index: int


@dataclass(frozen=True, slots=True)
class DatasetInput:
    """A dataset version, resolved when the run starts (``None``: the latest)."""

    name: str
    version: int | None = None

    @property
    def uri(self) -> str:
        """``datasets:/<name>/<version>``, or ``datasets:/<name>@latest`` (a URI
        :func:`loopml.uris.parse_uri` accepts, meaning the same input)."""
        return dataset_uri(self.name, self.version)


@dataclass(frozen=True, slots=True)
class ValueInput:
    """A literal argument that is not JSON (a DataFrame, an array): stored like an output."""

    value: Any = field(compare=False)


InputSpec = OutputInput | GatherInput | MapInput | ElementInput | DatasetInput | ValueInput


def dataset(name: str, version: int | None = None) -> DatasetInput:
    """A dataset version as a step input: the step receives its content.

    The version is fixed when the run starts (the latest, unless ``version`` is given),
    its digest enters the cache key, and the step run is recorded as consuming it.

    ``name`` may also be a URI (``datasets:/iris/3``, ``datasets:/iris@latest``) or its
    short form (``iris/3``, ``iris@latest``), read as everywhere else in loopml.

    Raises:
        InvalidInputError: a malformed name or URI, an alias other than ``latest``,
            a version below 1, or a version that contradicts the URI's.

    Example:
        >>> dataset("iris").uri, dataset("datasets:/iris/3").uri
        ('datasets:/iris@latest', 'datasets:/iris/3')
    """
    name, version = parse_target(name, version)
    check_name(name)
    return DatasetInput(name, version)


def collect_upstream(spec: InputSpec, found: set[str]) -> None:
    if isinstance(spec, OutputInput | ElementInput):
        found.add(spec.node)
    elif isinstance(spec, MapInput):
        found.add(spec.template)
    elif isinstance(spec, GatherInput):
        for item in spec.items:
            collect_upstream(item, found)


def describe(spec: InputSpec) -> Any:
    if isinstance(spec, OutputInput):
        return {"output": f"{spec.node}.{spec.output}"}
    if isinstance(spec, ElementInput):
        return {"output": f"{spec.node}.{spec.output}[{spec.index}]"}
    if isinstance(spec, MapInput):
        return {"map": spec.template}
    if isinstance(spec, GatherInput):
        return {"list": [describe(item) for item in spec.items]}
    if isinstance(spec, DatasetInput):
        return {"dataset": spec.uri}
    return {"value": type(spec.value).__name__}
