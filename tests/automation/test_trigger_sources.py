"""The agent's other trigger sources: a commit that changes the pipeline's code, and a
watched dataset source that changed on disk (plain pipelines: no model policy)."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import loopml
from loopml.automation import Agent, AutomationClient
from loopml.config import Settings
from loopml.pipelines import on_dataset, on_git_change, register_pipeline

FLOW = textwrap.dedent(
    """
    import loopml


    @loopml.step
    def count(n: int) -> int:
        return n + OFFSET


    @loopml.pipeline
    def train(n: int = 1) -> None:
        count(n)


    OFFSET = 1
    """
)


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=repo, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings.load(home=tmp_path / "home")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "train.py").write_text(FLOW)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "first")
    return root.resolve()


def test_a_commit_that_changes_the_code_fires_once(sqlite_settings: Settings, repo: Path) -> None:
    register_pipeline(
        f"{repo}/flows/train.py:train", name="train", triggers=[on_git_change()],
        settings=sqlite_settings,
    )  # fmt: skip
    agent = Agent(sqlite_settings, run_monitors=False)
    assert agent.run_once().created == []

    (repo / "README.md").write_text("not watched\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "docs only")
    assert agent.run_once().created == []

    flow = repo / "flows" / "train.py"
    flow.write_text(flow.read_text().replace("OFFSET = 1", "OFFSET = 2"))
    assert agent.run_once().created == []  # not committed yet: git triggers read commits
    _git(repo, "commit", "-q", "-am", "offset 2")
    (plan_id,) = agent.run_once().created
    assert agent.run_once().created == []

    plan = AutomationClient(sqlite_settings).plan(plan_id)
    assert plan.trigger["kind"] == "git"
    assert plan.trigger["paths"] == ["flows/train.py"]
    assert (plan.model, plan.state) == (None, "done")  # no policy: the pipeline just runs
    assert plan.pipeline_run_id is not None
    # The agent ran the committed code (OFFSET = 2), not the module registering imported.
    from loopml.pipelines import PipelineRun
    from loopml.pipelines.history import get_run
    from loopml.store import open_store
    from loopml.tracking import TrackingClient

    info = get_run(open_store(sqlite_settings.db_url), plan.pipeline_run_id)
    assert PipelineRun(info, TrackingClient(sqlite_settings)).load("count") == 3


def test_a_watched_source_that_changed_is_logged_and_fires(
    sqlite_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOPML_HOME", str(sqlite_settings.home))
    monkeypatch.setenv("LOOPML_DB_URL", sqlite_settings.db_url)
    monkeypatch.setenv("LOOPML_ARTIFACTS", sqlite_settings.artifacts_url)
    flows = tmp_path / "flows.py"
    flows.write_text(FLOW)
    export = tmp_path / "export.csv"
    pd.DataFrame({"x": [1, 2, 3]}).to_csv(export, index=False)
    loopml.log_dataset("export", export)
    register_pipeline(
        f"{flows}:train", name="train", triggers=[on_dataset("export", watch_source=True)],
        settings=sqlite_settings,
    )  # fmt: skip
    agent = Agent(sqlite_settings, run_monitors=False)
    quiet = agent.run_once()
    assert (quiet.ingested, quiet.created) == ([], [])

    pd.DataFrame({"x": [1, 2, 3, 4]}).to_csv(export, index=False)
    report = agent.run_once()

    assert report.ingested == ["export"]
    (plan_id,) = report.created
    plan = AutomationClient(sqlite_settings).plan(plan_id)
    assert (plan.trigger["kind"], plan.trigger["version"]) == ("dataset", 2)
    assert plan.state == "done"
    assert agent.run_once().ingested == []  # the source is the latest version now
