"""Model cards over real SQLite and PostgreSQL stores: what they say, as Markdown and HTML."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loopml.config import Settings
from loopml.data import DatasetClient
from loopml.errors import NotFoundError
from loopml.packaging.package import save_package
from loopml.registry import _card_data
from loopml.registry.card import model_card
from loopml.registry.client import RegistryClient
from loopml.registry.models import PromotionPolicy
from loopml.store.lineage import add_edge
from loopml.tracking import TrackingClient

SIGNATURE = {
    "inputs": {
        "type": "dataframe",
        "columns": [{"name": "tenure", "type": "long"}, {"name": "spend|total", "type": "double"}],
    },
    "outputs": {"type": "tensor", "dtype": "int64", "shape": [-1]},
}
EXAMPLE = {
    "type": "dataframe",
    "columns": ["tenure", "spend|total"],
    "data": [[3, 9.5], [40, 1.25]],
}


def write_package(folder: Path, *, run_id: str) -> Path:
    """A package folder with a signature and an input example (the registry reads no model)."""
    folder.mkdir(parents=True)
    contents = {
        "model.skops": b"forest weights",
        "input_example.json": json.dumps(EXAMPLE).encode(),
        "requirements.txt": b"scikit-learn==1.9.1\nskops==0.16.0\n",
    }
    files = {}
    for name, data in contents.items():
        (folder / name).write_bytes(data)
        files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    manifest = {
        "format": 1,
        "flavor": "sklearn",
        "flavor_options": {"file": "model.skops"},
        "model_class": "sklearn.ensemble._forest.RandomForestClassifier",
        "signature": SIGNATURE,
        "input_example": "input_example.json",
        "requirements": ["scikit-learn==1.9.1", "skops==0.16.0"],
        "python_version": "3.11.7",
        "loopml_version": "0.1.0",
        "source_run": run_id,
        "created_at": 0,
        "predict_proba": True,
        "files": files,
    }
    (folder / "model.json").write_text(json.dumps(manifest))
    return folder


@dataclass(frozen=True)
class Trained:
    """A pipeline run whose ``train`` step logged the package; data reached it two ways."""

    pipeline: str
    prepare: str
    train: str
    uri: str


@pytest.fixture
def trained(settings: Settings, tracking: TrackingClient, tmp_path: Path) -> Trained:
    datasets = DatasetClient(settings)
    pipeline = tracking.create_run("churn", name="churn_training")
    prepare = tracking.create_run("churn", name="prepare", parent_run_id=pipeline.id)
    train = tracking.create_run(
        "churn", name="train", parent_run_id=pipeline.id, params={"n_estimators": 50}
    )
    # raw -> prepare -> (step output) -> train; the pipeline run itself read a lookup table.
    datasets.log("raw_events", pd.DataFrame({"a": [1, 2, 3]}), run_id=prepare.id)
    datasets.log("plans", pd.DataFrame({"plan": ["basic", "pro"]}), run_id=pipeline.id)
    with tracking.store.write() as conn:
        add_edge(conn, ("run", prepare.id), "produced", ("step_output", f"{prepare.id}/table"))
        add_edge(conn, ("run", train.id), "consumed", ("step_output", f"{prepare.id}/table"))
    tracking.log_metrics(train.id, {"train_accuracy": 0.91, "oob_score": float("nan")})
    folder = write_package(tmp_path / "package", run_id=train.id)
    tracking.log_artifacts(train.id, folder, "model")
    for run in (prepare, train, pipeline):
        tracking.end_run(run.id)
    tracking.flush()
    return Trained(pipeline.id, prepare.id, train.id, f"runs:/{train.id}/model")


def evaluation(version: int, *, passed: bool, champion: int | None = None) -> dict[str, object]:
    """A stored evaluation as loopml.evaluate writes it."""
    gates = [
        {"gate": "accuracy >= 0.8", "kind": "absolute", "passed": passed, "skipped": False,
         "reason": "accuracy 0.86 >= 0.8" if passed else "accuracy 0.74 < 0.8",
         "observed": 0.86, "threshold": 0.8},
        {"gate": "f1 >= champion - 0.01", "kind": "change", "passed": False, "skipped": True,
         "reason": "no champion: models:/churn@production does not exist",
         "observed": None, "threshold": None},
    ]  # fmt: skip
    return {
        "model_uri": f"models:/churn/{version}",
        "data": "datasets:/churn_holdout/1",
        "target": "churned",
        "task": "classification",
        "metrics": {"accuracy": 0.86, "f1": 0.8, "rows": 400.0},
        "slices": {"plan": {"basic": {"rows": 300.0, "accuracy": 0.9}, "pro": {"rows": 100.0}}},
        "champion": None
        if champion is None
        else {"uri": "models:/churn@production", "version": champion,
              "metrics": {"accuracy": 0.84, "f1": 0.82, "rows": 400.0}, "slices": {}},
        "gates": gates,
        "passed": passed,
    }  # fmt: skip


@pytest.fixture
def promoted(registry: RegistryClient, trained: Trained) -> RegistryClient:
    """churn/1 evaluated, approved by alice (ml-lead) and promoted; churn/2 replaced it."""
    registry.register(trained.uri, "churn", description="<b>first</b> forest", tags={"team": "a|b"})
    registry.set_policy(
        "churn", PromotionPolicy(gates=("accuracy >= 0.8",), require_approval=True,
                                 approver_role="ml-lead")
    )  # fmt: skip
    registry.save_evaluation(evaluation(1, passed=True))
    registry.grant_role("alice", "ml-lead")
    registry.approve("churn", 1, comment="slices look fine", actor="alice")
    registry.promote("churn", 1, reason="first model")
    registry.set_alias("churn", "staging", 1)
    registry.register(trained.uri, "churn")
    registry.save_evaluation(evaluation(2, passed=True, champion=1))
    registry.approve("churn", 2, comment="better f1", actor="alice")
    registry.promote("churn", 2, reason="beats v1")
    return registry


def test_the_card_describes_the_version_and_its_package(promoted: RegistryClient) -> None:
    text = model_card(promoted, "churn", 1).markdown
    assert text.startswith("# churn v1\n")
    assert "`models:/churn/1` · status **deployed** · aliases: `staging`" in text
    assert "<b>first</b> forest" in text  # the Markdown keeps it; the HTML escapes it
    assert "| version tags | team=a\\|b |" in text
    assert "| model class | `sklearn.ensemble._forest.RandomForestClassifier` |" in text
    assert "| predict_proba | yes |" in text
    assert "| python | 3.11.7 |" in text
    assert "| `tenure` | long |" in text
    assert "| `spend\\|total` | double |" in text
    assert "Outputs (a tensor; -1 is any size)" in text
    assert "| tenure | spend\\|total |\n| --- | --- |\n| 3 | 9.5 |\n| 40 | 1.25 |" in text
    assert "```text\nscikit-learn==1.9.1\nskops==0.16.0\n```" in text
    version = promoted.get_version("churn", 1)
    assert f"`sha256:{version.package_digest}`" in text
    for name in ("input_example.json", "model.json", "model.skops", "requirements.txt"):
        assert f"| `{name}` |" in text


def test_the_card_shows_the_source_run_and_the_data_upstream_of_it(
    promoted: RegistryClient, trained: Trained
) -> None:
    card = model_card(promoted, "churn", 1)
    text = card.markdown
    assert f"| run | `{trained.train}` (train) |" in text
    assert f"| pipeline run | `{trained.pipeline}` |" in text
    assert "| n_estimators | 50 |" in text
    assert "| train_accuracy | 0.91 |" in text
    assert "| oob_score | - |" in text  # NaN is shown as missing
    found = {(d.uri, d.via, d.distance) for d in card.data.datasets}
    assert found == {
        ("datasets:/raw_events/1", f"run {trained.prepare} (prepare)", 3),
        ("datasets:/plans/1", f"run {trained.pipeline} (churn_training)", 1),
    }
    assert (
        f"| `datasets:/raw_events/1` | dataset version | run {trained.prepare} (prepare) | 3 |"
        in text
    )


def test_the_card_shows_evaluations_approvals_and_alias_moves(promoted: RegistryClient) -> None:
    first = model_card(promoted, "churn", 1).markdown
    assert "on `datasets:/churn_holdout/1`: passed" in first
    assert "| ✔ passed | `accuracy >= 0.8` | accuracy 0.86 >= 0.8 |" in first
    skipped = "no champion: models:/churn@production does not exist"
    assert f"| skipped | `f1 >= champion - 0.01` | {skipped} |" in first
    assert "Slice by `plan`:" in first
    assert "| basic | 300 | 0.9 |" in first
    assert "| pro | 100 | - |" in first
    assert "| **approved** | alice | ml-lead | slices look fine |" in first
    moves = [line for line in first.splitlines() if " → " in line]
    assert [line.split(" | ")[2] for line in moves] == ["- → v1", "- → v1", "v1 → v2"]
    assert "first model" in moves[0]
    second = model_card(promoted, "churn", 2).markdown
    assert "Compared with the champion `models:/churn@production` on the same data" in second
    assert "| f1 | 0.8 | 0.82 | -0.02 ▼ |" in second
    assert "| accuracy | 0.86 | 0.84 | +0.02 ▲ |" in second


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self.cells: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [f"{k}={v}" for k, v in attrs]
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_the_html_card_is_one_self_contained_safe_page(promoted: RegistryClient) -> None:
    page = model_card(promoted, "churn", 1).html
    parsed = _Page()
    parsed.feed(page)
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Model card: churn v1</title>" in page
    assert {"style", "table", "h1", "h2", "code"} <= set(parsed.tags)
    assert not {"script", "link", "img", "iframe"} & set(parsed.tags)  # nothing to fetch or run
    assert not [a for a in parsed.attributes if "http" in a]
    assert "<b>" not in page
    assert "&lt;b&gt;first&lt;/b&gt; forest" in page
    assert "team=a|b" in parsed.cells  # the escaped pipe stays inside its cell
    assert "spend|total" in parsed.cells


def test_a_card_of_a_folder_package_with_an_array_example_has_no_run(
    registry: RegistryClient, tmp_path: Path
) -> None:
    from sklearn.linear_model import LinearRegression

    x = np.arange(12.0).reshape(6, 2)
    save_package(LinearRegression().fit(x, x.sum(axis=1)), tmp_path / "pkg", input_example=x)
    registry.register(tmp_path / "pkg", "prices")
    text = model_card(registry, "prices", 1).markdown
    assert "Inputs (a tensor; -1 is any size):" in text
    assert "| - | float64 | `[-1, 2]` |" in text
    assert "| predict_proba | no |" in text
    assert '### Input example\n\n```json\n{\n  "type": "ndarray"' in text
    assert "No run to show (registered from a folder)." in text
    assert "No dataset versions are linked to the source run." in text
    assert "Not evaluated yet" in text
    assert "No approvals or rejections." in text
    assert "No alias ever pointed at this version." in text


def test_a_card_of_a_missing_version_names_the_versions_there_are(
    promoted: RegistryClient,
) -> None:
    with pytest.raises(
        NotFoundError, match="model version 'churn/7' not found; versions of 'churn': 1"
    ):
        model_card(promoted, "churn", 7)


def test_the_walk_for_training_data_is_bounded(registry: RegistryClient) -> None:
    chain = [("run", f"r{i}") for i in range(_card_data.MAX_DEPTH + 3)]
    with registry.store.write() as conn:
        for newer, older in itertools.pairwise(chain):
            add_edge(conn, newer, "consumed", older)
        for i, node in enumerate(chain):
            add_edge(conn, node, "consumed", ("dataset_version", f"d/{i}"))
        for i in range(_card_data.MAX_NODES + 50):  # a very wide fan-in
            add_edge(conn, ("run", "wide"), "consumed", ("dataset_version", f"w/{i}"))
    with registry.store.read() as conn:
        deep = _card_data.upstream_data(conn, [chain[0]])
        wide = _card_data.upstream_data(conn, [("run", "wide")])
    assert max(d.distance for d in deep) == _card_data.MAX_DEPTH
    assert [d.key for d in deep if d.distance == 1] == ["d/0"]
    assert len(wide) < _card_data.MAX_NODES + 50


def test_the_card_draws_each_evaluations_stored_figures(promoted: RegistryClient) -> None:
    import re

    from loopml.render import plotly_js

    bars = {"data": [{"type": "bar", "x": ["a", "b"], "y": [0.9, 0.8]}], "layout": {}}
    curve = {"data": [{"type": "scatter", "x": [0, 1], "y": [0, 1]}], "layout": {}}
    record = {**evaluation(2, passed=True), "notes": ["roc_auc left out: one class"]}
    evaluation_id = promoted.save_evaluation(record, figures={"slices": bars, "roc_curve": curve})
    assert promoted.evaluation_figures(evaluation_id) == {"slices": bars, "roc_curve": curve}

    card = model_card(promoted, "churn", 2)

    assert f"[ROC curve](#fig-{evaluation_id}-roc_curve)" in card.markdown
    assert "- roc_auc left out: one class" in card.markdown
    page = card.html
    assert f'id="fig-{evaluation_id}-roc_curve"' in page
    assert f'id="fig-{evaluation_id}-slices"' in page
    assert page.count(plotly_js()[:300]) == 1  # inlined once, however many figures
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE)
    assert f'href="#fig-{evaluation_id}-roc_curve"' in page


def test_a_figure_name_that_is_a_path_is_refused(promoted: RegistryClient) -> None:
    from loopml.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match=r"figure name '\.\./x' is not allowed"):
        promoted.save_evaluation(evaluation(2, passed=True), figures={"../x": {"data": []}})
