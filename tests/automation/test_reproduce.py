"""``loopml reproduce``: a version made by a real pipeline, in a real git repository, re-run.

The original runs are made by ``loopml pipeline run`` in a child process started in the
repository, as a user would: a run records the git state of the process's working
directory, and this test process has none of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sklearn.datasets import load_breast_cancer
from typer.testing import CliRunner

import loopml
from loopml.automation.reproduce import REPRODUCES_TAG, reproduce
from loopml.cli.app import app
from loopml.config import Settings
from loopml.errors import InvalidInputError, NotFoundError
from loopml.pipelines import records
from loopml.store import open_store
from loopml.store.lineage import edges_of
from loopml.tracking import TrackingClient

SRC = Path(loopml.__file__).resolve().parent.parent

PIPELINE = """
import random

import loopml
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss


@loopml.step(outputs=("train", "test"))
def split(data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    cut = int(len(data) * 0.7)
    return data.iloc[:cut], data.iloc[cut:]


@loopml.step
def train(train: pd.DataFrame, test: pd.DataFrame, c: float, seed: int) -> float:
    x, y = train.drop(columns="target"), train["target"]
    # A negative seed means none: the rows are shuffled at random, so the results of such
    # a run cannot be reproduced.
    order = random.Random(seed if seed >= 0 else None).sample(range(len(x)), len(x))
    model = LogisticRegression(C=c, max_iter=2000, solver="sag", random_state=0, tol=1e-2)
    model.fit(x.iloc[order], y.iloc[order])
    xt, yt = test.drop(columns="target"), test["target"]
    loopml.log_metric("accuracy", accuracy_score(yt, model.predict(xt)))
    loopml.log_metric("log_loss", log_loss(yt, model.predict_proba(xt)))
    loopml.log_model(model, "model", input_example=xt.head(3), register_as="churn")
    return float(model.score(xt, yt))


@loopml.pipeline
def training(c: float = 1.0, seed: int = 0) -> None:
    train_set, test_set = split(loopml.dataset("patients"))
    train(train_set, test_set, c=c, seed=seed)
"""


# The clean-virtualenv test's pipeline needs nothing beyond loopml's own dependencies and
# numpy: `make test` runs with loopback only, so the virtualenv is built from the machine's
# local package index, which holds loopml's dependencies (not skops, scikit-learn's flavor).
PIPELINE_NUMPY = """
import loopml
import numpy as np
import pandas as pd


class Linear:
    \"\"\"A least-squares linear classifier, kept as JSON (the pyfunc flavor).\"\"\"

    def __init__(self, weights, columns):
        self.weights, self.columns = weights, columns

    def predict(self, data):
        x = np.asarray(pd.DataFrame(data)[self.columns], dtype=float)
        return (np.c_[x, np.ones(len(x))] @ np.asarray(self.weights) > 0.5).astype(int)


@loopml.step(outputs=("train", "test"))
def split(data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    cut = int(len(data) * 0.7)
    return data.iloc[:cut], data.iloc[cut:]


@loopml.step
def train(train: pd.DataFrame, test: pd.DataFrame, c: float, seed: int) -> float:
    columns = [c for c in train.columns if c != "target"]
    x = np.c_[np.asarray(train[columns], dtype=float), np.ones(len(train))]
    weights, *_ = np.linalg.lstsq(x, train["target"].to_numpy(dtype=float), rcond=None)
    model = Linear([float(w) for w in weights], columns)
    accuracy = float(np.mean(model.predict(test) == test["target"].to_numpy()))
    loopml.log_metric("accuracy", accuracy)
    loopml.log_model(model, "model", input_example=test[columns].head(3), register_as="churn")
    return accuracy


@loopml.pipeline
def training(c: float = 1.0, seed: int = 0) -> None:
    train_set, test_set = split(loopml.dataset("patients"))
    train(train_set, test_set, c=c, seed=seed)
"""


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=repo, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def _make_repo(root: Path, pipeline: str = PIPELINE) -> Path:
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "train.py").write_text(pipeline)
    (root / ".gitignore").write_text("__pycache__/\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "training pipeline")
    return root


def _run_pipeline(repo: Path, *params: str) -> str:
    """``loopml pipeline run`` in a child process started in the repository; the run id."""
    argv = [sys.executable, "-m", "loopml", "pipeline", "run", "flows/train.py:training",
            "--json", *(arg for p in params for arg in ("--param", p))]  # fmt: skip
    path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p)
    done = subprocess.run(
        argv, cwd=repo, env={**os.environ, "PYTHONPATH": path}, capture_output=True,
        text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["id"])


def _log_data(settings: Settings, rows: int | None = None, seed: int = 0) -> None:
    frame = load_breast_cancer(as_frame=True).frame
    if rows is not None:
        frame = frame.sample(n=rows, random_state=seed).reset_index(drop=True)
    from loopml.data import DatasetClient

    DatasetClient(settings).log("patients", frame)


@pytest.fixture
def store() -> Settings:
    return Settings.load()  # the private LOOPML_HOME every test gets


@pytest.fixture
def repo(tmp_path: Path, store: Settings) -> Path:
    _log_data(store)
    return _make_repo(tmp_path / "project")


def test_a_version_made_by_a_pipeline_is_reproduced(repo: Path, store: Settings) -> None:
    original = _run_pipeline(repo, "c=0.5")
    # A newer dataset version, made after the run: the re-run must still read version 1.
    _log_data(store, rows=120, seed=3)
    lines: list[str] = []

    report = reproduce("models:/churn/1", reuse_env=True, settings=store, progress=lines.append)

    assert report.matched, report.to_dict()
    assert report.original_run == original
    assert report.datasets == ["datasets:/patients/1"]
    assert report.commit == _git(repo, "rev-parse", "HEAD")
    assert {(m.step, m.metric) for m in report.metrics} == {
        ("train", "accuracy"),
        ("train", "log_loss"),
    }
    assert all(m.delta == 0.0 for m in report.metrics)
    # A new pipeline run, tagged, at the same commit, with every step executed again.
    tracking = TrackingClient(store)
    run = tracking.get_run(str(report.reproduced_run))
    assert report.reproduced_run != original
    assert run.tags[REPRODUCES_TAG] == "models:/churn/1"
    assert run.tags[f"{REPRODUCES_TAG}.run"] == original
    assert run.tags["loopml.git.commit"] == report.commit
    assert run.tags["loopml.git.dirty"] == "false"
    assert run.params == {"c": "0.5", "seed": "0"}
    # Its split step read version 1, the one the original read, not the latest (2).
    with open_store(store.db_url).read() as conn:
        split = records.get_pipeline_run(conn, run.id).steps["split"]
        assert split.status.value == "completed"  # run again, not taken from the cache
        edges = edges_of(conn, ("run", str(split.run_id)), "out")
        read = [e["dst_id"] for e in edges if e["dst_kind"] == "dataset_version"]
    assert read == ["patients/1"]
    assert report.environment_diff is not None
    assert report.environment_diff.commit == (report.commit, report.commit)
    # The pipeline registers what it trains: the re-run did too, and the report says so.
    assert report.registered == ["models:/churn/2"]
    assert any("registered models:/churn/2" in w for w in report.warnings)
    assert any(line.startswith("checking out") for line in lines)
    # The checkout is gone, and the user's repository has no worktree left behind.
    assert _git(repo, "worktree", "list").count("\n") == 0
    assert report.kept is None


def test_a_run_whose_randomness_was_not_seeded_differs_and_shows_the_diff(
    repo: Path, store: Settings
) -> None:
    _run_pipeline(repo, "seed=-1")
    (repo / "notes.txt").write_text("not committed\n")  # the repo is dirty now: not the run

    result = CliRunner().invoke(
        app, ["reproduce", "models:/churn/1", "--reuse-env", "--tolerance", "0"],
        env={"COLUMNS": "200"},
    )  # fmt: skip

    assert result.exit_code == 1, result.output
    assert "differs" in result.stdout
    assert "log_loss" in result.stdout
    assert "Environment" in result.stdout
    assert "commit" in result.stdout

    report = reproduce("models:/churn/1", reuse_env=True, tolerance=0, settings=store)
    assert report.status == "differs"
    assert not next(m for m in report.metrics if m.metric == "log_loss").ok


def test_json_output_and_exit_code_zero_when_metrics_match(repo: Path) -> None:
    _run_pipeline(repo)
    result = CliRunner().invoke(app, ["reproduce", "models:/churn/1", "--reuse-env", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["matched"] is True
    assert data["status"] == "matched"
    assert {m["metric"] for m in data["metrics"]} == {"accuracy", "log_loss"}


def test_a_version_from_a_plain_run_is_refused(store: Settings) -> None:
    from sklearn.tree import DecisionTreeClassifier

    frame = load_breast_cancer(as_frame=True).frame.head(100)
    model = DecisionTreeClassifier(max_depth=2).fit(frame.drop(columns="target"), frame["target"])
    with loopml.start_run():
        loopml.log_metric("accuracy", 1.0)
        loopml.log_model(model, "model", register_as="plain")

    with pytest.raises(InvalidInputError, match="only versions made by a loopml pipeline"):
        reproduce("models:/plain/1", reuse_env=True, settings=store)

    result = CliRunner().invoke(app, ["reproduce", "models:/plain/1", "--reuse-env"])
    assert result.exit_code == 2
    assert "not a step of a loopml pipeline run" in result.output


def test_a_missing_commit_or_repository_is_refused(repo: Path, store: Settings) -> None:
    _run_pipeline(repo)
    # History rewritten: the repository is there, the recorded commit is not.
    shutil.rmtree(repo / ".git")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "history rewritten")
    with pytest.raises(NotFoundError, match="does not hold it"):
        reproduce("models:/churn/1", reuse_env=True, settings=store)

    shutil.rmtree(repo)
    with pytest.raises(NotFoundError, match="no longer there"):
        reproduce("models:/churn/1", reuse_env=True, settings=store)


def test_keep_leaves_the_checkout_for_a_look(repo: Path, store: Settings) -> None:
    _run_pipeline(repo)
    report = reproduce("models:/churn/1", reuse_env=True, keep=True, settings=store)
    try:
        assert report.kept is not None
        assert (Path(report.kept) / "source" / "flows" / "train.py").read_text() == PIPELINE
    finally:
        _git(repo, "worktree", "remove", "--force", str(Path(str(report.kept)) / "source"))
        shutil.rmtree(str(report.kept), ignore_errors=True)


def test_a_bad_tolerance_is_refused(store: Settings) -> None:
    with pytest.raises(InvalidInputError, match="tolerance"):
        reproduce("models:/churn/1", tolerance=-1, settings=store)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_clean_virtualenv_is_built_from_the_pins(
    tmp_path: Path, store: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one test that builds a real virtualenv (pip from the package index).

    `make test` runs with loopback only: pip takes the pinned versions from the wheelhouse
    `make venv` fills from pip's cache (`.venv/wheelhouse`), as it would from an index.
    """
    wheelhouse = Path(sys.prefix) / "wheelhouse"
    if wheelhouse.is_dir():  # else: pip reaches the index itself
        monkeypatch.setenv("PIP_FIND_LINKS", str(wheelhouse))
        monkeypatch.setenv("PIP_NO_INDEX", "1")
    _log_data(store)
    repo = _make_repo(tmp_path / "numpy-project", PIPELINE_NUMPY)
    _run_pipeline(repo)
    lines: list[str] = []
    started = time.monotonic()
    report = reproduce("models:/churn/1", settings=store, progress=lines.append)
    seconds = time.monotonic() - started
    print(f"reproduce in a clean virtualenv took {seconds:.0f} s")
    assert report.matched, report.to_dict()
    assert report.environment == "virtualenv"
    assert any(line.startswith("pip install") for line in lines)
    # The re-run recorded its own interpreter: the virtualenv's, not this one.
    command = (
        TrackingClient(store).get_run(str(report.reproduced_run)).tags["loopml.source.command"]
    )
    assert "/venv/lib/" in command, command  # loopml ran from the virtualenv's site-packages
