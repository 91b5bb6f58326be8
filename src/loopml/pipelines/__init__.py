"""Pipelines: steps in a DAG, tracked, cached by content, run on any executor.

Example:
    >>> import loopml
    >>> @loopml.step
    ... def square(x: int) -> int:
    ...     return x * x
    >>> @loopml.pipeline
    ... def squares(n: int = 3) -> None:
    ...     square.map(x=list(range(n)))
    >>> run = squares.run()  # doctest: +SKIP
"""

from loopml.pipelines.graph import dataset, when
from loopml.pipelines.materializers import Materializer, register_materializer
from loopml.pipelines.models import (
    OutputRef,
    PipelineRunInfo,
    StepEvent,
    StepOptions,
    StepRunInfo,
    StepStatus,
)
from loopml.pipelines.pipeline import Pipeline, pipeline, resume
from loopml.pipelines.runner import PipelineRun
from loopml.pipelines.step import Step, step

__all__ = [
    "Materializer",
    "OutputRef",
    "Pipeline",
    "PipelineRun",
    "PipelineRunInfo",
    "Step",
    "StepEvent",
    "StepOptions",
    "StepRunInfo",
    "StepStatus",
    "dataset",
    "pipeline",
    "register_materializer",
    "resume",
    "step",
    "when",
]
