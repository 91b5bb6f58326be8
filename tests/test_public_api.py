"""The public face stays small, stable and light to import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import loopml

EXPECTED = {
    "RegistryClient",
    "evaluate",
    "load_model",
    "log_model",
    "register_model",
    "ActiveRun",
    "Pipeline",
    "PipelineRun",
    "Step",
    "dataset",
    "pipeline",
    "step",
    "tune",
    "when",
    "Entity",
    "Experiment",
    "Feature",
    "FeatureStore",
    "FeatureView",
    "LoopmlError",
    "Metric",
    "MonitorClient",
    "Run",
    "RunInput",
    "RunStatus",
    "Settings",
    "TrackingClient",
    "__version__",
    "active_run",
    "autolog",
    "configure",
    "end_run",
    "get_metric_history",
    "get_run",
    "load_dataset",
    "log_artifact",
    "log_artifacts",
    "log_dataset",
    "log_dict",
    "log_feedback",
    "log_figure",
    "log_image",
    "log_input",
    "log_table",
    "load_table",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "on_demand_feature_view",
    "predict_batch",
    "read_predictions",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_tag",
    "set_tags",
    "start_run",
}
HEAVY = {
    "sqlalchemy",
    "pandas",
    "numpy",
    "sklearn",
    "alembic",
    "typer",
    "rich",
    "psycopg",
    "s3fs",
    "fsspec",
    "torch",
    "skops",
    "plotly",
    "jinja2",
}


def test_exported_members() -> None:
    assert set(loopml.__all__) == EXPECTED
    for name in loopml.__all__:
        assert getattr(loopml, name) is not None


def test_import_loopml_loads_nothing_heavy() -> None:
    code = "import sys, json, loopml; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in json.loads(out.stdout)}
    assert not (loaded & HEAVY), f"import loopml pulled in {sorted(loaded & HEAVY)}"


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        loopml.no_such_thing  # noqa: B018


def test_the_three_lists_of_public_names_agree() -> None:
    """``_EXPORTS`` (the lazy map), ``__all__`` and the ``TYPE_CHECKING`` imports of
    loopml/__init__.py name the same objects from the same modules: a name added to one
    and not the others would be missing from type checkers, ``dir()`` or at run time."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(loopml.__file__).read_text(encoding="utf-8"))
    guarded = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    typed = {
        alias.asname or alias.name: node.module
        for node in guarded.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert typed == loopml._EXPORTS
    assert set(loopml.__all__) == {*loopml._EXPORTS, "__version__"}
    assert len(loopml.__all__) == len(set(loopml.__all__))
