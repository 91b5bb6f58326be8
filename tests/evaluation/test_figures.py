"""evaluate() draws MLflow's pictures, stores them with the evaluation and renders them offline."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import LinearSVC

from loopml.config import Settings
from loopml.evaluation import evaluate
from loopml.registry.client import RegistryClient

from .conftest import Cancer, Register

QUICK = {"infra_check": False}
SCRIPT_SRC = re.compile(r"<script[^>]*\bsrc\s*=", re.IGNORECASE)
CLASSIFICATION = {
    "roc_curve",
    "precision_recall_curve",
    "calibration_curve",
    "confusion_matrix",
    "slices",
}


def _names(figure: dict[str, object]) -> list[str]:
    return [str(trace.get("name")) for trace in figure["data"]]  # type: ignore[attr-defined]


def test_classification_figures_overlay_the_champion_and_are_stored(
    settings: Settings, registry: RegistryClient, register: Register, cancer: Cancer
) -> None:
    weak = LogisticRegression(max_iter=5000).fit(cancer.train[["mean smoothness"]], cancer.y)
    first = register(weak, cancer.X.head(5)[["mean smoothness"]])
    registry.set_alias("cancer", "staging", first.version)
    model = LogisticRegression(max_iter=5000).fit(cancer.X, cancer.y)
    second = register(model, cancer.X.head(5))

    result = evaluate(
        second.uri,
        cancer.holdout,
        "target",
        slices=["group"],
        champion="staging",
        settings=settings,
        **QUICK,
    )

    assert set(result.figures) == CLASSIFICATION
    specs = {name: json.loads(figure.to_json()) for name, figure in result.figures.items()}
    roc = _names(specs["roc_curve"])
    assert roc[0].startswith("candidate v2 (AUC ")
    assert roc[1].startswith("champion v1 (AUC ")
    assert roc[2] == "chance"
    auc = float(roc[0].split("AUC ")[1].rstrip(")"))
    assert auc == pytest.approx(result.metrics["roc_auc"], abs=1e-3)
    assert [t["type"] for t in specs["precision_recall_curve"]["data"]] == ["scatter"] * 2
    assert _names(specs["calibration_curve"])[:2] == ["candidate v2", "champion v1"]
    matrix = specs["confusion_matrix"]["data"][0]
    assert matrix["type"] == "heatmap"
    assert int(np.sum(matrix["z"])) == len(cancer.holdout)
    bars = specs["slices"]["data"]
    assert [bar["name"] for bar in bars] == ["candidate v2", "champion v1"]
    assert list(bars[0]["x"]) == ["group=a", "group=b"]
    assert bars[0]["y"][0] == pytest.approx(result.slices["group"]["a"]["f1"])

    stored = registry.get_evaluation(result.id)
    assert set(stored["figures"]) == CLASSIFICATION
    assert result.to_dict()["figures"] == sorted(CLASSIFICATION)


def test_stored_figures_read_back_from_a_new_process(
    settings: Settings, register: Register, cancer: Cancer
) -> None:
    version = register(LogisticRegression(max_iter=5000).fit(cancer.X, cancer.y), cancer.X.head(5))
    result = evaluate(version.uri, cancer.holdout, "target", settings=settings, **QUICK)
    code = (
        "import json, sys\n"
        "from loopml.registry.client import RegistryClient\n"
        "figures = RegistryClient().evaluation_figures(sys.argv[1])\n"
        "print(json.dumps({n: [t['type'] for t in f['data']] for n, f in figures.items()}))\n"
    )
    env = {
        **os.environ,
        "LOOPML_HOME": str(settings.home),
        "LOOPML_DB_URL": settings.db_url,
        "LOOPML_ARTIFACTS": settings.artifacts_url,
    }
    out = subprocess.run(
        [sys.executable, "-c", code, result.id], env=env, capture_output=True, text=True, check=True
    )
    traces = json.loads(out.stdout)
    assert traces["roc_curve"] == ["scatter", "scatter"]  # the candidate and the diagonal
    assert traces["confusion_matrix"] == ["heatmap"]
    assert set(traces) == CLASSIFICATION - {"slices"}


def test_regression_draws_residuals(settings: Settings, register: Register) -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = LinearRegression().fit(X.iloc[:300], y.iloc[:300])
    version = register(model, X.head(5), name="diabetes")
    holdout = X.iloc[300:].assign(progression=y.iloc[300:])

    result = evaluate(
        version.uri, holdout, "progression", task="regression", settings=settings, **QUICK
    )

    assert set(result.figures) == {"residuals", "residual_histogram"}
    scatter = result.figures["residuals"].data[0]
    assert scatter.type == "scattergl"
    residual = holdout["progression"].to_numpy() - model.predict(X.iloc[300:])
    assert np.allclose(scatter.y, residual)
    histogram = json.loads(result.figures["residual_histogram"].to_json())["data"][0]
    assert histogram["type"] == "histogram"


def test_without_probabilities_only_the_confusion_matrix_and_the_notes_are_stored(
    settings: Settings, registry: RegistryClient, register: Register, cancer: Cancer
) -> None:
    version = register(LinearSVC().fit(cancer.X, cancer.y), cancer.X.head(5))
    result = evaluate(version.uri, cancer.holdout, "target", settings=settings, **QUICK)
    assert set(result.figures) == {"confusion_matrix"}
    stored = registry.get_evaluation(result.id)
    assert stored["notes"] == result.notes
    assert any("need predict_proba" in note for note in stored["notes"])


def test_the_evaluation_report_is_self_contained(
    settings: Settings, register: Register, cancer: Cancer
) -> None:
    from loopml.render import plotly_js

    version = register(LogisticRegression(max_iter=5000).fit(cancer.X, cancer.y), cancer.X.head(5))
    result = evaluate(
        version.uri, cancer.holdout, "target", slices=["group"], settings=settings, **QUICK
    )
    page = result.to_html()
    assert page.count(plotly_js()[:300]) == 1
    assert not SCRIPT_SRC.search(page)
    for name in CLASSIFICATION:
        assert f'id="fig-{name}"' in page
    assert "Slice by <code>group</code>" in page

    from loopml.registry.card import model_card

    card = model_card(RegistryClient(settings), "cancer", version.version).html
    for name in CLASSIFICATION:
        assert f'id="fig-{result.id}-{name}"' in card


def test_gc_keeps_the_stored_figures(
    settings: Settings, registry: RegistryClient, register: Register, cancer: Cancer
) -> None:
    from loopml.tracking.run_artifacts import collect_garbage

    version = register(LogisticRegression(max_iter=5000).fit(cancer.X, cancer.y), cancer.X.head(5))
    result = evaluate(version.uri, cancer.holdout, "target", settings=settings, **QUICK)
    collect_garbage(registry.store, registry.artifact_store, grace_seconds=0)
    figures = registry.evaluation_figures(result.id)
    assert set(figures) == CLASSIFICATION - {"slices"}
