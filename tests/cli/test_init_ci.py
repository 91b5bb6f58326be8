"""``loopml init --ci``: the workflow it writes, and its steps run in order in a scratch project.

The steps are taken from the written YAML (not from the Python list), and run with bash
and the workflow's own variables, so the template cannot rot: a command that stops working
fails here. The CI-only setup steps (checkout, Python, pip install) are not run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import loopml
from loopml.cli._ci_templates import CI_FILES, CI_STEPS, CI_VARIABLES
from loopml.config import Settings
from loopml.registry import RegistryClient

LOOPML = str(Path(sys.executable).parent / "loopml")

FLOWS = '''\
import loopml
from loopml.pipelines import dataset


def take_sample(rows, sample):
    """The first ``sample`` rows (all of them when 0): CI trains on a few."""
    return rows.head(sample) if sample else rows


@loopml.step
def fit(rows, sample: int = 0):
    from sklearn.ensemble import RandomForestClassifier

    rows = take_sample(rows, sample)
    features = rows[["x1", "x2"]]
    model = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0)
    model.fit(features, rows["churned"])
    return loopml.log_model(model, "model", input_example=features.head(3)).uri


@loopml.pipeline
def train(sample: int = 0):
    fit(dataset("churn_train"), sample=sample)
'''

UNIT_TEST = """\
import pandas as pd

from flows import take_sample


def test_take_sample():
    rows = pd.DataFrame({"x1": range(10)})
    assert len(take_sample(rows, 3)) == 3
    assert len(take_sample(rows, 0)) == 10
