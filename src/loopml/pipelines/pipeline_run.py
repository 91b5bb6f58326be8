"""The result of a pipeline run: its status, its steps, and a way to load their outputs.

Example:
    >>> run = training.run({"alpha": 0.1})  # doctest: +SKIP
    >>> run.status, run.steps["train"].status  # doctest: +SKIP
    ('finished', <StepStatus.COMPLETED: 'completed'>)
    >>> model = run.load("train")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from loopml.errors import InvalidInputError, NotFoundError
from loopml.pipelines._task import load_ref
from loopml.pipelines.models import PipelineRunInfo
from loopml.tracking.client import TrackingClient

__all__ = ["PipelineRun"]


class PipelineRun:
    """A finished pipeline run: its status, its steps, and its outputs to load.

    Example:
        >>> run.steps["train"].status  # doctest: +SKIP
        <StepStatus.COMPLETED: 'completed'>
        >>> model = run.load("train")  # doctest: +SKIP
    """

    def __init__(self, info: PipelineRunInfo, client: TrackingClient) -> None:
        self.info = info
        self.client = client

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def status(self) -> str:
        return self.info.status

    @property
    def steps(self) -> dict[str, Any]:
        return self.info.steps

    def load(self, node: str, output: str | None = None) -> Any:
        """The value of ``output`` (default: the only one) of step ``node``."""
        step = self.info.steps.get(node)
        if step is None:
            raise NotFoundError("step", node, choices=list(self.info.steps))
        if not step.status.done:
            raise InvalidInputError(f"step '{node}' is {step.status.value}; it has no outputs")
        if output is None:
            if len(step.outputs) != 1:
                raise InvalidInputError(
                    f"step '{node}' has outputs {sorted(step.outputs)}; name the one to load"
                )
            output = next(iter(step.outputs))
        if output not in step.outputs:
            raise InvalidInputError(
                f"step '{node}' has no output '{output}'; it has {sorted(step.outputs)}"
            )
        return load_ref(step.outputs[output], self.client.run_artifacts.artifact_store)

    def __repr__(self) -> str:
        return (
            f"PipelineRun(id={self.id!r}, pipeline={self.info.pipeline!r}, status={self.status!r})"
        )

    def _repr_html_(self) -> str:
        """A compact table for notebooks: the run and one line per step."""
        return self.info._repr_html_()
