"""loopml: the machine-learning lifecycle as one closed loop.

The public face is small and lazy: ``import loopml`` loads no database driver,
no pandas and no scikit-learn; each name is imported on first use.

Example:
    >>> import loopml
    >>> with loopml.start_run(experiment="iris") as run:  # doctest: +SKIP
    ...     loopml.log_param("model", "rf")
    ...     loopml.log_metric("acc", 0.96)
    >>> loopml.search_runs("iris", filter="metrics.acc > 0.9")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopml._lazy import lazy_getattr

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # tracking, fluent
    "start_run": "loopml.tracking.fluent",
    "end_run": "loopml.tracking.fluent",
    "active_run": "loopml.tracking.fluent",
    "configure": "loopml.tracking.fluent",
    "log_param": "loopml.tracking.fluent",
    "log_params": "loopml.tracking.fluent",
    "log_metric": "loopml.tracking.fluent",
    "log_metrics": "loopml.tracking.fluent",
    "set_tag": "loopml.tracking.fluent",
    "set_tags": "loopml.tracking.fluent",
    "log_artifact": "loopml.tracking.fluent",
    "log_artifacts": "loopml.tracking.fluent",
    "log_text": "loopml.tracking.fluent",
    "log_dict": "loopml.tracking.fluent",
    "log_figure": "loopml.tracking.fluent",
    "log_image": "loopml.tracking.fluent",
    "log_table": "loopml.tracking.fluent",
    "load_table": "loopml.tracking.fluent",
    "search_runs": "loopml.tracking.fluent",
    "set_experiment": "loopml.tracking.fluent",
    "set_experiment_tag": "loopml.tracking.fluent",
    "set_experiment_tags": "loopml.tracking.fluent",
    "search_experiments": "loopml.tracking.fluent",
    "get_run": "loopml.tracking.fluent",
    "get_metric_history": "loopml.tracking.fluent",
    "autolog": "loopml.tracking.autolog",
    "log_model": "loopml._sdk.models",
    # registry and evaluation
    "load_model": "loopml.registry.loading",
    "register_model": "loopml._sdk.models",
    "RegistryClient": "loopml._sdk.models",
    "evaluate": "loopml.evaluation",
    "predict_batch": "loopml._sdk.batch",
    # data
    "log_dataset": "loopml._sdk.data",
    "load_dataset": "loopml._sdk.data",
    "log_input": "loopml._sdk.data",
    # features
    "FeatureStore": "loopml.features",
    "Entity": "loopml.features",
    "Feature": "loopml.features",
    "FeatureView": "loopml.features",
    "on_demand_feature_view": "loopml.features",
    # monitoring
    "read_predictions": "loopml.monitoring.reader",
    "log_feedback": "loopml.monitoring.feedback",
    "MonitorClient": "loopml.monitoring.monitors",
    # tracking, objects
    "step": "loopml.pipelines.step",
    "pipeline": "loopml.pipelines.pipeline",
    "when": "loopml.pipelines",
    "dataset": "loopml.pipelines",
    "Step": "loopml.pipelines",
    "Pipeline": "loopml.pipelines",
    "PipelineRun": "loopml.pipelines",
    "tune": "loopml.pipelines.tune",
    "TrackingClient": "loopml.tracking.client",
    "ActiveRun": "loopml.tracking.fluent",
    "Run": "loopml.tracking.models",
    "RunInput": "loopml.tracking.models",
    "RunStatus": "loopml.tracking.models",
    "Experiment": "loopml.tracking.models",
    "Metric": "loopml.tracking.models",
    # basics
    "Settings": "loopml.config",
    "LoopmlError": "loopml.errors",
}

__all__ = [
    "ActiveRun",
    "Entity",
    "Experiment",
    "Feature",
    "FeatureStore",
    "FeatureView",
    "LoopmlError",
    "Metric",
    "MonitorClient",
    "Pipeline",
    "PipelineRun",
    "RegistryClient",
    "Run",
    "RunInput",
    "RunStatus",
    "Settings",
    "Step",
    "TrackingClient",
    "__version__",
    "active_run",
    "autolog",
    "configure",
    "dataset",
    "end_run",
    "evaluate",
    "get_metric_history",
    "get_run",
    "load_dataset",
    "load_model",
    "load_table",
    "log_artifact",
    "log_artifacts",
    "log_dataset",
    "log_dict",
    "log_feedback",
    "log_figure",
    "log_image",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "on_demand_feature_view",
    "pipeline",
    "predict_batch",
    "read_predictions",
    "register_model",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_tag",
    "set_tags",
    "start_run",
    "step",
    "tune",
    "when",
]

if TYPE_CHECKING:
    from loopml._sdk.batch import predict_batch
    from loopml._sdk.data import load_dataset, log_dataset, log_input
    from loopml._sdk.models import RegistryClient, log_model, register_model
    from loopml.config import Settings
    from loopml.errors import LoopmlError
    from loopml.evaluation import evaluate
    from loopml.features import (
        Entity,
        Feature,
        FeatureStore,
        FeatureView,
        on_demand_feature_view,
    )
    from loopml.monitoring.feedback import log_feedback
    from loopml.monitoring.monitors import MonitorClient
    from loopml.monitoring.reader import read_predictions
    from loopml.pipelines import Pipeline, PipelineRun, Step, dataset, when

    # From their own modules: the package's submodules of the same names must not shadow them.
    from loopml.pipelines.pipeline import pipeline
    from loopml.pipelines.step import step
    from loopml.pipelines.tune import tune
    from loopml.registry.loading import load_model
    from loopml.tracking.autolog import autolog
    from loopml.tracking.client import TrackingClient
    from loopml.tracking.fluent import (
        ActiveRun,
        active_run,
        configure,
        end_run,
        get_metric_history,
        get_run,
        load_table,
        log_artifact,
        log_artifacts,
        log_dict,
        log_figure,
        log_image,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        log_table,
        log_text,
        search_experiments,
        search_runs,
        set_experiment,
        set_experiment_tag,
        set_experiment_tags,
        set_tag,
        set_tags,
        start_run,
    )
    from loopml.tracking.models import Experiment, Metric, Run, RunInput, RunStatus


__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return __all__
