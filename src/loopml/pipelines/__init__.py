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

from loopml.pipelines._entrypoints import load_pipeline
from loopml.pipelines._params import load_config, parse_param_pairs, text_parameters
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
from loopml.pipelines.pipeline_run import PipelineRun
from loopml.pipelines.schedules import (
    Registration,
    get_registration,
    list_registrations,
    next_fire_times,
    register_pipeline,
    set_enabled,
    unregister,
)
from loopml.pipelines.step import Step, step
from loopml.pipelines.triggers import (
    DatasetTrigger,
    GitTrigger,
    Trigger,
    WebhookTrigger,
    on_dataset,
    on_git_change,
    on_webhook,
)

__all__ = [
    "DatasetTrigger",
    "GitTrigger",
    "Materializer",
    "OutputRef",
    "Pipeline",
    "PipelineRun",
    "PipelineRunInfo",
    "Registration",
    "Step",
    "StepEvent",
    "StepOptions",
    "StepRunInfo",
    "StepStatus",
    "Trigger",
    "WebhookTrigger",
    "dataset",
    "get_registration",
    "list_registrations",
    "load_config",
    "load_pipeline",
    "next_fire_times",
    "on_dataset",
    "on_git_change",
    "on_webhook",
    "parse_param_pairs",
    "pipeline",
    "register_materializer",
    "register_pipeline",
    "resume",
    "set_enabled",
    "step",
    "text_parameters",
    "unregister",
    "when",
]