"""

CONFIG = "".join(
    f'[env.{env}]\ndb_url = "sqlite:///.loopml-{env}/loopml.db"\n'
    f'artifacts_url = ".loopml-{env}/artifacts"\n\n'
    for env in ("dev", "staging", "prod")
)


def _env() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("LOOPML_")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    source = str(Path(loopml.__file__).resolve().parents[1])  # this tree's loopml
    env["PYTHONPATH"] = os.pathsep.join(p for p in [source, env.get("PYTHONPATH", "")] if p)
    return env


def _bash(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", command],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _rows(rng: np.random.Generator, n: int) -> pd.DataFrame:
    frame = pd.DataFrame({"x1": rng.normal(0, 1, n), "x2": rng.normal(0, 1, n)})
    frame["churned"] = (frame["x1"] + frame["x2"] > 0).astype(int)
    return frame


def _project(root: Path) -> Path:
    """A scratch project: a pipeline, a unit test, staging data, its schema, a policy.

    What a team does once before the workflow's first run: data in staging, the schema
    inferred, and a first version registered so the staging policy can hold gates.
    """
    (root / "tests").mkdir(parents=True)
    (root / "flows.py").write_text(FLOWS)
    (root / "tests" / "test_flows.py").write_text(UNIT_TEST)
    (root / "loopml.toml").write_text(CONFIG)
    rng = np.random.default_rng(0)
    _rows(rng, 600).to_parquet(root / "train.parquet")
    _rows(rng, 200).to_parquet(root / "holdout.parquet")
    setup = """
        loopml --env staging data log churn_train train.parquet
        loopml --env staging data log churn_holdout holdout.parquet
        loopml --env staging data validate datasets:/churn_train@latest --schema schema.toml --infer
        uri=$(loopml --env staging pipeline run flows.py:train --load fit)
        loopml --env staging models register "$uri" churn
        loopml --env staging models policy set churn --gate "accuracy >= 0.999"
    """
    done = _bash(textwrap.dedent(setup), root, _env())
    assert done.returncode == 0, done.stderr
    return root


def _workflows(root: Path) -> dict[str, Any]:
    for flavour in ("github", "gitlab"):
        done = _bash(f"{LOOPML} init --ci {flavour}", root, _env())
        assert done.returncode == 0, done.stderr
    return {
        flavour: yaml.safe_load((root / path).read_text()) for flavour, path in CI_FILES.items()
    }


def _github_steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = workflow["jobs"]["loopml"]["steps"]
    return steps


def test_both_flavours_hold_the_same_steps_and_variables(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    github, gitlab = _workflows(root).values()

    variables = {variable.name: variable.value for variable in CI_VARIABLES}
    assert github["env"] == variables == gitlab["variables"]
    assert github[True] == {"push": None, "pull_request": None}  # YAML 1.1 reads `on` as True

    steps = _github_steps(github)
    assert [step["name"] for step in steps] == [step.name for step in CI_STEPS]
    assert [step.get("run") for step in steps] == [step.run for step in CI_STEPS]
    main_only = [step["name"] for step in steps if "refs/heads/main" in step.get("if", "")]
    assert main_only == ["Copy the version to prod", "Promote it in prod"]
    assert steps[1]["with"] == {"python-version": "3.11"}

    script = gitlab["loopml"]["script"]
    expected = [step.run for step in CI_STEPS if step.run is not None]
    assert len(script) == len(expected)
    for line, step in zip(script, [s for s in CI_STEPS if s.run is not None], strict=True):
        if step.main_only:
            assert line.startswith("if ["), line
            assert line.endswith(f"; then {step.run}; fi"), line
            assert '[ "$CI_COMMIT_BRANCH" = "main" ]' in line
        else:
            assert line == step.run
    assert gitlab["loopml"]["image"] == "python:3.11"


def test_an_existing_workflow_is_kept_unless_forced(tmp_path: Path) -> None:
    done = _bash(f"{LOOPML} init", tmp_path, _env())
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / ".github").exists()
    assert not (tmp_path / ".gitlab-ci.yml").exists()

    workflow = tmp_path / ".gitlab-ci.yml"
    workflow.write_text("# ours\n")
    refused = _bash(f"{LOOPML} init --ci gitlab", tmp_path, _env())
    assert refused.returncode == 1
    assert ".gitlab-ci.yml exists" in refused.stderr
    assert "--force" in refused.stderr
    assert workflow.read_text() == "# ours\n"

    forced = _bash(f"{LOOPML} init --ci gitlab --force", tmp_path, _env())
    assert forced.returncode == 0, forced.stderr
    assert "replaced" in forced.stdout
    assert "resource_group: loopml-environments" in workflow.read_text()

    wrong = _bash(f"{LOOPML} init --ci jenkins", tmp_path, _env())
    assert wrong.returncode == 2


def _run_steps(root: Path, workflow: dict[str, Any]) -> list[tuple[str, int, str]]:
    """Run the workflow's steps in order (main-branch ones too, CI-only setup not), as the
    runner would: bash, the workflow's variables in the environment; stop at a failure."""
    ci_only = {step.name for step in CI_STEPS if step.ci_only}
    env = {**_env(), **workflow["env"]}
    ran = []
    for step in _github_steps(workflow):
        if step["name"] in ci_only:
            continue
        done = _bash(step["run"], root, env)
        ran.append((step["name"], done.returncode, done.stdout + done.stderr))
        if done.returncode != 0:
            break
    return ran


def test_the_steps_gate_then_reach_prod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path / "project")
    monkeypatch.chdir(root)  # loopml.toml's relative paths are relative to where loopml runs
    github = _workflows(root)["github"]

    # The staging policy asks for more than the model can do: the job stops at the gate.
    ran = _run_steps(root, github)
    names = [name for name, _, _ in ran]
    assert names[-1] == "Evaluate it with the policy's gates", ran
    assert [code for _, code, _ in ran] == [0] * (len(ran) - 1) + [1], ran
    assert "is now rejected" in ran[-1][2]
    staging = RegistryClient(Settings.load(env="staging"))
    assert staging.get_version("churn", 2).status.value == "rejected"
    assert not (root / ".loopml-prod").exists()  # nothing reached prod

    # A policy the model meets: every step passes and prod serves the version.
    done = _bash(
        f'{LOOPML} --env staging models policy set churn --gate "accuracy >= 0.8"', root, _env()
    )
    assert done.returncode == 0, done.stderr
    ran = _run_steps(root, github)
    assert [(name, code) for name, code, _ in ran] == [
        (step.name, 0) for step in CI_STEPS if not step.ci_only
    ], ran
    assert (root / ".loopml-ci" / "version").read_text().strip() == "3"
    prod = RegistryClient(Settings.load(env="prod"))
    production = prod.resolve("models:/churn@production")
    assert production.version == 1
    assert production.tags["copied_from"] == "staging:models:/churn/3"
    assert production.status.value == "deployed"
