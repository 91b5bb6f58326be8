"""The registration value object, and what registering learns from the pipeline itself.

Example:
    >>> pipeline, entrypoint = load_target("flows/train.py:train")  # doctest: +SKIP
    >>> entrypoint  # doctest: +SKIP
    '/home/me/project/flows/train.py:train'
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError, LoopmlError
from loopml.pipelines._canonical import digest_of, is_json_value
from loopml.pipelines._code import code_identity, is_project_module, source_digest
from loopml.pipelines.triggers import Trigger, trigger_from_dict

if TYPE_CHECKING:
    from loopml.pipelines.graph import Graph
    from loopml.pipelines.pipeline import Pipeline

__all__ = [
    "Registration",
    "check_executor",
    "check_params",
    "load_target",
    "source_digest_of",
    "source_files",
    "trace",
]

_EXECUTOR = re.compile(r"^(local|process(://\d+)?|dask://\S*|ray(://\S+)?|py:[\w.]+)$")


@dataclass(frozen=True, slots=True)
class Registration:
    """A registered pipeline: what runs, with which params, and what fires it.

    Attributes:
        name: the registration's name (unique).
        entrypoint: where the pipeline is imported from when it fires.
        params: the parameters every fired run gets.
        executor: the executor URL of its runs, or ``None`` for the default.
        schedule: a five-field cron expression, or ``None`` (triggers only).
        timezone: the IANA zone the schedule is read in.
        triggers: the triggers, with their baselines.
        source_digest: SHA-256 of the pipeline's code (its function and its steps').
        enabled: whether it fires.
        version: 1 when registered, then one more with every change.
        created_at: when first registered (Unix ms).
        updated_at: when last changed (Unix ms).
        updated_by: who changed it last.
        webhook_token: the webhook's secret token, only on the value
            :func:`register_pipeline` returns when it made one; never stored.
        warnings: what registering noticed and did not refuse.
        changed: what the registering call changed: ``("created",)``, the names of the
            changed fields, or nothing.

    Example:
        >>> registration.next_fire_times(3)  # doctest: +SKIP
    """

    name: str
    entrypoint: str
    params: Mapping[str, Any] = field(hash=False)
    executor: str | None
    schedule: str | None
    timezone: str
    triggers: tuple[Trigger, ...]
    source_digest: str | None
    enabled: bool
    version: int
    created_at: int
    updated_at: int
    updated_by: str | None
    webhook_token: str | None = field(default=None, repr=False, compare=False)
    warnings: tuple[str, ...] = field(default=(), compare=False)
    changed: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_row(cls, row: Any) -> Registration:
        """A registration from a ``registered_pipelines`` row."""
        data = row._mapping
        return cls(
            name=data["name"],
            entrypoint=data["entrypoint"],
            params=dict(data["params"] or {}),
            executor=data["executor"],
            schedule=data["schedule"],
            timezone=data["timezone"],
            triggers=tuple(trigger_from_dict(t) for t in data["triggers"] or ()),
            source_digest=data["source_digest"],
            enabled=bool(data["enabled"]),
            version=int(data["version"]),
            created_at=int(data["created_at"]),
            updated_at=int(data["updated_at"]),
            updated_by=data["updated_by"],
        )

    def with_result(
        self, *, webhook_token: str | None, warnings: tuple[str, ...], changed: tuple[str, ...]
    ) -> Registration:
        return dataclasses.replace(
            self, webhook_token=webhook_token, warnings=warnings, changed=changed
        )

    def next_fire_times(self, count: int = 5, *, after: datetime | None = None) -> list[datetime]:
        """When the schedule fires next (see :func:`loopml.pipelines.schedules.next_fire_times`)."""
        from loopml.pipelines.schedules import next_fire_times

        return next_fire_times(self, count, after=after)

    def to_dict(self) -> dict[str, Any]:
        """The stored registration as JSON (without the token, warnings and changes)."""
        return {
            "name": self.name,
            "entrypoint": self.entrypoint,
            "params": dict(self.params),
            "executor": self.executor,
            "schedule": self.schedule,
            "timezone": self.timezone,
            "triggers": [t.to_dict() for t in self.triggers],
            "source_digest": self.source_digest,
            "enabled": self.enabled,
            "version": self.version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
        }


def load_target(target: Any) -> tuple[Pipeline[Any, Any], str]:
    """The pipeline ``target`` names and the entrypoint to store (file paths made absolute)."""
    from loopml.pipelines._entrypoints import load_pipeline
    from loopml.pipelines.pipeline import Pipeline

    if isinstance(target, Pipeline):
        if target.entrypoint is None:
            raise InvalidInputError(
                f"pipeline '{target.name}' was defined inside a function, so it cannot be "
                "imported again when it fires; define it at module level and register it, "
                "or register 'package.module:name' or 'path/to/file.py:name'"
            )
        return target, target.entrypoint
    if not isinstance(target, str):
        raise InvalidInputError(
            "register a pipeline as 'package.module:name', 'path/to/file.py:name' or a "
            f"@loopml.pipeline object; got {target!r}"
        )
    pipeline: Pipeline[Any, Any] = load_pipeline(target)
    location, _, attribute = target.rpartition(":")
    if location.endswith(".py") or "/" in location:
        location = str(Path(location).expanduser().absolute())
    return pipeline, f"{location}:{attribute}"


def check_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """``params`` as a dict, if every value is JSON (they are stored as JSON)."""
    values = dict(params or {})
    bad = sorted(k for k, v in values.items() if not is_json_value({str(k): v}))
    if bad:
        raise InvalidInputError(
            f"params {', '.join(map(str, bad))} are not JSON values (numbers, strings, "
            "booleans, lists, dicts with str keys); registered params are stored as JSON"
        )
    return values


def check_executor(url: str | None) -> str | None:
    """``url`` if it names a kind of executor (it is not opened here)."""
    if url is None:
        return None
    if not _EXECUTOR.match(url.strip()):
        raise InvalidInputError(
            f"unknown executor {url!r}; use one of: local, process[://N], dask://[host:port], "
            "ray[://host:port], or py:package.module.Class"
        )
    return url.strip()


def trace(pipeline: Pipeline[Any, Any], params: dict[str, Any]) -> Graph:
    """The pipeline's graph with ``params``; a failure of the user's code is invalid input."""
    try:
        return pipeline.trace(params)
    except LoopmlError:
        raise
    except Exception as err:
        raise InvalidInputError(
            f"pipeline '{pipeline.name}' fails to build its graph with params {params}: "
            f"{type(err).__name__}: {err}; fix the pipeline function or the params"
        ) from err


def source_files(pipeline: Pipeline[Any, Any], graph: Graph) -> list[Path]:
    """The pipeline function's file, then the files of its steps that are project code."""
    functions = [pipeline.fn]
    functions += [
        n.step.fn for n in graph.nodes.values() if is_project_module(n.step.fn.__module__)
    ]
    files: list[Path] = []
    for function in functions:
        try:
            name = inspect.getsourcefile(inspect.unwrap(function))
        except TypeError:  # a builtin: no file
            continue
        if name and Path(name).resolve() not in files:
            files.append(Path(name).resolve())
    return files


def source_digest_of(pipeline: Pipeline[Any, Any], graph: Graph) -> str:
    """SHA-256 of the pipeline function's source and each step's code identity."""
    steps: dict[str, Any] = {}
    for node in graph.nodes.values():
        key = f"{node.step.fn.__module__}.{node.step.__qualname__}"
        if key not in steps:
            identity = code_identity(node.step)
            steps[key] = {
                "source": identity.source,
                "helpers": identity.helpers,
                "constants": identity.constants,
            }
    return digest_of({"pipeline": source_digest(pipeline.fn), "steps": steps})
