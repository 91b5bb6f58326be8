"""Fixtures for the CLI tests: a private loopml home, a runner bound to it, and real runs.

Every invocation passes ``--home`` explicitly, so the tests do not depend on the
``LOOPML_HOME`` that the repository-wide fixture sets.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from loopml.cli import app
from loopml.config import Settings
from loopml.tracking import TrackingClient


@dataclass(frozen=True)
class Cli:
    """Runs ``loopml --home <home> …`` in-process through Typer's test runner."""

    home: Path

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """The result of one invocation, whatever its exit code."""
        return CliRunner().invoke(app, ["--home", str(self.home), *args], env=env)

    def json(self, *args: str) -> Any:
        """Run with ``--json`` appended; assert success and parse stdout."""
        result = self.run(*args, "--json")
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return json.loads(result.stdout)


@dataclass(frozen=True)
class Runs:
    """Three finished runs of experiment ``churn`` and one of ``iris``, oldest first."""

    rf: str
    gbm: str
    rf_deep: str
    iris: str


MakeRun = Callable[..., str]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The loopml home of this test (loopml creates it on first use)."""
    return tmp_path / "home"


@pytest.fixture
def cli(home: Path) -> Cli:
    return Cli(home)


@pytest.fixture
def client(home: Path) -> Iterator[TrackingClient]:
    """A tracking client on the same home, to create real runs."""
    tracking = TrackingClient(Settings.load(home=home), capture_env=False)
    yield tracking
    tracking.close()


@pytest.fixture
def make_run(client: TrackingClient) -> MakeRun:
    """Create and finish a run with params, metrics and tags; returns its id."""

    def make(
        experiment: str,
        name: str,
        params: dict[str, Any] | None = None,
        metrics: dict[str, float] | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        run = client.create_run(experiment, name=name, tags=tags)
        client.log_params(run.id, params or {})
        client.log_metrics(run.id, metrics or {})
        client.end_run(run.id)
        client.flush()
        return run.id

    return make


@pytest.fixture
def runs(make_run: MakeRun) -> Runs:
    """The runs :class:`Runs` describes."""
    return Runs(
        rf=make_run(
            "churn",
            "rf-baseline",
            {"model": "rf", "depth": 5},
            {"auc": 0.81, "val_loss": 0.42},
            tags={"team": "growth", "loopml.source": "train.py"},
        ),
        gbm=make_run("churn", "gbm", {"model": "gbm", "depth": 5}, {"auc": 0.88, "val_loss": 0.47}),
        rf_deep=make_run(
            "churn", "rf-deep", {"model": "rf", "depth": 12}, {"auc": 0.85, "val_loss": 0.35}
        ),
        iris=make_run("iris", "svm", {"model": "svm"}, {"acc": 0.97}),
    )
